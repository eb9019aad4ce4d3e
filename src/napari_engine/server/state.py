"""Snapshots of a napari ViewerModel as plain JSON-ready dicts, for the wire.

Public napari API only. A snapshot has the sections the protocol names (``camera``,
``dims``, ``canvas``, ``layers``, ``selection``); the session diffs consecutive snapshots
per section and sends only the sections that changed. Layers get small integer ids that
stay with the layer object for its lifetime (names can change).
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Points, Shapes


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
    cam = viewer.camera
    return {"center": _plain(cam.center), "zoom": float(cam.zoom), "angles": _plain(cam.angles),
            "perspective": float(cam.perspective)}


def dims_state(viewer: ViewerModel) -> dict[str, Any]:
    dims = viewer.dims
    return {"ndim": dims.ndim, "ndisplay": dims.ndisplay, "order": _plain(dims.order),
            "current_step": _plain(dims.current_step), "nsteps": _plain(dims.nsteps),
            "range": _plain(dims.range), "point": _plain(dims.point),
            "axis_labels": _plain(dims.axis_labels)}


def canvas_state(viewer: ViewerModel) -> dict[str, Any]:
    height, width = viewer.canvas.size
    return {"width": int(width), "height": int(height)}


def _data_shape(layer: Layer) -> tuple[list[int], str]:
    data = layer.data
    level0 = data[0] if getattr(layer, "multiscale", False) else data
    return [int(s) for s in level0.shape], str(np.dtype(level0.dtype))


def layer_state(layer: Layer, layer_id: int) -> dict[str, Any]:
    state: dict[str, Any] = {
        "id": layer_id,
        "name": layer.name,
        "type": type(layer).__name__.lower(),
        "visible": bool(layer.visible),
        "opacity": float(layer.opacity),
        "blending": str(layer.blending),
        "ndim": int(layer.ndim),
        "scale": _plain(layer.scale),
        "translate": _plain(layer.translate),
        "axis_labels": _plain(layer.axis_labels),
        "units": [str(u) for u in layer.units],
        "mode": str(layer.mode),
    }
    if isinstance(layer, Image):
        shape, dtype = _data_shape(layer)
        state.update({
            "shape": shape,
            "dtype": dtype,
            "multiscale": bool(layer.multiscale),
            "levels": len(layer.data) if layer.multiscale else 1,
            "level_shapes": [[int(s) for s in level.shape] for level in
                             (layer.data if layer.multiscale else [layer.data])],
            "rgb": bool(layer.rgb),
            "contrast_limits": _plain(layer.contrast_limits),
            "contrast_limits_range": _plain(layer.contrast_limits_range),
            "colormap": layer.colormap.name,
            "gamma": float(layer.gamma),
            "interpolation2d": str(layer.interpolation2d),
            "interpolation3d": str(layer.interpolation3d),
            "rendering": str(layer.rendering),
            "depiction": str(layer.depiction),
            "iso_threshold": float(layer.iso_threshold),
            "attenuation": float(layer.attenuation),
        })
    if isinstance(layer, Labels):
        shape, dtype = _data_shape(layer)
        state.update({
            "shape": shape, "dtype": dtype, "multiscale": bool(layer.multiscale),
            "levels": len(layer.data) if layer.multiscale else 1,
            "level_shapes": [[int(s) for s in level.shape] for level in
                             (layer.data if layer.multiscale else [layer.data])],
            "selected_label": int(layer.selected_label), "brush_size": float(layer.brush_size),
            "contour": int(layer.contour), "rendering": str(layer.rendering),
        })
    if isinstance(layer, Points):
        count = len(layer.data)
        state.update({
            "count": count,
            # coordinates are metadata, not voxels; past a bound only the count travels
            "data": layer.data.tolist() if count <= MAX_POINTS_IN_STATE else None,
            "selected_data": sorted(int(i) for i in layer.selected_data),
            "current_size": float(np.mean(layer.current_size)),
            "current_face_color": _hex(layer.current_face_color),
        })
    if isinstance(layer, Shapes):
        count = int(layer.nshapes)
        state.update({
            "count": count,
            "data": ([shape.tolist() for shape in layer.data]
                     if count <= MAX_SHAPES_IN_STATE else None),
            "shape_type": [str(t) for t in layer.shape_type] if count <= MAX_SHAPES_IN_STATE
            else None,
            "selected_data": sorted(int(i) for i in layer.selected_data),
            "current_edge_width": float(layer.current_edge_width),
            "current_face_color": _hex(layer.current_face_color),
            "current_edge_color": _hex(layer.current_edge_color),
        })
    return state


MAX_POINTS_IN_STATE = 100_000
MAX_SHAPES_IN_STATE = 10_000


def _hex(color: Any) -> str:
    if isinstance(color, str):
        return color
    rgba = np.asarray(color, float).ravel()
    return "#" + "".join(f"{int(c * 255 + 0.5):02x}" for c in rgba[:4])


def selection_state(viewer: ViewerModel, ids: LayerIds) -> dict[str, Any]:
    active = viewer.layers.selection.active
    return {"selected": sorted(ids.id_of(layer) for layer in viewer.layers.selection),
            "active": ids.id_of(active) if active is not None else None}


def snapshot(viewer: ViewerModel, ids: LayerIds) -> dict[str, Any]:
    """The whole client-visible state of ``viewer``."""
    return {
        "camera": camera_state(viewer),
        "dims": dims_state(viewer),
        "canvas": canvas_state(viewer),
        "layers": [layer_state(layer, ids.id_of(layer)) for layer in viewer.layers],
        "selection": selection_state(viewer, ids),
    }


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The sections of ``new`` that differ from ``old`` (all of them if there is no old)."""
    if old is None:
        return dict(new)
    return {key: value for key, value in new.items() if old.get(key) != value}
