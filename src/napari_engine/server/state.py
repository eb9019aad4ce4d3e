"""Snapshots of a napari ViewerModel as plain JSON-ready dicts, for the wire.

Public napari API only. Layer properties are read as the protocol's property table says
(``protocol/properties.py``), overlay fields as the overlay table says
(``protocol/overlays.py``). A snapshot has the sections the protocol names (``camera``,
``dims``, ``canvas``, ``layers``, ``selection``, ``overlays``); the session diffs
consecutive snapshots per section and sends only the sections that changed. Layers get
small integer ids that stay with the layer object for its lifetime (names can change).
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Points, Shapes, Surface, Tracks, Vectors

from napari_engine.protocol.overlays import OVERLAYS, model_of, overlay_to_wire
from napari_engine.protocol.properties import (
    MAX_ITEMS,
    Wire,
    colormap_definition,
    properties_of,
    to_wire,
)
from napari_engine.server import napari_compat


class LayerIds:
    """Stable integer ids for layer objects, per session."""

    def __init__(self) -> None:
        self._ids: weakref.WeakKeyDictionary[Layer, int] = weakref.WeakKeyDictionary()
        self._counter = itertools.count(1)

    def id_of(self, layer: Layer) -> int:
        if layer not in self._ids:
            self._ids[layer] = next(self._counter)
        return self._ids[layer]

    def find(self, viewer: ViewerModel, layer_id: int) -> Layer | None:
        for layer in viewer.layers:
            if self._ids.get(layer) == layer_id:
                return layer
        return None


def _plain(value: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and enums into JSON-ready values."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def camera_state(viewer: ViewerModel) -> dict[str, Any]:
    cam = viewer.scene.camera
    return {"center": _plain(cam.center), "zoom": float(cam.zoom), "angles": _plain(cam.angles),
            "perspective": float(cam.perspective)}


def dims_state(viewer: ViewerModel) -> dict[str, Any]:
    dims = viewer.dims
    return {"ndim": dims.ndim, "ndisplay": dims.ndisplay, "order": _plain(dims.order),
            "current_step": _plain(dims.current_step), "nsteps": _plain(dims.nsteps),
            "range": _plain(dims.range), "point": _plain(dims.point),
            "axis_labels": _plain(dims.axis_labels)}


def canvas_state(viewer: ViewerModel, pixel_ratio: float = 1.0) -> dict[str, Any]:
    height, width = viewer.canvas.size
    return {"width": int(width), "height": int(height), "pixel_ratio": float(pixel_ratio)}


MAX_POINTS_IN_STATE = MAX_ITEMS
MAX_SHAPES_IN_STATE = 10_000


def _levels(layer: Image | Labels) -> dict[str, Any]:
    """The shapes and dtype of an image or labels layer's data (level 0 first)."""
    levels = list(layer.data) if layer.multiscale else [layer.data]
    return {"shape": [int(s) for s in levels[0].shape],
            "dtype": str(np.dtype(levels[0].dtype)),
            "multiscale": bool(layer.multiscale), "levels": len(levels),
            "level_shapes": [[int(s) for s in level.shape] for level in levels]}


def _structure(layer: Layer) -> dict[str, Any]:
    """What a layer is made of (fixed at creation, or coordinates for points/shapes)."""
    if isinstance(layer, Image | Labels):
        return _levels(layer)
    if isinstance(layer, Points):
        count = len(layer.data)
        # coordinates are metadata, not voxels; past a bound only the count travels
        return {"count": count,
                "data": layer.data.tolist() if count <= MAX_POINTS_IN_STATE else None}
    if isinstance(layer, Shapes):
        count = int(layer.nshapes)
        small = count <= MAX_SHAPES_IN_STATE
        return {"count": count,
                "data": [shape.tolist() for shape in layer.data] if small else None,
                "shape_type": [str(t) for t in layer.shape_type] if small else None}
    if isinstance(layer, Vectors | Tracks):
        count = len(layer.data)
        return {"count": count,
                "data": layer.data.tolist() if count <= MAX_POINTS_IN_STATE else None}
    if isinstance(layer, Surface):
        vertices, faces, values = layer.data[:3]
        small = len(vertices) <= MAX_POINTS_IN_STATE and len(faces) <= MAX_POINTS_IN_STATE
        return {"count": len(vertices),
                "data": [np.asarray(part).tolist() for part in (vertices, faces, values)]
                if small else None}
    return {}


def layer_kind(layer: Layer) -> str:
    return type(layer).__name__.lower()


def layer_state(layer: Layer, layer_id: int) -> dict[str, Any]:
    """One layer as the wire carries it: its structure and every property of its kind
    in the property table."""
    kind = layer_kind(layer)
    state: dict[str, Any] = {"id": layer_id, "type": kind, "ndim": int(layer.ndim),
                             **_structure(layer)}
    # each item's own values travel with the items' coordinates, or stay here with them
    many = "count" in state and state.get("data") is None
    for prop in properties_of(kind):
        value = (napari_compat.user_locked_level(layer) if prop.name == "locked_data_level"
                 else getattr(layer, prop.name))  # the server's 3D level is its own
        wire = None if prop.per_item and many else to_wire(prop, value)
        if (prop.wire is Wire.COLORMAP and isinstance(wire, str)
                and not napari_compat.builtin_colormap(wire)):
            wire = colormap_definition(value)  # made here: clients know it defined
        state[prop.name] = wire
    return state


def selection_state(viewer: ViewerModel, ids: LayerIds) -> dict[str, Any]:
    active = viewer.layers.selection.active
    return {"selected": sorted(ids.id_of(layer) for layer in viewer.layers.selection),
            "active": ids.id_of(active) if active is not None else None}


def overlays_state(viewer: ViewerModel) -> dict[str, Any]:
    """The canvas overlays the server draws, as the overlay table says."""
    return {name: {f.name: overlay_to_wire(f, getattr(model_of(viewer.canvas, name), f.name))
                   for f in fields} for name, fields in OVERLAYS.items()}


def snapshot(viewer: ViewerModel, ids: LayerIds, pixel_ratio: float = 1.0) -> dict[str, Any]:
    """The whole client-visible state of ``viewer`` (drawn at ``pixel_ratio``)."""
    return {
        "camera": camera_state(viewer),
        "dims": dims_state(viewer),
        "canvas": canvas_state(viewer, pixel_ratio),
        "layers": [layer_state(layer, ids.id_of(layer)) for layer in viewer.layers],
        "selection": selection_state(viewer, ids),
        "overlays": overlays_state(viewer),
    }


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The sections of ``new`` that differ from ``old`` (all of them if there is no old)."""
    if old is None:
        return dict(new)
    return {key: value for key, value in new.items() if old.get(key) != value}
