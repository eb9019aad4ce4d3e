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

from typing import Any

import numpy as np
from napari.layers import Image, Labels, Layer, Points, Shapes

from napari_engine.client.napari_compat import kind_of
from napari_engine.protocol import Op
from napari_engine.protocol.ops import ARRAY_DTYPES, LABEL_DTYPES
from napari_engine.protocol.properties import properties_of, to_wire

NOT_MIRRORED = ("{kind} layers are not mirrored by napari-engine yet: image, labels, "
                "points and shapes layers are")


def array_payload(data: Any, kind: str) -> tuple[dict[str, Any], bytes]:
    """An array as ``add_image``/``add_labels`` arguments and payload."""
    array = np.ascontiguousarray(np.asarray(data))
    allowed = LABEL_DTYPES if kind == "labels" else tuple(ARRAY_DTYPES)
    if array.dtype.name not in allowed:
        raise TypeError(f"{kind} data of dtype {array.dtype} cannot be sent; use one of "
                        f"{', '.join(allowed)}")
    return {"shape": list(array.shape), "dtype": array.dtype.name}, array.tobytes()


def layer_command(layer: Layer) -> tuple[Op, dict[str, Any], bytes | None]:
    """The operation, arguments and payload that make ``layer`` on the server. Raises
    ``NotImplementedError`` for what cannot travel (a layer kind the protocol does not
    mirror, a multiscale image made here) and ``TypeError`` for data it refuses."""
    kind = kind_of(layer)
    props = {p.name: to_wire(p, getattr(layer, p.name)) for p in properties_of(kind)
             if p.initial is not None}
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
        if layer.multiscale:
            raise NotImplementedError(
                f"a multiscale {kind} layer made here cannot be sent to the napari-engine "
                "server; open its data on the server instead")
        args, payload = array_payload(layer.data, kind)
        op = Op.LAYER_ADD_LABELS if isinstance(layer, Labels) else Op.LAYER_ADD_IMAGE
        return op, {**args, "props": props}, payload
    raise NotImplementedError(NOT_MIRRORED.format(kind=kind))
