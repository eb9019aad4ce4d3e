"""Keep a local napari ``ViewerModel`` in step with a server session.

This is what lets the real napari GUI act on remote data: its layer list, layer controls
and dims sliders work on a local ViewerModel whose layers hold no voxels (zero-stride
placeholder arrays of the server layers' shapes and dtypes). Server state flows into the
model; edits made on the model flow out as protocol commands. Two rules keep the two
directions from fighting:

* while server state is being applied, the model's own events are not sent back;
* a local edit is recorded in the connection's ``StateMirror`` under its command id, so
  a server patch older than the edit cannot undo it (see ``protocol/mirror.py``).

The bridge must only touch the model on the model's thread: the connection calls it on
the network thread, and ``post`` hands the work over (in the Qt client, to the GUI
thread; in tests, to a queue the test drains).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Points, Shapes

from napari_engine.client.connection import Connection
from napari_engine.protocol import StateMirror

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]

CAMERA_FIELDS = ("center", "zoom", "angles", "perspective")
DIMS_FIELDS = ("ndisplay", "order", "current_step")
#: Layer properties mirrored both ways, per layer type, in the order they are applied.
IMAGE_PROPERTIES = ("name", "visible", "opacity", "blending", "contrast_limits", "colormap",
                    "gamma", "interpolation2d", "interpolation3d", "rendering", "depiction",
                    "iso_threshold", "attenuation", "mode")
LABELS_PROPERTIES = ("name", "visible", "opacity", "blending", "rendering", "mode",
                     "selected_label", "brush_size", "contour")
POINTS_PROPERTIES = ("name", "visible", "opacity", "blending", "mode", "current_size",
                     "current_face_color")
SHAPES_PROPERTIES = ("name", "visible", "opacity", "blending", "mode", "current_edge_width",
                     "current_face_color", "current_edge_color")
PROPERTIES = {"image": IMAGE_PROPERTIES, "labels": LABELS_PROPERTIES,
              "points": POINTS_PROPERTIES, "shapes": SHAPES_PROPERTIES}
ALL_PROPERTIES = frozenset(IMAGE_PROPERTIES + LABELS_PROPERTIES + POINTS_PROPERTIES
                           + SHAPES_PROPERTIES)


def placeholder(shape: list[int], dtype: str) -> np.ndarray:
    """An array of ``shape`` that costs no memory: every element is the same zero."""
    return np.broadcast_to(np.zeros((), dtype=np.dtype(dtype)), tuple(shape))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        try:
            return bool(np.allclose(np.asarray(a, float), np.asarray(b, float)))
        except (TypeError, ValueError):
            return list(a) == list(b)
    return bool(a == b)


def _wire(value: Any, cast: type) -> Any:
    """A napari value (tuples, numpy scalars) as the plain JSON the protocol carries."""
    if isinstance(value, tuple | list | np.ndarray):
        return [cast(v) for v in value]
    return cast(value)


def _flat(section: str, key: str, value: Any) -> Callable[[StateMirror, int], None]:
    """Record an optimistic change of ``section.key`` in the mirror under the command id."""
    return lambda mirror, cid: mirror.set_local(section, key, value, cid)


def _local_value(layer: Layer, prop: str) -> Any:
    value = getattr(layer, prop)
    if prop == "colormap":
        return value.name
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, list | tuple | np.ndarray):
        return [float(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return str(value) if not isinstance(value, bool | int | float) else value


def _apply_selected_data(layer: Points | Shapes, state: dict[str, Any]) -> None:
    selected = set(state.get("selected_data", []))
    if selected != set(layer.selected_data):
        layer.selected_data = selected


class ViewerBridge:
    """Mirrors one server session into ``viewer`` and sends ``viewer``'s edits back."""

    def __init__(self, connection: Connection, viewer: ViewerModel,
                 post: Post | None = None) -> None:
        self.connection = connection
        self.viewer = viewer
        self._post: Post = post or (lambda fn: fn())
        self._applying = False
        self._by_id: dict[int, Layer] = {}
        #: called with each status reply before the model shows it (the GUI keeps a copy
        #: for napari's status thread)
        self.on_status: Callable[[dict[str, Any]], None] | None = None
        self._connect_model()
        connection.on_state(lambda _changed: self._post(self.apply))
        connection.on_connection(lambda state: self._post(lambda: self._on_connection(state)))
        self._post(self.apply)

    # -- server -> model -------------------------------------------------------------
    def apply(self) -> None:
        """Bring the model up to the mirror's current state (on the model's thread)."""
        with self.connection.lock:
            state = self.connection.mirror.state
            layers = [dict(layer) for layer in state["layers"]]
            dims, camera = dict(state["dims"]), dict(state["camera"])
            selection = dict(state["selection"])
        self._applying = True
        try:
            self._apply_layers(layers)
            self._apply_fields(self.viewer.dims, dims, DIMS_FIELDS)
            self._apply_fields(self.viewer.camera, camera, CAMERA_FIELDS)
            self._apply_selection(selection)
        finally:
            self._applying = False

    @staticmethod
    def _apply_fields(target: Any, values: dict[str, Any], fields: tuple[str, ...]) -> None:
        for name in fields:
            if name in values and values[name] is not None:
                value = values[name]
                if not _same(getattr(target, name), value):
                    setattr(target, name, tuple(value) if isinstance(value, list) else value)

    def _apply_layers(self, layers: list[dict[str, Any]]) -> None:
        wanted = [layer["id"] for layer in layers]
        for layer_id in [i for i in self._by_id if i not in wanted]:
            self.viewer.layers.remove(self._by_id.pop(layer_id))
        for index, state in enumerate(layers):
            local = self._by_id.get(state["id"])
            if local is None:
                local = self._create_layer(state)
                if local is None:
                    continue
                self._by_id[state["id"]] = local
                self.viewer.layers.insert(index, local)
            self._apply_layer_properties(local, state)
        self._apply_order(wanted)

    def _create_layer(self, state: dict[str, Any]) -> Layer | None:
        kind = state.get("type")
        if kind not in PROPERTIES:
            log.warning("layer %r: %s layers are not mirrored yet", state.get("name"), kind)
            return None
        if kind == "points":
            # coordinates are small metadata and are mirrored; they are drawn by the server
            return Points(self._points(state), ndim=state["ndim"], name=state["name"],
                          scale=state.get("scale"), translate=state.get("translate"),
                          axis_labels=state.get("axis_labels"))
        if kind == "shapes":
            layer = Shapes(ndim=state["ndim"], name=state["name"], scale=state.get("scale"),
                           translate=state.get("translate"),
                           axis_labels=state.get("axis_labels"))
            self._apply_shapes(layer, state)
            return layer
        shapes = state.get("level_shapes") or [state["shape"]]
        data: Any = [placeholder(s, state["dtype"]) for s in shapes]
        if kind == "labels":
            return Labels(data if len(data) > 1 else data[0], multiscale=len(data) > 1,
                          name=state["name"], scale=state.get("scale"),
                          translate=state.get("translate"),
                          axis_labels=state.get("axis_labels"))
        layer = Image(data if len(data) > 1 else data[0], multiscale=len(data) > 1,
                      name=state["name"], rgb=state.get("rgb", False),
                      scale=state.get("scale"), translate=state.get("translate"),
                      contrast_limits=state.get("contrast_limits"),
                      axis_labels=state.get("axis_labels"))
        layer.contrast_limits_range = state["contrast_limits_range"]
        return layer

    @staticmethod
    def _points(state: dict[str, Any]) -> np.ndarray:
        if state.get("data"):
            return np.asarray(state["data"], dtype=float)
        return np.zeros((0, int(state["ndim"])))

    def _apply_points(self, layer: Points, state: dict[str, Any]) -> None:
        if state.get("data") is not None:
            data = self._points(state)
            if data.shape != layer.data.shape or not np.allclose(data, layer.data):
                layer.data = data
        _apply_selected_data(layer, state)

    @staticmethod
    def _apply_shapes(layer: Shapes, state: dict[str, Any]) -> None:
        data, kinds = state.get("data"), state.get("shape_type")
        if data is None or kinds is None:
            return
        local = [shape.tolist() for shape in layer.data]
        if local != data or [str(t) for t in layer.shape_type] != kinds:
            layer.data = []
            if data:
                layer.add([np.asarray(shape, dtype=float) for shape in data],
                          shape_type=kinds)
        _apply_selected_data(layer, state)

    def _apply_layer_properties(self, layer: Layer, state: dict[str, Any]) -> None:
        if isinstance(layer, Points):
            self._apply_points(layer, state)
        elif isinstance(layer, Shapes):
            self._apply_shapes(layer, state)
        if "contrast_limits_range" in state and not _same(layer.contrast_limits_range,
                                                          state["contrast_limits_range"]):
            layer.contrast_limits_range = state["contrast_limits_range"]
        for prop in PROPERTIES.get(state.get("type", ""), ()):
            if prop in state and hasattr(layer, prop) and not _same(_local_value(layer, prop),
                                                                    state[prop]):
                try:
                    setattr(layer, prop, state[prop])
                except (ValueError, TypeError, KeyError):
                    log.warning("cannot show %s=%r locally", prop, state[prop])

    def _apply_order(self, wanted: list[int]) -> None:
        target = [self._by_id[i] for i in wanted if i in self._by_id]
        for index, layer in enumerate(target):
            current = self.viewer.layers.index(layer)
            if current != index:
                self.viewer.layers.move(current, index)

    def _apply_selection(self, selection: dict[str, Any]) -> None:
        selected = [self._by_id[i] for i in selection.get("selected", []) if i in self._by_id]
        if set(selected) != set(self.viewer.layers.selection):
            self.viewer.layers.selection.clear()
            self.viewer.layers.selection.update(selected)
        active = self._by_id.get(selection.get("active"))  # type: ignore[arg-type]
        if active is not None and self.viewer.layers.selection.active is not active:
            self.viewer.layers.selection.active = active

    def _on_connection(self, state: str) -> None:
        """After a reconnect, put the server's camera and dims back where this viewer is
        (the server may have restarted; its session then starts from its defaults)."""
        if state != "connected":
            return
        camera, dims = self.viewer.camera, self.viewer.dims
        for name in ("ndisplay", "current_step"):
            value = _wire(getattr(dims, name), int)
            if not isinstance(value, list) or len(value) == self._mirrored("dims", "ndim"):
                self._send("dims.set", {name: value}, _flat("dims", name, value))
        for name in CAMERA_FIELDS:
            value = _wire(getattr(camera, name), float)
            self._send("camera.set", {name: value}, _flat("camera", name, value))

    # -- model -> server -------------------------------------------------------------
    def _connect_model(self) -> None:
        viewer = self.viewer
        for name in CAMERA_FIELDS:
            getattr(viewer.camera.events, name).connect(self._on_camera)
        for name in DIMS_FIELDS:
            getattr(viewer.dims.events, name).connect(self._on_dims)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.layers.events.moved.connect(self._on_moved)
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.selection.events.changed.connect(self._on_selection)
        viewer.cursor.events.position.connect(self._on_cursor)

    def _send(self, op: str, args: dict[str, Any],
              local: Callable[[StateMirror, int], None] | None = None) -> None:
        try:
            self.connection.send_command(op, args, local=local)
        except Exception as exc:  # not connected, or a value the protocol refuses
            log.warning("%s not sent: %s", op, exc)

    def _mirrored(self, section: str, key: str) -> Any:
        with self.connection.lock:
            return self.connection.mirror.state[section].get(key)

    def _on_camera(self, event: Any) -> None:
        if self._applying:
            return
        value = _wire(event.value, float)
        if _same(self._mirrored("camera", event.type), value):
            return  # already the server's value: nothing to say
        self._send("camera.set", {event.type: value}, _flat("camera", event.type, value))

    def _on_dims(self, event: Any) -> None:
        if self._applying:
            return
        value = _wire(getattr(self.viewer.dims, event.type), int)
        if isinstance(value, list) and len(value) != self._mirrored("dims", "ndim"):
            return  # a transient local layout (layers still arriving), not a user's step
        if _same(self._mirrored("dims", event.type), value):
            return
        self._send("dims.set", {event.type: value}, _flat("dims", event.type, value))

    def _on_layer_property(self, event: Any) -> None:
        if self._applying:
            return
        layer = event.source
        layer_id = self._id_of(layer)
        prop = event.type
        if layer_id is None or prop not in ALL_PROPERTIES:
            return
        value = _local_value(layer, prop)
        with self.connection.lock:
            mirrored = self.connection.mirror.layer(layer_id)
        if mirrored is not None and _same(mirrored.get(prop), value):
            return
        self._send("layer.set", {"layer": layer_id, "props": {prop: value}},
                   lambda mirror, cid: mirror.set_local_layer(layer_id, prop, value, cid))

    def _watch(self, layer: Layer, watch: bool) -> None:
        """(Dis)connect the layer's property events that are mirrored to the server."""
        for prop in ALL_PROPERTIES:
            emitter = getattr(layer.events, prop, None)
            if emitter is not None:
                if watch:
                    emitter.connect(self._on_layer_property)
                else:
                    emitter.disconnect(self._on_layer_property)

    def _on_inserted(self, event: Any) -> None:
        layer = event.value
        self._watch(layer, True)
        if not self._applying:
            log.warning("layer %r was added only locally; adding layers from the GUI is not "
                        "supported yet", layer.name)

    def _on_removed(self, event: Any) -> None:
        layer = event.value
        self._watch(layer, False)
        if self._applying:
            return
        layer_id = self._id_of(layer)
        if layer_id is not None:
            del self._by_id[layer_id]
            self._send("layer.remove", {"layer": layer_id})

    def _on_moved(self, event: Any) -> None:
        if self._applying:
            return
        layer = event.value
        layer_id = self._id_of(layer)
        if layer_id is not None:
            self._send("layer.move", {"layer": layer_id,
                                      "index": self.viewer.layers.index(layer)})

    def _on_cursor(self, _event: Any) -> None:
        """Ask the server for the status bar text at the cursor (the value under it comes
        from the real data, which only the server has)."""
        if self._applying or not self.viewer.mouse_over_canvas:
            return
        position = [float(v) for v in self.viewer.cursor.position]
        try:
            self.connection.send_command("cursor.set", {"position": position},
                                         on_reply=self._on_status_reply)
        except Exception as exc:
            log.debug("cursor not sent: %s", exc)

    def _on_status_reply(self, result: Any) -> None:
        if isinstance(result, dict) and "status" in result:
            self._post(lambda: self._show_status(result))

    def _show_status(self, result: dict[str, Any]) -> None:
        if self.on_status is not None:
            self.on_status(result)
        self.viewer.status = result["status"]
        self.viewer.tooltip.text = result.get("tooltip", "")
        if result.get("help"):
            self.viewer.help = result["help"]

    def _on_selection(self, _event: Any) -> None:
        if self._applying:
            return
        selection = self.viewer.layers.selection
        ids = [i for i, layer in self._by_id.items() if layer in selection]
        active = self._id_of(selection.active) if selection.active is not None else None
        if active in ids:  # the server makes the last one active
            ids.remove(active)
            ids.append(active)
        self._send("layer.select", {"layers": ids})

    def _id_of(self, layer: Layer) -> int | None:
        for layer_id, local in self._by_id.items():
            if local is layer:
                return layer_id
        return None
