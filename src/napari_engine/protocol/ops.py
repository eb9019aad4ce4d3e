"""The named operations a client may ask the server to perform: one registry.

This table is the whole attack surface of a session: there is no generic "set attribute
path" and nothing is ever evaluated or unpickled. Each row (``OpSpec``) says how the
operation's arguments are checked (shape and range, purely), whether consecutive
commands of it may merge while they wait (latest wins), and whether it must carry an id
to be answered. The server maps each ``Op`` to its handler (``server/commands.py``, one
handler per operation, checked by a test); semantic checks that need napari (does the
colormap exist, is the layer there) happen there and come back as error messages.

Adding an operation: a member of ``Op``, its validator and its row here, and its handler
in ``server/commands.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from napari_engine.protocol import validate as v
from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.overlays import validate_overlay_set
from napari_engine.protocol.properties import (
    ITEM_ARRAYS,
    MAX_ITEMS,
    LayerKind,
    item_arrays,
    validate_props,
)
from napari_engine.protocol.regions import MAX_REGION_BYTES, region_shape, validate_region


class Op(StrEnum):
    """Every operation the protocol names; anything else is refused as ``unknown_op``."""

    CAMERA_SET = "camera.set"
    DIMS_SET = "dims.set"
    LAYER_SET = "layer.set"
    LAYER_ADD_IMAGE = "layer.add_image"
    LAYER_ADD_LABELS = "layer.add_labels"
    LAYER_ADD_POINTS = "layer.add_points"
    LAYER_ADD_SHAPES = "layer.add_shapes"
    LAYER_ADD_VECTORS = "layer.add_vectors"
    LAYER_ADD_TRACKS = "layer.add_tracks"
    LAYER_ADD_SURFACE = "layer.add_surface"
    LAYER_REMOVE = "layer.remove"
    LAYER_MOVE = "layer.move"
    LAYER_SELECT = "layer.select"
    LAYER_DATA_RANGE = "layer.data_range"
    LAYER_NEW_LABELS = "layer.new_labels"
    LAYER_SAVE = "layer.save"
    LAYER_HISTOGRAM = "layer.histogram"
    LAYER_READ = "layer.read"
    LAYER_SET_DATA = "layer.set_data"
    LAYER_SET_COORDINATES = "layer.set_coordinates"
    LAYER_WRITE = "layer.write"
    OVERLAY_SET = "overlay.set"
    FILES_LIST = "files.list"
    CANVAS_RESIZE = "canvas.resize"
    CURSOR_SET = "cursor.set"
    INPUT_MOUSE = "input.mouse"
    INPUT_KEY = "input.key"
    VIEW_RESET = "view.reset"
    VIEW_OWN = "view.own"
    SCREENSHOT = "screenshot"
    SYNC = "sync"


Args = dict[str, Any]
#: (arguments, whether a binary payload came with them) -> clean arguments
Validator = Callable[[Args, bool], Args]
#: (earlier arguments, later arguments) -> one set of arguments, or None: both must apply
Merge = Callable[[Args, Args], Args | None]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One row of the registry."""

    validate: Validator
    #: consecutive commands of this operation from one client may merge (latest wins)
    merge: Merge | None = None
    #: the command is answered with something only an id can route (a frame, a sync)
    needs_id: bool = False
    #: applied commands go to the session's journal (``server/journal.py``): edits, and
    #: the view and canvas moves that input events depend on
    journal: bool = True
    #: the command moves only its client's camera, dims or canvas: no other client's
    #: picture changes (a shared camera's clients see the move through their own look)
    moves_view: bool = False
    #: the command acts where its client looks (canvas pixels: mouse and keys); the
    #: journal records that view before it, so a replay acts at the same place
    in_view: bool = False

    @property
    def coalesces(self) -> bool:
        return self.merge is not None


#: dtypes a client may send as raw array data, with their item size in bytes.
ARRAY_DTYPES = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                "uint64": 8, "int64": 8,
                "float32": 4, "float64": 8, "bool": 1}
LABEL_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
#: Points and shapes travel as JSON coordinates: far fewer than voxels, but bounded.
MAX_POINTS = MAX_ITEMS
#: points in a payload (``layer.add_points`` with ``arrays``): napari makes 2,000,000 in
#: about 2 s here, and draws every one in every frame
MAX_PAYLOAD_POINTS = 1_000_000
MAX_VERTICES = 10_000
#: shapes in a payload (``layer.add_shapes`` with ``arrays``), and their vertices in all
MAX_PAYLOAD_SHAPES = 200_000
MAX_PAYLOAD_VERTICES = 2_000_000
SHAPE_TYPES = ("rectangle", "ellipse", "line", "path", "polygon")
MOUSE_EVENTS = ("press", "move", "release")
KEY_EVENTS = ("press", "release")
MODIFIERS = ("Shift", "Control", "Alt", "Meta")
SCREENSHOT_ENCODINGS = ("zstd", "png")


def _no_payload(op: str, has_payload: bool) -> None:
    if has_payload:
        raise ProtocolError(ErrorCode.MALFORMED, f"{op} takes no binary payload")


def _plain(op: Op, allowed: set[str], check: Callable[[Args], Args]) -> Validator:
    """A validator for an operation without payload that takes only ``allowed`` keys."""
    def validate(args: Args, has_payload: bool) -> Args:
        _no_payload(op, has_payload)
        v.only(args, allowed, op)
        return check(args)
    return validate


def _camera(args: Args) -> Args:
    out: Args = {}
    if "center" in args:
        out["center"] = v.coordinates(args["center"], "center", min_len=2, max_len=3)
    if "zoom" in args:
        out["zoom"] = v.number(args["zoom"], "zoom", lo=0.0, hi=1e12, lo_open=True)
    if "angles" in args:
        out["angles"] = v.numbers(args["angles"], "angles", min_len=3, max_len=3)
    if "perspective" in args:
        out["perspective"] = v.number(args["perspective"], "perspective", lo=0.0, hi=179.0)
    if not out:
        raise v.fail(f"{Op.CAMERA_SET}: nothing to set")
    return out


def _dims(args: Args) -> Args:
    out: Args = {}
    if "current_step" in args:
        out["current_step"] = v.integers(args["current_step"], "current_step")
    if "step" in args:
        # one axis only, so concurrent clients scrolling different axes do not clash
        pair = args["step"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise v.fail("'step' must be [axis, value]")
        out["step"] = [v.integer(pair[0], "step axis", hi=v.MAX_NDIM - 1),
                       v.integer(pair[1], "step value")]
    if "ndisplay" in args:
        if args["ndisplay"] not in (2, 3) or isinstance(args["ndisplay"], bool):
            raise v.fail("'ndisplay' must be 2 or 3")
        out["ndisplay"] = int(args["ndisplay"])
    if "order" in args:
        order = v.integers(args["order"], "order")
        if sorted(order) != list(range(len(order))):
            raise v.fail("'order' must be a permutation of 0..ndim-1")
        out["order"] = order
    if not out:
        raise v.fail(f"{Op.DIMS_SET}: nothing to set")
    return out


def _merge_dims(first: Args, second: Args) -> Args | None:
    if "step" in first and "step" in second and first["step"][0] != second["step"][0]:
        return None  # two different axes: both must apply
    if ("current_step" in first) != ("current_step" in second) and (
            "step" in first or "step" in second):
        return None  # a full step and a single-axis step do not commute
    if any(key in args for args in (first, second) for key in ("order", "ndisplay")):
        # a layout change is a barrier: napari reacts to it from the step (and the
        # camera) as they are then, so what came before it must apply before it
        return None
    return {**first, **second}


def _latest(first: Args, second: Args) -> Args:
    return {**first, **second}


def _layer_id(args: Args, op: str) -> int:
    return v.integer(v.require(args, "layer", op), "layer")


def _layer_set(args: Args) -> Args:
    return {"layer": _layer_id(args, Op.LAYER_SET),
            "props": validate_props(v.require(args, "props", Op.LAYER_SET), Op.LAYER_SET)}


def _array_args(args: Args, op: str, dtypes: tuple[str, ...] | None = None) -> Args:
    shape = v.integers(v.require(args, "shape", op), "shape", max_len=v.MAX_LAYER_NDIM)
    if len(shape) < 2 or 0 in shape:
        raise v.fail(f"{op}: 'shape' needs at least 2 non-zero dimensions")
    dtype = v.require(args, "dtype", op)
    allowed = dtypes or tuple(ARRAY_DTYPES)
    if dtype not in allowed:
        raise v.fail(f"{op}: 'dtype' must be one of {', '.join(allowed)}")
    return {"shape": shape, "dtype": dtype, "nbytes": math.prod(shape) * ARRAY_DTYPES[dtype]}


MAX_ARRAYS = 16  # the levels of a multiscale image; a surface's vertices, faces, values


def _arrays_args(args: Args, op: str, count: tuple[int, int],
                 dtypes: tuple[str, ...] | None = None) -> Args:
    """``arrays``: the payload is several arrays one after the other, each
    ``{"shape", "dtype"}`` (C order): a multiscale image's levels, a surface's parts."""
    arrays = v.require(args, "arrays", op)
    lo, hi = count
    if not isinstance(arrays, list) or not lo <= len(arrays) <= hi or not all(
            isinstance(a, dict) for a in arrays):
        raise v.fail(f"{op}: 'arrays' must be a list of {lo} to {hi} {{shape, dtype}}")
    allowed = dtypes or tuple(ARRAY_DTYPES)
    out = []
    for array in arrays:
        v.only(array, {"shape", "dtype"}, op)
        dtype = v.require(array, "dtype", op)
        if dtype not in allowed:
            raise v.fail(f"{op}: an array's 'dtype' must be one of {', '.join(allowed)}")
        out.append({"shape": v.integers(v.require(array, "shape", op), "shape",
                                        max_len=v.MAX_LAYER_NDIM),
                    "dtype": dtype})
    nbytes = sum(math.prod(a["shape"]) * ARRAY_DTYPES[a["dtype"]] for a in out)
    return {"arrays": out, "nbytes": nbytes}


def _add_image(args: Args, has_payload: bool) -> Args:
    op = Op.LAYER_ADD_IMAGE
    v.only(args, {"path", "shape", "dtype", "arrays", "props", "nbytes"}, op)
    out: Args = {}
    if "props" in args:
        out["props"] = validate_props(args["props"], op, LayerKind.IMAGE)
    if has_payload:
        if "path" in args:
            raise v.fail(f"{op}: give either 'path' or array data, not both")
        if "arrays" in args:  # a multiscale image: its levels, largest first
            return {**out, **_arrays_args(args, op, (2, MAX_ARRAYS))}
        return {**out, **_array_args(args, op)}
    out["path"] = v.text(v.require(args, "path", op), "path", max_len=4096)
    return out


def _add_labels(args: Args, has_payload: bool) -> Args:
    op = Op.LAYER_ADD_LABELS
    if not has_payload:
        raise v.fail(f"{op} needs the label array as a binary payload")
    v.only(args, {"shape", "dtype", "arrays", "props", "nbytes"}, op)
    out = (_arrays_args(args, op, (2, MAX_ARRAYS), LABEL_DTYPES) if "arrays" in args
           else _array_args(args, op, LABEL_DTYPES))
    if "props" in args:
        out["props"] = validate_props(args["props"], op, LayerKind.LABELS)
    return out


def _add_arrays(op: Op, kind: LayerKind, count: tuple[int, int]) -> Validator:
    """A layer made from arrays in the payload (vectors, tracks, a surface)."""
    def validate(args: Args, has_payload: bool) -> Args:
        if not has_payload:
            raise v.fail(f"{op} needs its data as a binary payload")
        v.only(args, {"arrays", "props", "nbytes"}, op)
        out = _arrays_args(args, op, count)
        if "props" in args:
            out["props"] = validate_props(args["props"], op, kind)
        return out
    return validate


def _add_points(args: Args) -> Args:
    op = Op.LAYER_ADD_POINTS
    data = v.require(args, "data", op)
    if not isinstance(data, list) or len(data) > MAX_POINTS:
        raise v.fail(f"{op}: 'data' must be a list of at most {MAX_POINTS} coordinates")
    coords = [v.coordinates(point, "point", min_len=2, max_len=v.MAX_LAYER_NDIM)
              for point in data]
    if len({len(c) for c in coords}) > 1:
        raise v.fail(f"{op}: every point needs the same number of coordinates")
    out: Args = {"data": coords}
    if "props" in args:
        out["props"] = validate_props(args["props"], op, LayerKind.POINTS)
    return _with_ndim(out, args, op)



def _points_array(args: Args, op: Op, more: int) -> Args:
    """``arrays``: points as one ``float32``/``float64`` array of N x D, and up to
    ``more`` arrays after it."""
    out = _arrays_args(args, op, (1, 1 + more), ("float32", "float64"))
    shape = out["arrays"][0]["shape"]
    if len(shape) != 2 or not 2 <= shape[1] <= v.MAX_LAYER_NDIM or shape[0] > MAX_PAYLOAD_POINTS:
        raise v.fail(f"{op}: the points' array must be N x D, with D from 2 to "
                     f"{v.MAX_LAYER_NDIM} and N at most {MAX_PAYLOAD_POINTS}")
    return out


def _items_either(op: Op, kind: LayerKind, json_keys: set[str],
                  from_json: Callable[[Args], Args],
                  from_arrays: Callable[[Args, Op, int], Args], first: int) -> Validator:
    """Points or shapes: as JSON (``from_json``: a message's 1 MiB holds about 20,000
    points), or, many, as arrays in the payload (``from_arrays``: the ``first`` arrays,
    coordinates checked finite and bounded on the server, ``commands._coordinates``),
    each item's own sizes, widths and colours after them, one array each (``items``:
    name -> index in ``arrays``; ``properties.ITEM_ARRAYS``)."""
    def validate(args: Args, has_payload: bool) -> Args:
        if not has_payload:
            v.only(args, json_keys, op)
            return from_json(args)
        v.only(args, {"arrays", "props", "nbytes", "items"}, op)
        out = from_arrays(args, op, len(item_arrays(kind)))
        if "props" in args:
            out["props"] = validate_props(args["props"], op, kind)
        return _items(args, out, op, kind, first)
    return validate


def _items(args: Args, out: Args, op: Op, kind: LayerKind, first: int) -> Args:
    """``items``: each item's own values as arrays in the payload, after the ``first``
    arrays (property name -> index in ``arrays``): every array from ``first`` on named
    once, one row per item (the first array's rows; ``properties.ITEM_ARRAYS``)."""
    allowed = item_arrays(kind)
    shapes = [array["shape"] for array in out["arrays"]]
    items = args.get("items", {})
    if not isinstance(items, dict):
        raise v.fail(f"{op}: 'items' must be an object")
    items = {name: v.integer(index, "items index") for name, index in items.items()}
    if sorted(items.values()) != list(range(first, len(shapes))):
        raise v.fail(f"{op}: 'items' must name each array from index {first} on "
                     "(property name -> its index in 'arrays')")
    count = out.get("count", shapes[0][0])
    for name, index in items.items():
        if name not in allowed or name in out.get("props", {}):
            raise v.fail(f"{op}: 'items' may name each of {', '.join(allowed)} once, "
                         "and not also in 'props'")
        columns = ITEM_ARRAYS[allowed[name].wire][0]
        expected = [count] + ([columns] if columns > 1 else [])
        if shapes[index] != expected:
            raise v.fail(f"{op}: each item's {name} must be an array of shape {expected}")
    if items:
        out["items"] = dict(items)
    return out


def _shapes_arrays(args: Args, op: Op, more: int) -> Args:
    """``arrays``: shapes as their vertices one after the other (V x D, ``float32`` or
    ``float64``), each shape's count of vertices (N, ``int32`` or ``int64``) and type (N,
    ``uint8``: an index into ``SHAPE_TYPES``), then up to ``more`` arrays; the counts'
    and types' values are checked on the server (``commands._shapes``)."""
    out = _arrays_args(args, op, (3, 3 + more))
    (vertices, counts, types) = out["arrays"][:3]
    if (vertices["dtype"] not in ("float32", "float64") or len(vertices["shape"]) != 2
            or not 2 <= vertices["shape"][1] <= v.MAX_LAYER_NDIM
            or vertices["shape"][0] > MAX_PAYLOAD_VERTICES):
        raise v.fail(f"{op}: the vertices' array must be V x D of float32 or float64, with D "
                     f"from 2 to {v.MAX_LAYER_NDIM} and V at most {MAX_PAYLOAD_VERTICES}")
    count = counts["shape"][0] if len(counts["shape"]) == 1 else -1
    if (counts["dtype"] not in ("int32", "int64") or not 0 <= count <= MAX_PAYLOAD_SHAPES
            or types != {"shape": [count], "dtype": "uint8"}):
        raise v.fail(f"{op}: the shapes' counts of vertices (N, int32 or int64) and types "
                     f"(N, uint8) must follow the vertices, N at most {MAX_PAYLOAD_SHAPES}")
    return {**out, "count": count}


def _with_ndim(out: Args, args: Args, op: Op) -> Args:
    """An optional ``ndim``: the dimensions of a layer made empty (napari's new points
    and shapes layers take the active layer's)."""
    if "ndim" in args:
        out["ndim"] = v.integer(args["ndim"], "ndim", lo=2, hi=v.MAX_LAYER_NDIM)
    return out


def _add_shapes(args: Args) -> Args:
    op = Op.LAYER_ADD_SHAPES
    data = v.require(args, "data", op)
    if not isinstance(data, list) or len(data) > MAX_POINTS:
        raise v.fail(f"{op}: 'data' must be a list of at most {MAX_POINTS} shapes")
    shapes = []
    for shape in data:
        if not isinstance(shape, list) or not 2 <= len(shape) <= MAX_VERTICES:
            raise v.fail(f"{op}: each shape is a list of 2 to {MAX_VERTICES} vertices")
        shapes.append([v.coordinates(vertex, "vertex", min_len=2, max_len=v.MAX_LAYER_NDIM)
                       for vertex in shape])
    kind = args.get("shape_type", "rectangle")
    kinds = kind if isinstance(kind, list) else [kind]
    if not all(k in SHAPE_TYPES for k in kinds) or (isinstance(kind, list)
                                                     and len(kind) != len(shapes)):
        raise v.fail(f"{op}: 'shape_type' must be one of {', '.join(SHAPE_TYPES)} (or one "
                     f"per shape)")
    out: Args = {"data": shapes, "shape_type": kind}
    if "props" in args:
        out["props"] = validate_props(args["props"], op, LayerKind.SHAPES)
    return _with_ndim(out, args, op)


def _layer_only(args: Args) -> Args:
    return {"layer": _layer_id(args, Op.LAYER_REMOVE)}


def _layer_move(args: Args) -> Args:
    return {"layer": _layer_id(args, Op.LAYER_MOVE),
            "index": v.integer(v.require(args, "index", Op.LAYER_MOVE), "index", hi=10_000)}


def _relative(path: str, op: str, under: str) -> str:
    """A path below a server folder: no absolute path, no '..', no drive."""
    parts = path.replace("\\", "/").split("/")
    if (not path or path.startswith(("/", "~")) or ":" in path
            or any(part in ("", ".", "..") for part in parts)):
        raise v.fail(f"{op}: 'path' is a path under {under} (no absolute path, no '..'); "
                     f"got {path!r}")
    return "/".join(parts)


def _layer_save(args: Args) -> Args:
    """Layers and a path relative to the server's save directory (never outside it)."""
    op = Op.LAYER_SAVE
    layers = v.require(args, "layers", op)
    if not isinstance(layers, list) or not layers or not all(v.is_int(x) for x in layers):
        raise v.fail(f"{op}: 'layers' must be a non-empty list of layer ids")
    path = _relative(v.text(v.require(args, "path", op), "path"), op,
                     "the server's save directory")
    return {"layers": [int(x) for x in layers], "path": path}


def _files_list(args: Args) -> Args:
    """A folder the server offers to browse (``root``: its index, or "save": the save
    directory) and a path below it ("" for the folder itself)."""
    op = Op.FILES_LIST
    path = args.get("path", "")
    if not isinstance(path, str) or len(path) > 4096:
        raise v.fail(f"{op}: 'path' must be a string")
    root = args.get("root", 0)
    return {"root": root if root == "save" else v.integer(root, "root", hi=64),
            "path": _relative(path, op, "a browsed folder") if path else ""}


HISTOGRAM_MODES = ("canvas", "full")
MAX_BINS = 4096


def _histogram(args: Args) -> Args:
    op = Op.LAYER_HISTOGRAM
    mode = args.get("mode", "canvas")
    if mode not in HISTOGRAM_MODES:
        raise v.fail(f"{op}: 'mode' must be one of {', '.join(HISTOGRAM_MODES)}")
    return {"layer": _layer_id(args, op), "mode": mode,
            "bins": v.integer(args.get("bins", 256), "bins", lo=1, hi=MAX_BINS),
            "log_scale": v.boolean(args.get("log_scale", False), "log_scale")}


DATA_RANGE_MODES = ("slice", "data")


def _data_range(args: Args) -> Args:
    op = Op.LAYER_DATA_RANGE
    mode = args.get("mode", "data")
    if mode not in DATA_RANGE_MODES:
        raise v.fail(f"{op}: 'mode' must be one of {', '.join(DATA_RANGE_MODES)}")
    return {"layer": _layer_id(args, op), "mode": mode}


def _layer_read(args: Args) -> Args:
    """A region of one level of a layer's data, answered with the voxels (``data``)."""
    op = Op.LAYER_READ
    return {"layer": _layer_id(args, op),
            "level": v.integer(args.get("level", 0), "level", hi=64),
            "region": validate_region(v.require(args, "region", op), op)}


def _layer_set_data(args: Args, has_payload: bool) -> Args:
    """An image or labels layer's data replaced whole (``layer.data = array``): one
    array (``shape``, ``dtype``) or a multiscale layer's levels (``arrays``)."""
    op = Op.LAYER_SET_DATA
    if not has_payload:
        raise v.fail(f"{op} needs the new data as a binary payload")
    v.only(args, {"layer", "shape", "dtype", "arrays", "nbytes"}, op)
    data = (_arrays_args(args, op, (2, MAX_ARRAYS)) if "arrays" in args
            else _array_args(args, op))
    return {"layer": _layer_id(args, op), **data}


def _set_coordinates(args: Args, has_payload: bool) -> Args:
    """A points or shapes layer's coordinates replaced whole (a script's
    ``points.data = ...``, ``points.add``, ``shapes.add_rectangles``, ...): as
    ``add_points`` takes them (many points: one N x D array in the payload), or as
    ``add_shapes`` does when ``shape_type`` is given (many shapes: their three arrays)."""
    op = Op.LAYER_SET_COORDINATES
    layer = _layer_id(args, op)
    if has_payload:  # many points (one array), or shapes (three: ``_shapes_arrays``)
        v.only(args, {"layer", "arrays", "nbytes"}, op)
        arrays = args.get("arrays")
        if isinstance(arrays, list) and len(arrays) == 3:
            return {"layer": layer, **_shapes_arrays(args, op, 0)}
        return {"layer": layer, **_points_array(args, op, 0)}
    v.only(args, {"layer", "data", "shape_type"}, op)
    rest = {key: value for key, value in args.items() if key != "layer"}
    coordinates = _add_shapes(rest) if "shape_type" in rest else _add_points(rest)
    return {"layer": layer, **coordinates}


def _layer_write(args: Args, has_payload: bool) -> Args:
    """A box of a labels layer replaced by the payload's values (the layer's dtype, C
    order): what a script's ``labels.data[...] = values`` does."""
    op = Op.LAYER_WRITE
    if not has_payload:
        raise v.fail(f"{op} needs the values as a binary payload")
    v.only(args, {"layer", "region", "dtype", "nbytes"}, op)
    region = validate_region(v.require(args, "region", op), op, unit_steps=True)
    dtype = v.require(args, "dtype", op)
    if dtype not in LABEL_DTYPES:
        raise v.fail(f"{op}: 'dtype' must be one of {', '.join(LABEL_DTYPES)}")
    nbytes = math.prod(region_shape(region)) * ARRAY_DTYPES[dtype]
    if nbytes > MAX_REGION_BYTES:
        raise v.fail(f"{op}: at most {MAX_REGION_BYTES >> 20} MiB at once")
    return {"layer": _layer_id(args, op), "region": region, "dtype": dtype,
            "nbytes": nbytes}


def _layer_select(args: Args) -> Args:
    layers = v.require(args, "layers", Op.LAYER_SELECT)
    if not isinstance(layers, list) or not all(v.is_int(x) for x in layers):
        raise v.fail("'layers' must be a list of layer ids")
    return {"layers": list(layers)}


MAX_CANVAS_PIXELS = 8192  # per side, physical


def _canvas_resize(args: Args) -> Args:
    op = Op.CANVAS_RESIZE
    out: Args = {
        "width": v.integer(v.require(args, "width", op), "width", lo=16, hi=MAX_CANVAS_PIXELS),
        "height": v.integer(v.require(args, "height", op), "height", lo=16,
                            hi=MAX_CANVAS_PIXELS)}
    if "pixel_ratio" in args:
        ratio = v.number(args["pixel_ratio"], "pixel_ratio", lo=1.0, hi=4.0)
        if max(out["width"], out["height"]) * ratio > MAX_CANVAS_PIXELS:
            raise v.fail(f"{op}: at most {MAX_CANVAS_PIXELS} physical pixels a side")
        out["pixel_ratio"] = ratio
    return out


def _cursor(args: Args) -> Args:
    return {"position": v.coordinates(v.require(args, "position", Op.CURSOR_SET),
                                      "position")}


def _modifiers(args: Args) -> list[str]:
    modifiers = args.get("modifiers", [])
    if not isinstance(modifiers, list) or not all(m in MODIFIERS for m in modifiers):
        raise v.fail(f"'modifiers' must be a list of {', '.join(MODIFIERS)}")
    return list(modifiers)


def _event(args: Args, op: str, events: tuple[str, ...]) -> str:
    event = v.require(args, "event", op)
    if event not in events:
        raise v.fail(f"'event' must be one of {', '.join(events)}")
    return str(event)


def _mouse(args: Args) -> Args:
    """A mouse event on the canvas, in canvas pixels, for napari's layer and viewer
    mouse bindings on the server (painting, picking, ...)."""
    op = Op.INPUT_MOUSE
    return {"event": _event(args, op, MOUSE_EVENTS),
            "pos": v.numbers(v.require(args, "pos", op), "pos", min_len=2, max_len=2),
            "button": v.integer(args.get("button", 1), "button", hi=3),
            "modifiers": _modifiers(args)}


def _key(args: Args) -> Args:
    """A key event for napari's key bindings on the server (the active layer's and the
    viewer's keymaps), with vispy's key names."""
    op = Op.INPUT_KEY
    text_value = args.get("text", "")
    if not isinstance(text_value, str) or len(text_value) > 8:
        raise v.fail("'text' must be a string of at most 8 characters")
    return {"event": _event(args, op, KEY_EVENTS),
            "key": v.text(v.require(args, "key", op), "key", max_len=32),
            "modifiers": _modifiers(args), "text": text_value}


def _view_own(args: Args) -> Args:
    own = v.require(args, "own", Op.VIEW_OWN)
    if not isinstance(own, bool):
        raise v.fail("'own' must be true (a camera and dims of its own) or false (shared)")
    return {"own": own}


def _nothing(_args: Args) -> Args:
    return {}


def _sync(args: Args) -> Args:
    if "loaded" not in args:
        return {}
    return {"loaded": v.boolean(args["loaded"], "loaded")}


def _screenshot(args: Args) -> Args:
    if "encoding" not in args:
        return {}
    if args["encoding"] not in SCREENSHOT_ENCODINGS:
        raise v.fail(f"{Op.SCREENSHOT}: 'encoding' must be 'zstd' or 'png' (both lossless)")
    return {"encoding": args["encoding"]}


#: The registry: every operation, its validation, merging and answer rule.
OPERATIONS: dict[Op, OpSpec] = {
    Op.CAMERA_SET: OpSpec(_plain(Op.CAMERA_SET, {"center", "zoom", "angles",
                                                        "perspective"}, _camera),
                          merge=_latest, moves_view=True),
    Op.DIMS_SET: OpSpec(_plain(Op.DIMS_SET, {"current_step", "step", "ndisplay",
                                                    "order"}, _dims), merge=_merge_dims,
                        moves_view=True),
    Op.LAYER_SET: OpSpec(_plain(Op.LAYER_SET, {"layer", "props"}, _layer_set)),
    Op.LAYER_ADD_IMAGE: OpSpec(_add_image),
    Op.LAYER_ADD_LABELS: OpSpec(_add_labels),
    Op.LAYER_ADD_POINTS: OpSpec(_items_either(Op.LAYER_ADD_POINTS, LayerKind.POINTS,
                                              {"data", "props", "ndim"}, _add_points,
                                              _points_array, 1)),
    Op.LAYER_ADD_SHAPES: OpSpec(_items_either(Op.LAYER_ADD_SHAPES, LayerKind.SHAPES,
                                              {"data", "shape_type", "props", "ndim"},
                                              _add_shapes, _shapes_arrays, 3)),
    Op.LAYER_ADD_VECTORS: OpSpec(_add_arrays(Op.LAYER_ADD_VECTORS, LayerKind.VECTORS, (1, 1))),
    Op.LAYER_ADD_TRACKS: OpSpec(_add_arrays(Op.LAYER_ADD_TRACKS, LayerKind.TRACKS, (1, 1))),
    # vertices, faces and (optionally) values per vertex
    Op.LAYER_ADD_SURFACE: OpSpec(_add_arrays(Op.LAYER_ADD_SURFACE, LayerKind.SURFACE,
                                             (2, 3))),
    Op.LAYER_REMOVE: OpSpec(_plain(Op.LAYER_REMOVE, {"layer"}, _layer_only)),
    Op.LAYER_MOVE: OpSpec(_plain(Op.LAYER_MOVE, {"layer", "index"}, _layer_move)),
    Op.LAYER_SELECT: OpSpec(_plain(Op.LAYER_SELECT, {"layers"}, _layer_select)),
    Op.LAYER_HISTOGRAM: OpSpec(_plain(Op.LAYER_HISTOGRAM,
                                      {"layer", "mode", "bins", "log_scale"}, _histogram),
                               needs_id=True, journal=False),
    Op.LAYER_SAVE: OpSpec(_plain(Op.LAYER_SAVE, {"layers", "path"}, _layer_save),
                          journal=False),
    Op.LAYER_NEW_LABELS: OpSpec(_plain(Op.LAYER_NEW_LABELS, set(), _nothing)),
    Op.LAYER_DATA_RANGE: OpSpec(_plain(Op.LAYER_DATA_RANGE, {"layer", "mode"}, _data_range),
                                needs_id=True, journal=False),
    Op.LAYER_READ: OpSpec(_plain(Op.LAYER_READ, {"layer", "level", "region"}, _layer_read),
                          needs_id=True, journal=False),
    Op.LAYER_WRITE: OpSpec(_layer_write),
    Op.LAYER_SET_DATA: OpSpec(_layer_set_data),
    Op.LAYER_SET_COORDINATES: OpSpec(_set_coordinates),
    Op.FILES_LIST: OpSpec(_plain(Op.FILES_LIST, {"root", "path"}, _files_list),
                          needs_id=True, journal=False),
    Op.OVERLAY_SET: OpSpec(_plain(Op.OVERLAY_SET, {"overlay", "props"},
                                  lambda args: validate_overlay_set(args, Op.OVERLAY_SET))),
    Op.CANVAS_RESIZE: OpSpec(_plain(Op.CANVAS_RESIZE, {"width", "height", "pixel_ratio"},
                                           _canvas_resize), merge=_latest,
                             moves_view=True),
    Op.CURSOR_SET: OpSpec(_plain(Op.CURSOR_SET, {"position"}, _cursor),
                          merge=_latest, journal=False),
    Op.INPUT_MOUSE: OpSpec(_plain(Op.INPUT_MOUSE, {"event", "pos", "button",
                                                          "modifiers"}, _mouse),
                           in_view=True),
    Op.INPUT_KEY: OpSpec(_plain(Op.INPUT_KEY, {"event", "key", "modifiers", "text"},
                                       _key), in_view=True),
    Op.VIEW_RESET: OpSpec(_plain(Op.VIEW_RESET, set(), _nothing), moves_view=True),
    # whose view a client looks through is its own business, not the session's edit
    Op.VIEW_OWN: OpSpec(_plain(Op.VIEW_OWN, {"own"}, _view_own), moves_view=True,
                        journal=False),
    Op.SCREENSHOT: OpSpec(_plain(Op.SCREENSHOT, {"encoding"}, _screenshot),
                          needs_id=True, journal=False),
    Op.SYNC: OpSpec(_plain(Op.SYNC, {"loaded"}, _sync), needs_id=True, journal=False),
}


def operation(name: str) -> Op:
    """The ``Op`` named ``name``, or ``ProtocolError(UNKNOWN_OP)``."""
    try:
        return Op(name)
    except ValueError:
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown operation '{name}'; known: "
                            f"{', '.join(sorted(OPERATIONS))}") from None


def validate_command_args(op: str, args: Args, *, has_payload: bool) -> Args:
    """Check one command's arguments and return a cleaned copy (plain Python types)."""
    return OPERATIONS[operation(op)].validate(args, has_payload)
