"""The named operations a client may ask the server to perform, and their validation.

This table is the whole attack surface of a session: there is no generic "set attribute
path" and nothing is ever evaluated or unpickled. Each operation validates the *shape*
and range of its arguments here, purely; semantic checks that need napari (does the
colormap exist, is the layer there) happen in the server, which answers with an error
message instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from napari_engine.protocol.errors import ErrorCode, ProtocolError

MAX_NDIM = 32
MAX_NAME = 256
MAX_ENUM = 64
#: dtypes a client may send as raw array data, with their item size in bytes.
ARRAY_DTYPES = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                "float32": 4, "float64": 8, "bool": 1}

Validator = Callable[[dict[str, Any], bool], dict[str, Any]]


def _fail(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID, message)


def _is_number(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: Any, key: str, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False) -> float:
    if not _is_number(value) or value < lo or value > hi or (lo_open and value == lo):
        raise _fail(f"'{key}' must be a finite number in {'(' if lo_open else '['}{lo}, {hi}]")
    return float(value)


def integer(value: Any, key: str, *, lo: int = 0, hi: int = 2**62) -> int:
    if not _is_int(value) or not lo <= value <= hi:
        raise _fail(f"'{key}' must be an integer in [{lo}, {hi}]")
    return int(value)


def numbers(value: Any, key: str, *, min_len: int = 1, max_len: int = MAX_NDIM) -> list[float]:
    if (not isinstance(value, list) or not min_len <= len(value) <= max_len
            or not all(_is_number(v) for v in value)):
        raise _fail(f"'{key}' must be a list of {min_len} to {max_len} finite numbers")
    return [float(v) for v in value]


def integers(value: Any, key: str, *, max_len: int = MAX_NDIM) -> list[int]:
    if (not isinstance(value, list) or not 1 <= len(value) <= max_len
            or not all(_is_int(v) and v >= 0 for v in value)):
        raise _fail(f"'{key}' must be a list of 1 to {max_len} non-negative integers")
    return [int(v) for v in value]


def text(value: Any, key: str, *, max_len: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise _fail(f"'{key}' must be a non-empty string of at most {max_len} characters")
    return value


def boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"'{key}' must be true or false")
    return value


def contrast_limits(value: Any, key: str) -> list[float]:
    lo, hi = numbers(value, key, min_len=2, max_len=2)
    if not lo < hi:
        raise _fail(f"'{key}' must be [low, high] with low < high")
    return [lo, hi]


def _only(args: dict[str, Any], allowed: set[str], op: str) -> None:
    extra = sorted(set(args) - allowed)
    if extra:
        raise _fail(f"{op}: unknown argument(s) {', '.join(extra)}; "
                    f"allowed: {', '.join(sorted(allowed))}")


def _require(args: dict[str, Any], key: str, op: str) -> Any:
    if key not in args:
        raise _fail(f"{op}: missing argument '{key}'")
    return args[key]


def _no_payload(op: str, has_payload: bool) -> None:
    if has_payload:
        raise ProtocolError(ErrorCode.MALFORMED, f"{op} takes no binary payload")


#: Layer properties a client may set, each with its shape check. Values napari must
#: judge (is "viridis" a colormap, is "mip" a rendering mode) are checked there.
LAYER_PROPERTIES: dict[str, Callable[[Any, str], Any]] = {
    "name": text,
    "visible": boolean,
    "opacity": lambda v, k: number(v, k, lo=0.0, hi=1.0),
    "blending": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "contrast_limits": contrast_limits,
    "colormap": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "gamma": lambda v, k: number(v, k, lo=0.0, hi=100.0, lo_open=True),
    "interpolation2d": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "interpolation3d": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "rendering": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "depiction": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "iso_threshold": lambda v, k: number(v, k),
    "attenuation": lambda v, k: number(v, k, lo=0.0),
    "scale": lambda v, k: numbers(v, k),
    "translate": lambda v, k: numbers(v, k),
    "mode": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "selected_label": lambda v, k: integer(v, k, hi=2**31),
    "brush_size": lambda v, k: number(v, k, lo=0.0, hi=10_000.0, lo_open=True),
    "contour": lambda v, k: integer(v, k, hi=1000),
    "current_size": lambda v, k: number(v, k, lo=0.0, hi=1e9),
    "current_face_color": lambda v, k: text(v, k, max_len=MAX_ENUM),
    "current_edge_width": lambda v, k: number(v, k, lo=0.0, hi=1e9),
    "current_edge_color": lambda v, k: text(v, k, max_len=MAX_ENUM),
}

#: Points travel as JSON coordinates: far fewer than voxels, but still bounded.
MAX_POINTS = 100_000

#: Properties that ``layer.add_image`` accepts besides where the data comes from.
ADD_IMAGE_PROPERTIES = {k: LAYER_PROPERTIES[k] for k in (
    "name", "visible", "opacity", "blending", "contrast_limits", "colormap", "gamma",
    "interpolation2d", "interpolation3d", "rendering", "scale", "translate")}


POINTS_PROPERTIES = {k: LAYER_PROPERTIES[k] for k in (
    "name", "visible", "opacity", "blending", "current_size", "current_face_color")}


SHAPES_PROPERTIES = {k: LAYER_PROPERTIES[k] for k in (
    "name", "visible", "opacity", "blending", "current_edge_width", "current_face_color",
    "current_edge_color")}


def _layer_props(props: Any, table: dict[str, Callable[[Any, str], Any]],
                 op: str) -> dict[str, Any]:
    if not isinstance(props, dict) or not props:
        raise _fail(f"{op}: 'props' must be a non-empty object")
    unknown = sorted(set(props) - set(table))
    if unknown:
        raise _fail(f"{op}: unknown layer propert{'ies' if len(unknown) > 1 else 'y'} "
                    f"{', '.join(unknown)}; allowed: {', '.join(sorted(table))}")
    return {key: table[key](value, key) for key, value in props.items()}


def _camera_set(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "camera.set"
    _no_payload(op, has_payload)
    _only(args, {"center", "zoom", "angles", "perspective"}, op)
    out: dict[str, Any] = {}
    if "center" in args:
        out["center"] = numbers(args["center"], "center", min_len=2, max_len=3)
    if "zoom" in args:
        out["zoom"] = number(args["zoom"], "zoom", lo=0.0, hi=1e12, lo_open=True)
    if "angles" in args:
        out["angles"] = numbers(args["angles"], "angles", min_len=3, max_len=3)
    if "perspective" in args:
        out["perspective"] = number(args["perspective"], "perspective", lo=0.0, hi=179.0)
    if not out:
        raise _fail(f"{op}: nothing to set")
    return out


def _dims_set(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "dims.set"
    _no_payload(op, has_payload)
    _only(args, {"current_step", "step", "ndisplay", "order"}, op)
    out: dict[str, Any] = {}
    if "current_step" in args:
        out["current_step"] = integers(args["current_step"], "current_step")
    if "step" in args:
        # one axis only, so concurrent clients scrolling different axes do not clash
        pair = args["step"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail("'step' must be [axis, value]")
        out["step"] = [integer(pair[0], "step axis", hi=MAX_NDIM - 1),
                       integer(pair[1], "step value")]
    if "ndisplay" in args:
        if args["ndisplay"] not in (2, 3) or isinstance(args["ndisplay"], bool):
            raise _fail("'ndisplay' must be 2 or 3")
        out["ndisplay"] = int(args["ndisplay"])
    if "order" in args:
        order = integers(args["order"], "order")
        if sorted(order) != list(range(len(order))):
            raise _fail("'order' must be a permutation of 0..ndim-1")
        out["order"] = order
    if not out:
        raise _fail(f"{op}: nothing to set")
    return out


def _layer_id(args: dict[str, Any], op: str) -> int:
    return integer(_require(args, "layer", op), "layer")


def _layer_set(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.set"
    _no_payload(op, has_payload)
    _only(args, {"layer", "props"}, op)
    return {"layer": _layer_id(args, op),
            "props": _layer_props(_require(args, "props", op), LAYER_PROPERTIES, op)}


def _layer_add_image(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.add_image"
    _only(args, {"path", "shape", "dtype", "props", "nbytes"}, op)
    out: dict[str, Any] = {}
    if "props" in args:
        out["props"] = _layer_props(args["props"], ADD_IMAGE_PROPERTIES, op)
    if has_payload:
        if "path" in args:
            raise _fail(f"{op}: give either 'path' or array data, not both")
        shape = integers(_require(args, "shape", op), "shape")
        if len(shape) < 2 or 0 in shape:
            raise _fail(f"{op}: 'shape' needs at least 2 non-zero dimensions")
        dtype = _require(args, "dtype", op)
        if dtype not in ARRAY_DTYPES:
            raise _fail(f"{op}: 'dtype' must be one of {', '.join(ARRAY_DTYPES)}")
        out["shape"], out["dtype"] = shape, dtype
        out["nbytes"] = math.prod(shape) * ARRAY_DTYPES[dtype]
        return out
    out["path"] = text(_require(args, "path", op), "path", max_len=4096)
    return out


def _layer_only(op: str) -> Validator:
    def validate(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
        _no_payload(op, has_payload)
        _only(args, {"layer"}, op)
        return {"layer": _layer_id(args, op)}
    return validate


def _layer_move(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.move"
    _no_payload(op, has_payload)
    _only(args, {"layer", "index"}, op)
    return {"layer": _layer_id(args, op),
            "index": integer(_require(args, "index", op), "index", hi=10_000)}


def _layer_select(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.select"
    _no_payload(op, has_payload)
    _only(args, {"layers"}, op)
    layers = _require(args, "layers", op)
    if not isinstance(layers, list) or not all(_is_int(v) for v in layers):
        raise _fail("'layers' must be a list of layer ids")
    return {"layers": list(layers)}


def _canvas_resize(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "canvas.resize"
    _no_payload(op, has_payload)
    _only(args, {"width", "height"}, op)
    return {"width": integer(_require(args, "width", op), "width", lo=16, hi=8192),
            "height": integer(_require(args, "height", op), "height", lo=16, hi=8192)}


MOUSE_EVENTS = ("press", "move", "release")
MODIFIERS = ("Shift", "Control", "Alt", "Meta")


def _input_mouse(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    """A mouse event on the canvas, in canvas pixels, for napari's layer and viewer
    mouse bindings on the server (painting, picking, ...)."""
    op = "input.mouse"
    _no_payload(op, has_payload)
    _only(args, {"event", "pos", "button", "modifiers"}, op)
    event = _require(args, "event", op)
    if event not in MOUSE_EVENTS:
        raise _fail(f"'event' must be one of {', '.join(MOUSE_EVENTS)}")
    modifiers = args.get("modifiers", [])
    if not isinstance(modifiers, list) or not all(m in MODIFIERS for m in modifiers):
        raise _fail(f"'modifiers' must be a list of {', '.join(MODIFIERS)}")
    return {"event": event, "pos": numbers(_require(args, "pos", op), "pos", min_len=2,
                                          max_len=2),
            "button": integer(args.get("button", 1), "button", hi=3),
            "modifiers": list(modifiers)}


def _input_key(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    """A key event for napari's key bindings on the server (the active layer's and the
    viewer's keymaps), with vispy's key names."""
    op = "input.key"
    _no_payload(op, has_payload)
    _only(args, {"event", "key", "modifiers", "text"}, op)
    event = _require(args, "event", op)
    if event not in ("press", "release"):
        raise _fail("'event' must be press or release")
    modifiers = args.get("modifiers", [])
    if not isinstance(modifiers, list) or not all(m in MODIFIERS for m in modifiers):
        raise _fail(f"'modifiers' must be a list of {', '.join(MODIFIERS)}")
    text_value = args.get("text", "")
    if not isinstance(text_value, str) or len(text_value) > 8:
        raise _fail("'text' must be a string of at most 8 characters")
    return {"event": event, "key": text(_require(args, "key", op), "key", max_len=32),
            "modifiers": list(modifiers), "text": text_value}


def _layer_add_labels(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.add_labels"
    if not has_payload:
        raise _fail(f"{op} needs the label array as a binary payload")
    out = _layer_add_image(args, has_payload)
    if out["dtype"] not in ("uint8", "uint16", "uint32", "int8", "int16", "int32"):
        raise _fail(f"{op}: labels must be integers")
    return out


def _layer_add_points(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.add_points"
    _no_payload(op, has_payload)
    _only(args, {"data", "props"}, op)
    data = _require(args, "data", op)
    if not isinstance(data, list) or len(data) > MAX_POINTS:
        raise _fail(f"{op}: 'data' must be a list of at most {MAX_POINTS} coordinates")
    coords = [numbers(point, "point", min_len=2) for point in data]
    if len({len(c) for c in coords}) > 1:
        raise _fail(f"{op}: every point needs the same number of coordinates")
    out: dict[str, Any] = {"data": coords}
    if "props" in args:
        out["props"] = _layer_props(args["props"], POINTS_PROPERTIES, op)
    return out


SHAPE_TYPES = ("rectangle", "ellipse", "line", "path", "polygon")


def _layer_add_shapes(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "layer.add_shapes"
    _no_payload(op, has_payload)
    _only(args, {"data", "shape_type", "props"}, op)
    data = _require(args, "data", op)
    if not isinstance(data, list) or len(data) > MAX_POINTS:
        raise _fail(f"{op}: 'data' must be a list of at most {MAX_POINTS} shapes")
    shapes = []
    for shape in data:
        if not isinstance(shape, list) or not 2 <= len(shape) <= 10_000:
            raise _fail(f"{op}: each shape is a list of 2 to 10000 vertices")
        shapes.append([numbers(vertex, "vertex", min_len=2) for vertex in shape])
    kind = args.get("shape_type", "rectangle")
    kinds = kind if isinstance(kind, list) else [kind]
    if not all(k in SHAPE_TYPES for k in kinds) or (isinstance(kind, list)
                                                     and len(kind) != len(shapes)):
        raise _fail(f"{op}: 'shape_type' must be one of {', '.join(SHAPE_TYPES)} (or one per "
                    f"shape)")
    out: dict[str, Any] = {"data": shapes, "shape_type": kind}
    if "props" in args:
        out["props"] = _layer_props(args["props"], SHAPES_PROPERTIES, op)
    return out


def _cursor_set(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    op = "cursor.set"
    _no_payload(op, has_payload)
    _only(args, {"position"}, op)
    return {"position": numbers(_require(args, "position", op), "position")}


def _no_args(op: str) -> Validator:
    def validate(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
        _no_payload(op, has_payload)
        _only(args, set(), op)
        return {}
    return validate


def _screenshot(args: dict[str, Any], has_payload: bool) -> dict[str, Any]:
    _no_payload("screenshot", has_payload)
    _only(args, {"encoding"}, "screenshot")
    if "encoding" not in args:
        return {}
    if args["encoding"] not in ("zstd", "png"):
        raise ProtocolError(ErrorCode.INVALID,
                            "screenshot: 'encoding' must be 'zstd' or 'png' (both lossless)")
    return {"encoding": args["encoding"]}


#: Every operation the protocol names; anything else is refused as ``unknown_op``.
OPERATIONS: dict[str, Validator] = {
    "camera.set": _camera_set,
    "dims.set": _dims_set,
    "layer.set": _layer_set,
    "layer.add_image": _layer_add_image,
    "layer.remove": _layer_only("layer.remove"),
    "layer.move": _layer_move,
    "layer.select": _layer_select,
    "canvas.resize": _canvas_resize,
    "cursor.set": _cursor_set,
    "input.mouse": _input_mouse,
    "input.key": _input_key,
    "layer.add_labels": _layer_add_labels,
    "layer.add_points": _layer_add_points,
    "layer.add_shapes": _layer_add_shapes,
    "view.reset": _no_args("view.reset"),
    "screenshot": _screenshot,
    "sync": _no_args("sync"),
}


def validate_command_args(op: str, args: dict[str, Any], *, has_payload: bool) -> dict[str, Any]:
    """Check one command's arguments and return a cleaned copy (plain Python types)."""
    validator = OPERATIONS.get(op)
    if validator is None:
        raise ProtocolError(ErrorCode.UNKNOWN_OP,
                            f"unknown operation '{op}'; known: {', '.join(sorted(OPERATIONS))}")
    return validator(args, has_payload)
