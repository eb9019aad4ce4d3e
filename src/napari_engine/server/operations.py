"""Carry out the protocol's named operations on a napari ViewerModel.

Arguments arrive already shape-checked by ``napari_engine.protocol.ops``; this module maps
each operation onto napari's public API and turns napari's own refusals (an unknown
colormap, a bad blending mode) into ``ProtocolError``s so the session carries on.
Operations that need the session (screenshot, sync, resize of the render target) are
handled by the session itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Layer

from napari_engine.protocol import Command, ErrorCode, ProtocolError
from napari_engine.server.state import LayerIds


def _layer(viewer: ViewerModel, ids: LayerIds, layer_id: int) -> Layer:
    layer = ids.find(viewer, layer_id)
    if layer is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no layer with id {layer_id}")
    return layer


def _refusal(what: str, exc: Exception) -> ProtocolError:
    """napari's own error, shortened to one line for the client."""
    return ProtocolError(ErrorCode.INVALID, f"{what}: {exc}".splitlines()[0][:500])


_NAPARI_REFUSALS = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _set(obj: Any, attr: str, value: Any, what: str) -> None:
    try:
        setattr(obj, attr, value)
    except _NAPARI_REFUSALS as exc:
        raise _refusal(what, exc) from None


def _add(add: Callable[..., Layer], data: Any, kwargs: dict[str, Any]) -> Layer:
    """One of napari's ``viewer.add_*``; its refusals become protocol errors."""
    try:
        return add(data, **kwargs)
    except _NAPARI_REFUSALS as exc:
        raise _refusal(add.__name__, exc) from None


def _array(args: dict[str, Any], payload: bytes | memoryview) -> np.ndarray:
    """The client's array from a binary payload (read-only: it views the message)."""
    if len(payload) != args["nbytes"]:
        raise ProtocolError(ErrorCode.INVALID,
                            f"array payload has {len(payload)} bytes; shape and dtype "
                            f"need {args['nbytes']}")
    return np.frombuffer(payload, dtype=args["dtype"]).reshape(args["shape"])


def _current_to_initial(props: dict[str, Any]) -> dict[str, Any]:
    """``current_size`` and the like set a new layer's ``size``, ..."""
    return {k.removeprefix("current_"): v for k, v in props.items()}


def camera_set(viewer: ViewerModel, args: dict[str, Any]) -> None:
    cam = viewer.camera
    if "center" in args:
        center = args["center"]
        if viewer.dims.ndisplay == 2 and len(center) == 3:
            center = center[1:]
        _set(cam, "center", tuple(center), "camera.center")
    for key in ("zoom", "perspective"):
        if key in args:
            _set(cam, key, args[key], f"camera.{key}")
    if "angles" in args:
        _set(cam, "angles", tuple(args["angles"]), "camera.angles")


def dims_set(viewer: ViewerModel, args: dict[str, Any]) -> None:
    dims = viewer.dims
    if "ndisplay" in args:
        dims.ndisplay = args["ndisplay"]
    if "order" in args:
        if len(args["order"]) != dims.ndim:
            raise ProtocolError(ErrorCode.INVALID, f"'order' must have {dims.ndim} entries")
        dims.order = tuple(args["order"])
    if "current_step" in args:
        if len(args["current_step"]) != dims.ndim:
            raise ProtocolError(ErrorCode.INVALID,
                                f"'current_step' must have {dims.ndim} entries")
        dims.current_step = tuple(args["current_step"])
    if "step" in args:
        axis, value = args["step"]
        if axis >= dims.ndim:
            raise ProtocolError(ErrorCode.INVALID, f"axis {axis} out of range (ndim {dims.ndim})")
        dims.set_current_step(axis, value)


def layer_set(viewer: ViewerModel, ids: LayerIds, args: dict[str, Any]) -> None:
    layer = _layer(viewer, ids, args["layer"])
    for prop, value in args["props"].items():
        if not hasattr(layer, prop):
            raise ProtocolError(ErrorCode.INVALID,
                                f"{type(layer).__name__} layers have no property '{prop}'")
        _set(layer, prop, value, prop)


def layer_add_image(viewer: ViewerModel, args: dict[str, Any],
                    payload: bytes | memoryview | None) -> list[Layer]:
    props = dict(args.get("props", {}))
    if payload is not None:
        return [_add(viewer.add_image, _array(args, payload), props)]
    from napari_engine.data import DataError, open_data  # deferred: readers import zarr, tifffile

    try:
        specs = open_data(args["path"])
    except DataError as exc:
        raise ProtocolError(ErrorCode.NOT_FOUND, str(exc)) from None
    layers = []
    for spec in specs:
        kwargs = {**spec.kwargs, **props}
        if len(specs) > 1 and "name" in props:
            kwargs["name"] = f"{props['name']} [{spec.kwargs['name']}]"
        layers.append(_add(viewer.add_image, spec.data, kwargs))
    return layers


def layer_add_labels(viewer: ViewerModel, args: dict[str, Any],
                     payload: bytes | memoryview) -> Layer:
    # a writable copy: painting changes it
    return _add(viewer.add_labels, _array(args, payload).copy(), args.get("props", {}))


def layer_add_points(viewer: ViewerModel, args: dict[str, Any]) -> Layer:
    data = np.asarray(args["data"], dtype=float)
    if data.size == 0:
        data = np.zeros((0, viewer.dims.ndim or 2))
    return _add(viewer.add_points, data, _current_to_initial(args.get("props", {})))


def layer_add_shapes(viewer: ViewerModel, args: dict[str, Any]) -> Layer:
    data = [np.asarray(shape, dtype=float) for shape in args["data"]]
    return _add(viewer.add_shapes, data or None, {
        "shape_type": args["shape_type"], **_current_to_initial(args.get("props", {}))})


def layer_remove(viewer: ViewerModel, ids: LayerIds, args: dict[str, Any]) -> None:
    viewer.layers.remove(_layer(viewer, ids, args["layer"]))


def layer_move(viewer: ViewerModel, ids: LayerIds, args: dict[str, Any]) -> None:
    layer = _layer(viewer, ids, args["layer"])
    index = min(args["index"], len(viewer.layers) - 1)
    src = viewer.layers.index(layer)
    if src != index:
        # LayerList.move(src, dest) inserts before dest; moving down needs dest + 1
        viewer.layers.move(src, index + 1 if index > src else index)


def layer_select(viewer: ViewerModel, ids: LayerIds, args: dict[str, Any]) -> None:
    layers = [_layer(viewer, ids, layer_id) for layer_id in args["layers"]]
    viewer.layers.selection.clear()
    viewer.layers.selection.update(layers)
    viewer.layers.selection.active = layers[-1] if layers else None


def cursor_set(viewer: ViewerModel, args: dict[str, Any]) -> dict[str, Any]:
    """Put the cursor at a world position; reply with napari's status bar text for it
    (computed here, from the real data)."""
    position = args["position"]
    if len(position) != viewer.dims.ndim:
        raise ProtocolError(ErrorCode.INVALID, f"'position' must have {viewer.dims.ndim} entries")
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(position)
    viewer.update_status_from_cursor()
    return {"status": viewer.status, "tooltip": viewer.tooltip.text, "help": viewer.help}


def apply(viewer: ViewerModel, ids: LayerIds, command: Command) -> dict[str, Any]:
    """Apply one viewer operation; returns the reply's ``result`` payload."""
    op, args = command.op, command.args
    if op == "camera.set":
        camera_set(viewer, args)
    elif op == "dims.set":
        dims_set(viewer, args)
    elif op == "layer.set":
        layer_set(viewer, ids, args)
    elif op == "layer.add_image":
        layers = layer_add_image(viewer, args, command.payload)
        return {"layers": [ids.id_of(layer) for layer in layers]}
    elif op == "layer.add_labels":
        assert command.payload is not None
        return {"layers": [ids.id_of(layer_add_labels(viewer, args, command.payload))]}
    elif op == "layer.add_points":
        return {"layers": [ids.id_of(layer_add_points(viewer, args))]}
    elif op == "layer.add_shapes":
        return {"layers": [ids.id_of(layer_add_shapes(viewer, args))]}
    elif op == "layer.remove":
        layer_remove(viewer, ids, args)
    elif op == "layer.move":
        layer_move(viewer, ids, args)
    elif op == "layer.select":
        layer_select(viewer, ids, args)
    elif op == "view.reset":
        viewer.reset_view()
    elif op == "cursor.set":
        return cursor_set(viewer, args)
    else:
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"operation '{op}' is not a viewer operation")
    return {}
