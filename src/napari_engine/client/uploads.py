"""A napari layer made on the client, as the command that makes it on the server.

napari makes layers in one place whatever asked for them (``viewer.add_image`` and the
other ``add_*``, ``viewer.add_layer``, readers, plugins, the new-layer buttons): it
builds the layer object and puts it in the layer list. The bridge catches that insertion
and sends the layer with ``layer_command``: its data (an array, as a binary payload; the
coordinates of points and shapes) and every property the protocol's table lets a new
layer take (``initial`` keywords). The server makes its own layer from that, and the
client's layer object becomes the mirror of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from napari.layers import Image, Labels, Layer, Points, Shapes, Surface, Tracks, Vectors

from napari_engine.client.napari_compat import kind_of
from napari_engine.protocol import Op
from napari_engine.protocol.codec import MAX_BINARY_BYTES, MAX_HEADER_BYTES, encode_text
from napari_engine.protocol.ops import ARRAY_DTYPES, LABEL_DTYPES, SHAPE_TYPES
from napari_engine.protocol.properties import (
    LAYER_PROPERTIES,
    MAX_ITEMS,
    LayerProperty,
    colormap_definition,
    item_arrays,
    properties_of,
    to_wire,
)

NOT_MIRRORED = "{kind} layers are not mirrored by napari-engine"
#: a multiscale layer's levels, a surface's parts: what one message may carry (and some
#: room for its header)
MAX_ARRAYS_BYTES = MAX_BINARY_BYTES - (1 << 20)
#: more points than this travel as an array in the payload, not as JSON coordinates
JSON_POINTS = 1000


def _nbytes(data: Any) -> int:
    """What an array-like holds, from its shape and dtype (nothing is read)."""
    shape = getattr(data, "shape", None)
    if shape is None:
        return int(np.asarray(data).nbytes)
    return math.prod(int(n) for n in shape) * numpy_dtype(getattr(data, "dtype", float)).itemsize


def numpy_dtype(dtype: Any) -> np.dtype[Any]:
    """An array library's dtype as numpy's (tensorstore's has its own type, with
    ``numpy_dtype``)."""
    return np.dtype(getattr(dtype, "numpy_dtype", dtype))


def _fits(parts: list[Any], kind: str) -> None:
    """Refuse, before reading a voxel, what one message cannot carry (a lazy array of
    terabytes read by a local reader must not be pulled into memory to be refused)."""
    nbytes = sum(_nbytes(part) for part in parts)
    if nbytes > MAX_ARRAYS_BYTES:
        raise NotImplementedError(
            f"this {kind} layer's data is {nbytes / 2**20:.0f} MiB, more than one message "
            f"carries ({MAX_ARRAYS_BYTES >> 20} MiB); open its data on the server instead")


def _sendable(data: Any, kind: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(data))
    allowed = LABEL_DTYPES if kind == "labels" else tuple(ARRAY_DTYPES)
    if array.dtype.name not in allowed:
        raise TypeError(f"{kind} data of dtype {array.dtype} cannot be sent; use one of "
                        f"{', '.join(allowed)}")
    return array


def array_payload(data: Any, kind: str) -> tuple[dict[str, Any], bytes]:
    """An array as ``add_image``/``add_labels`` arguments and payload."""
    _fits([data], kind)
    array = _sendable(data, kind)
    return {"shape": list(array.shape), "dtype": array.dtype.name}, array.tobytes()


def arrays_payload(parts: list[Any], kind: str) -> tuple[dict[str, Any], bytes]:
    """Several arrays (levels, a surface's parts) as ``arrays`` and one payload."""
    _fits(parts, kind)
    arrays = [_sendable(part, kind) for part in parts]
    return ({"arrays": [{"shape": list(a.shape), "dtype": a.dtype.name} for a in arrays]},
            b"".join(a.tobytes() for a in arrays))


def sent(prop: LayerProperty, value: Any) -> Any:
    """A property's napari value as a client sends it: as the state carries it, but a
    colormap goes defined (it may be one made here, which the server does not know by
    name; the state carries its name; a labels layer's is always defined)."""
    wire = to_wire(prop, value)
    if prop.name == "colormap" and isinstance(wire, str):  # an image's: defined
        return colormap_definition(value)
    return wire


def _one_for_all(values: Any) -> Any:
    """Items' values as they travel: one for all when every item has the same (60,000
    default colours are 720 kB of JSON)."""
    if isinstance(values, list) and len(values) > 1 and all(x == values[0] for x in values):
        return values[:1]
    return values


def _each_items_own(layer: Layer, kind: str, items: int, props: dict[str, Any], *,
                    as_arrays: bool) -> dict[str, np.ndarray]:
    """Each item's own values of a points or shapes layer, into ``props`` (one for all
    where they agree); with ``as_arrays`` (many points or vertices), the sizes, widths
    and colours that differ are returned as arrays for the payload instead. Raises
    ``NotImplementedError`` for more differing values than JSON may carry."""
    own: dict[str, np.ndarray] = {}
    if items == 0:
        return own
    as_array = item_arrays(kind) if as_arrays else {}
    for prop in properties_of(kind):
        if not prop.per_item:
            continue
        if prop.name in as_array:
            values = np.asarray(getattr(layer, prop.name), dtype=float)
            if not (values == values[:1]).all():
                own[prop.name] = values
                continue
        props[prop.name] = _one_for_all(sent(prop, getattr(layer, prop.name)))
        if len(props[prop.name]) > MAX_ITEMS:
            raise NotImplementedError(
                f"each of this {kind} layer's {items} items has its own {prop.name}: "
                f"napari-engine sends at most {MAX_ITEMS} such values")
    return own


def many_coordinates(layer: Layer) -> bool:
    """Whether a points or shapes layer's coordinates travel as arrays in a payload
    (more than ``JSON_POINTS`` points or vertices), not as JSON."""
    if isinstance(layer, Points):
        return len(layer.data) > JSON_POINTS
    if isinstance(layer, Shapes):
        return sum(len(shape) for shape in layer.data) > JSON_POINTS
    return False


def shapes_arrays(layer: Shapes) -> list[np.ndarray]:
    """A shapes layer as the payload carries it: the vertices one after the other,
    each shape's count of vertices, and each one's type (an index into ``SHAPE_TYPES``)."""
    shapes = [np.asarray(shape, float) for shape in layer.data]
    return [np.concatenate(shapes) if shapes else np.zeros((0, layer.ndim)),
            np.array([len(shape) for shape in shapes], np.int64),
            np.array([SHAPE_TYPES.index(str(kind)) for kind in layer.shape_type], np.uint8)]


def layer_command(layer: Layer) -> tuple[Op, dict[str, Any], bytes | None]:
    """The operation, arguments and payload that make ``layer`` on the server. Raises
    ``NotImplementedError`` for what cannot travel (a layer kind the protocol does not
    mirror, more data than one message carries) and ``TypeError`` for data it refuses."""
    kind = kind_of(layer)
    items = len(layer.data) if isinstance(layer, Points | Shapes) else 0
    props = {p.name: sent(p, getattr(layer, p.name)) for p in properties_of(kind)
             if p.initial is not None}
    many = many_coordinates(layer)
    own = _each_items_own(layer, kind, items, props, as_arrays=many)
    if many and len(encode_text(props)) < MAX_HEADER_BYTES // 2:
        # the coordinates and each item's own sizes and colours in the payload, the rest
        # in the header (each point's own symbol: where the header cannot hold them,
        # the points go as JSON too, within a text message's limit)
        op, arrays = ((Op.LAYER_ADD_POINTS, [np.asarray(layer.data, float)])
                      if isinstance(layer, Points) else
                      (Op.LAYER_ADD_SHAPES, shapes_arrays(layer)))
        args, payload = arrays_payload([*arrays, *own.values()], kind)
        items_at = {name: index for index, name in enumerate(own, start=len(arrays))}
        return op, {**args, "props": props, **(
            {"items": items_at} if items_at else {})}, payload
    for name, values in own.items():
        props[name] = sent(LAYER_PROPERTIES[name], values)
    if isinstance(layer, Points):
        return Op.LAYER_ADD_POINTS, {
            "data": np.asarray(layer.data, float).tolist(), "ndim": layer.ndim,
            "props": props}, None
    if isinstance(layer, Shapes):
        return Op.LAYER_ADD_SHAPES, {
            "data": [np.asarray(s, float).tolist() for s in layer.data],
            "shape_type": [str(t) for t in layer.shape_type] or "rectangle",
            "ndim": layer.ndim, "props": props}, None
    if isinstance(layer, Image | Labels):
        op = Op.LAYER_ADD_LABELS if isinstance(layer, Labels) else Op.LAYER_ADD_IMAGE
        args, payload = (arrays_payload(list(layer.data), kind) if layer.multiscale
                         else array_payload(layer.data, kind))
        return op, {**args, "props": props}, payload
    if isinstance(layer, Vectors | Tracks):
        op = Op.LAYER_ADD_VECTORS if isinstance(layer, Vectors) else Op.LAYER_ADD_TRACKS
        args, payload = arrays_payload([np.asarray(layer.data, float)], kind)
        return op, {**args, "props": props}, payload
    if isinstance(layer, Surface):
        vertices, faces, values = layer.data[:3]
        args, payload = arrays_payload([np.asarray(vertices, float), np.asarray(faces),
                                        np.asarray(values, float)], kind)
        return Op.LAYER_ADD_SURFACE, {**args, "props": props}, payload
    raise NotImplementedError(NOT_MIRRORED.format(kind=kind))
