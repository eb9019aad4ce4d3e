"""Keep a local napari ``ViewerModel`` in step with a server session, both ways.

This is what makes the client's viewer napari's own: its layer list, layers, camera and
dims are a real ``ViewerModel`` whose layers hold no voxels (zero-stride placeholder
arrays of the server layers' shapes and dtypes; the coordinates of points and shapes,
which are small). Server state flows into the model; edits made on the model (by a
script, or by napari's widgets) flow out as protocol commands. Which layer properties
travel, and how their values convert, comes from the protocol's property table.

Two rules keep the two directions from fighting:

* while server state is being applied, the model's own events are not sent back (per
  thread: a script's edit on another thread at the same moment still goes out);
* a local edit is recorded in the connection's ``StateMirror`` under its command id, so
  a server patch older than the edit cannot undo it (see ``protocol/mirror.py``).

The bridge touches the model only on the model's thread: the connection calls it on the
network thread, and a ``Poster`` hands the work over (the Qt GUI thread in the window,
the script's own thread when it next uses its viewer, a queue in unit tests). However
many state changes arrive, one apply waits at a time.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Points, Shapes, Surface, Tracks, Vectors

from napari_engine.client.core import Local
from napari_engine.client.napari_compat import (
    ServerImage,
    ServerLabels,
    ServerPoints,
    ServerShapes,
    bind_server_data,
    compute_where_the_data_is,
    kind_of,
    server_class,
    set_loaded,
)
from napari_engine.client.remote_data import RemoteArray
from napari_engine.client.uploads import (
    array_payload,
    arrays_payload,
    layer_command,
    many_coordinates,
    numpy_dtype,
    sent,
    shapes_arrays,
)
from napari_engine.client.window_stats import WindowStats
from napari_engine.protocol import LayerKind, Op, StateMirror
from napari_engine.protocol.overlays import OVERLAYS, OverlayField, model_of, overlay_to_wire
from napari_engine.protocol.properties import (
    LAYER_PROPERTIES,
    LayerProperty,
    Wire,
    from_wire,
    is_colormap_definition,
    label_colormap_arguments,
    properties_of,
    to_wire,
)
from napari_engine.protocol.regions import Region

log = logging.getLogger(__name__)

CAMERA_FIELDS = ("center", "zoom", "angles", "perspective")
DIMS_FIELDS = ("ndisplay", "order", "current_step")
MIRRORED_KINDS = frozenset(LayerKind)
#: applies in a row while scripts keep editing (each round sees their edits so far)
MAX_APPLY_ROUNDS = 3
#: properties a layer is made with, not set afterwards
_AT_CREATION = frozenset({"rgb"})
#: napari layer properties that are the window's or the script's own business (the
#: pointer, napari's help text, locks, metadata, what a new feature row defaults to; the
#: ``current_*`` that napari takes from a selected point as it is selected)
_LOCAL_ONLY = frozenset({
    "cursor", "cursor_size", "help", "mouse_pan", "mouse_zoom", "editable", "thumbnail",
    "data", "metadata", "locked", "scale_factor", "feature_defaults", "current_properties",
    "properties"})
#: how long napari's questions about the data (auto-contrast, histogram) wait for the server
ASK_TIMEOUT_S = 30.0


def _napari_value(prop: LayerProperty, value: Any) -> Any:
    """A state value as napari's layer takes it (a defined colormap is made: a labels
    layer's, or an image's the server made from a file's LUT or a client's colours)."""
    if prop.wire is Wire.COLORMAP and isinstance(value, dict):
        from napari.utils import colormaps

        if is_colormap_definition(value):
            return colormaps.ensure_colormap(dict(value))
        name, arguments = label_colormap_arguments(value)
        return getattr(colormaps, name)(**arguments)
    return from_wire(prop, value)


def _as_shown(wire: Any, value: Any) -> Any:
    """``wire`` (this model's value) as comparable with ``value`` (the state's): an
    image's colormap the state defines is the one named so here."""
    if is_colormap_definition(value) and isinstance(wire, str):
        return value if wire == value.get("name") else wire
    return wire


class SessionLink(Protocol):
    """What the bridge needs of a connection (``Connection`` is one; tests use an
    in-memory one)."""

    def read(self, fn: Callable[[dict[str, Any]], Any]) -> Any: ...

    def local_edits(self) -> int: ...

    def layer(self, layer_id: int) -> dict[str, Any] | None: ...

    def send_command(self, op: str, args: dict[str, Any] | None = None, *,
                     on_reply: Callable[[Any], None] | None = None,
                     local: Local | None = None, t: float | None = None,
                     payload: bytes | None = None) -> int: ...

    def request(self, op: str, args: dict[str, Any] | None = None, *,
                payload: bytes | None = None, timeout: float = 60.0) -> Any:
        """Send a command and wait for its answer (raises the server's refusal)."""
        ...

    def on_state(self, listener: Callable[[set[str]], None]) -> None: ...

    def on_connection(self, listener: Callable[[str], None]) -> None: ...


class Poster(Protocol):
    """Runs work on the model's thread (napari's models are not thread-safe: every
    change to one must come from one thread)."""

    def __call__(self, fn: Callable[[], None]) -> None: ...

    def on_own_thread(self) -> bool:
        """Whether the caller is on the model's thread already."""
        ...

    def drain(self) -> None:
        """On the model's thread: run what waits now, if the poster keeps it waiting."""
        ...


class InlinePoster:
    """Runs work at once, on the caller's thread (a model no other thread touches)."""

    def __call__(self, fn: Callable[[], None]) -> None:
        fn()

    def on_own_thread(self) -> bool:
        return True

    def drain(self) -> None:
        return None


def placeholder(shape: list[int], dtype: str) -> np.ndarray:
    """An array of ``shape`` that costs no memory: every element is the same zero."""
    return np.broadcast_to(np.zeros((), dtype=np.dtype(dtype)), tuple(shape))


def same(a: Any, b: Any) -> bool:
    """Equal as wire values (numbers compared with a tolerance)."""
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        try:
            x, y = np.asarray(a, float), np.asarray(b, float)
        except (TypeError, ValueError):
            return list(a) == list(b)
        return x.shape == y.shape and bool(np.allclose(x, y))
    return bool(a == b)


def _wire_numbers(value: Any, cast: type) -> Any:
    """A napari camera or dims value (tuples, numpy scalars) as plain JSON."""
    if isinstance(value, tuple | list | np.ndarray):
        return [cast(v) for v in value]
    return cast(value)


def _flat(section: str, key: str, value: Any) -> Local:
    """Record an optimistic change of ``section.key`` in the mirror under the command id."""
    return lambda mirror, cid: mirror.set_local(section, key, value, cid)


def _data_shapes(layer: Layer) -> list[tuple[int, ...]]:
    """The shape of each level of an image's or labels layer's data as it is here
    (an RGB image's colour axis included, unlike napari's ``level_shapes``)."""
    levels = list(layer.data) if layer.multiscale else [layer.data]
    return [tuple(int(n) for n in level.shape) for level in levels]


def _reshaped(layer: Layer, state: dict[str, Any]) -> bool:
    """Whether an image's or labels layer's data here no longer has the shapes and
    dtype of the server's (another client replaced it)."""
    if not isinstance(layer, Image | Labels) or "shape" not in state:
        return False
    shapes = [tuple(shape) for shape in state.get("level_shapes") or [state["shape"]]]
    return (_data_shapes(layer) != shapes
            or numpy_dtype(layer.dtype) != numpy_dtype(state.get("dtype", layer.dtype)))


class ViewerBridge:
    """Mirrors one server session into ``viewer`` and sends ``viewer``'s edits back.

    ``strict``: a send that fails (not connected, a value the protocol refuses) raises
    in the code that made the edit (scripts); otherwise it is logged (a window, where
    napari's widgets made it and an exception would cut napari's event dispatch short)."""

    def __init__(self, connection: SessionLink, viewer: ViewerModel, post: Poster | None = None,
                 *, strict: bool = False, own_canvas: bool = False) -> None:
        self.connection = connection
        self.viewer = viewer
        self.post: Poster = post or InlinePoster()
        self.strict = strict
        #: the viewer's canvas size is the server's (scripts); a window sets its own
        self.mirror_canvas = not own_canvas
        #: physical pixels per canvas pixel of the window's display (2 on a Retina one):
        #: the server draws that many, so the picture is as sharp as napari's own
        self.pixel_ratio = 1.0
        self._local = threading.local()
        self._by_id: dict[int, Layer] = {}
        #: (layer kind, property) changed here that the protocol does not carry, told
        self._warned: set[tuple[str, str]] = set()
        #: layers taken out of the list whose removal has not been sent yet
        self._removing: dict[int, Layer] = {}
        #: where applying the server's state is timed (a window's ``WindowStats``)
        self.stats: WindowStats | None = None
        #: called with each status reply before the model shows it (the GUI keeps a copy
        #: for napari's status thread)
        self.on_status: Callable[[dict[str, Any]], None] | None = None
        self._apply_lock = threading.Lock()
        self._apply_waiting = False
        self._connect_model()
        # napari puts every layer in the list through ``insert``: a layer made here is
        # made on the server there (``_insert``)
        viewer.layers.insert = functools.partial(self._insert, viewer.layers.insert)
        connection.on_state(lambda _changed: self.request_apply())
        #: the link dropped: this model's camera and dims are put back on the server
        #: once it is up again (``_on_connection``), and until then the new server's are
        #: not applied here (its state may arrive before the link says it is up)
        self._view_to_restore = False
        connection.on_connection(self._on_link)
        self.request_apply()

    def _on_link(self, state: str) -> None:
        """The connection's thread: the link's state (a flag, then the model's thread)."""
        if state == "disconnected":
            self._view_to_restore = True
        self.post(lambda: self._on_connection(state))

    def request_apply(self) -> None:
        """Any thread: the mirror changed; one apply waits on the model's thread however
        many changes arrive before it runs (latest wins: it applies the mirror as it is
        then)."""
        with self._apply_lock:
            if self._apply_waiting:
                return
            self._apply_waiting = True
        self.post(self._apply_requested)

    def _apply_requested(self) -> None:
        with self._apply_lock:
            self._apply_waiting = False
        if self.stats is None:
            self.apply()
            return
        with self.stats.timed("model"):
            self.apply()

    @property
    def _applying(self) -> bool:
        return bool(getattr(self._local, "applying", False))

    def layer(self, layer_id: int) -> Layer | None:
        """The model's layer mirroring server layer ``layer_id``."""
        return self._by_id.get(layer_id)

    def show_selection_again(self) -> None:
        """Emit the server's selection afresh (a window opened on a viewer that had one
        shows it in its layer list only when it changes)."""
        self._local.applying = True
        try:
            self.viewer.layers.selection.clear()
        finally:
            self._local.applying = False
        self.apply()

    def catch_up(self, timeout: float = 30.0) -> None:
        """Return once the model shows everything the mirror holds now."""
        if self.post.on_own_thread():
            self.post.drain()
            self.apply()
            return
        done = threading.Event()

        def mark() -> None:
            self.apply()
            done.set()

        self.post(mark)
        if not done.wait(timeout):
            raise TimeoutError(f"the viewer model did not catch up within {timeout} s")

    # -- server -> model -------------------------------------------------------------
    def apply(self) -> None:
        """Bring the model up to the mirror's current state (on the model's thread).

        An edit may reach the mirror while this runs (a command queued by a widget's
        callback during the apply): ``local_edits`` counts them, and if one arrived
        meanwhile the model is brought up to the mirror again rather than left with the
        value read before it."""
        self._flush_removals()  # the server's list, and ours, without them
        for _ in range(MAX_APPLY_ROUNDS):
            edits, state = self.connection.read(lambda s: (self.connection.local_edits(), {
                "layers": [dict(layer) for layer in s["layers"]], "dims": dict(s["dims"]),
                "camera": dict(s["camera"]), "selection": dict(s["selection"]),
                "canvas": dict(s["canvas"]),
                "overlays": {k: dict(o) for k, o in s["overlays"].items()}}))
            self._local.applying = True
            try:
                self._apply_state(state)
            finally:
                self._local.applying = False
            if self.connection.local_edits() == edits:
                return

    def _apply_state(self, state: dict[str, Any]) -> None:
        self._apply_layers(state["layers"])
        if not self._view_to_restore:
            self._apply_fields(self.viewer.dims, state["dims"], DIMS_FIELDS)
            self._apply_fields(self.viewer.scene.camera, state["camera"], CAMERA_FIELDS)
        self._apply_selection(state["selection"])
        self._apply_overlays(state["overlays"])
        canvas = state["canvas"]
        if self.mirror_canvas and canvas.get("width"):
            size = (canvas["height"], canvas["width"])
            if tuple(self.viewer.canvas.size) != size:
                self.viewer.canvas.size = size

    @staticmethod
    def _apply_fields(target: Any, values: dict[str, Any], fields: tuple[str, ...]) -> None:
        for name in fields:
            value = values.get(name)
            if value is not None and not same(getattr(target, name), value):
                setattr(target, name, tuple(value) if isinstance(value, list) else value)

    def _apply_overlays(self, overlays: dict[str, dict[str, Any]]) -> None:
        for name, fields in OVERLAYS.items():
            values, overlay = overlays.get(name, {}), model_of(self.viewer.canvas, name)
            for field in fields:
                value = values.get(field.name)
                if field.name not in values or same(
                        overlay_to_wire(field, getattr(overlay, field.name)), value):
                    continue
                try:
                    setattr(overlay, field.name, value)
                except (ValueError, TypeError):
                    log.warning("cannot show %s.%s=%r locally", name, field.name, value)

    def _apply_layers(self, layers: list[dict[str, Any]]) -> None:
        wanted = [layer["id"] for layer in layers]
        for layer_id in [i for i in self._by_id if i not in wanted]:
            self.viewer.layers.remove(self._by_id.pop(layer_id))
        for index, state in enumerate(layers):
            local = self._by_id.get(state["id"])
            if local is not None and _reshaped(local, state):
                # its data was replaced elsewhere (``layer.data = a``): made anew here
                self.viewer.layers.remove(self._by_id.pop(state["id"]))
                local = None
            if local is None:
                local = self._create_layer(state)
                if local is None:
                    continue
                self._by_id[state["id"]] = local
                self.viewer.layers.insert(index, local)
            self._apply_layer(local, state)
        self._apply_order(wanted)

    def _create_layer(self, state: dict[str, Any]) -> Layer | None:
        kind = state.get("type")
        if kind not in MIRRORED_KINDS:
            log.warning("layer %r: %s layers are not mirrored yet", state.get("name"), kind)
            return None
        common = {"name": state["name"], "scale": state.get("scale"),
                  "translate": state.get("translate"), "axis_labels": state.get("axis_labels"),
                  "units": state.get("units")}
        if kind == LayerKind.POINTS:
            # coordinates are small metadata and are mirrored; they are drawn by the server
            return ServerPoints(self._points(state), ndim=state["ndim"], **common)
        if kind == LayerKind.SHAPES:
            made = ServerShapes(ndim=state["ndim"], **common)
            self._apply_shapes(made, state)
            return made
        if kind in (LayerKind.VECTORS, LayerKind.TRACKS, LayerKind.SURFACE):
            return self._coordinate_layer(kind, state, common)
        shapes = state.get("level_shapes") or [state["shape"]]
        levels = [placeholder(s, state["dtype"]) for s in shapes]
        data: Any = levels if len(levels) > 1 else levels[0]
        layer: Layer
        if kind == LayerKind.LABELS:
            layer = ServerLabels(data, multiscale=len(levels) > 1, **common)
        else:
            layer = ServerImage(data, multiscale=len(levels) > 1, rgb=state.get("rgb", False),
                                contrast_limits=state.get("contrast_limits"), **common)
        # napari slices it on every z step, and computes from its data: the server does
        compute_where_the_data_is(layer, self.data_range, self.histogram)
        self._bind(layer, int(state["id"]), [tuple(shape) for shape in shapes],
                   state["dtype"])
        return layer

    def _bind(self, layer: Layer, layer_id: int, shapes: list[tuple[int, ...]],
              dtype: str) -> None:
        """``layer.data`` reads (and a labels layer's writes) go to the server's layer."""
        writable = isinstance(layer, Labels) and len(shapes) == 1
        bind_server_data(layer, [
            RemoteArray(shape, dtype, self._reader(layer_id), level=level,
                        write=self._writer(layer_id) if writable else None, name=layer.name)
            for level, shape in enumerate(shapes)],
            lambda value: self._replace_data(layer, layer_id, value))

    def _replace_data(self, layer: Layer, layer_id: int, value: Any) -> Callable[[], None]:
        """``layer.data = value``: the server's layer takes it (waits: a refusal raises
        before anything changes here); returns what binds ``layer`` to the new data."""
        kind = kind_of(layer)
        args, payload = (arrays_payload(list(value), kind) if layer.multiscale
                         else array_payload(value, kind))
        self.connection.request(Op.LAYER_SET_DATA, {"layer": layer_id, **args},
                                payload=payload)

        def rebind() -> None:
            self._bind(layer, layer_id, _data_shapes(layer), numpy_dtype(layer.dtype).name)
        return rebind

    def _reader(self, layer_id: int) -> Callable[[int, Region], np.ndarray]:
        """Reads of a layer's voxels (``layer.data[...]``), from the server."""
        def read(level: int, region: Region) -> np.ndarray:
            values = self.connection.request(Op.LAYER_READ, {
                "layer": layer_id, "level": level, "region": [list(r) for r in region]},
                timeout=ASK_TIMEOUT_S)
            assert isinstance(values, np.ndarray)
            return values
        return read

    def _writer(self, layer_id: int) -> Callable[[Region, np.ndarray], None]:
        """Writes into a labels layer's data, on the server (waits for them to apply)."""
        def write(region: Region, values: np.ndarray) -> None:
            values = np.ascontiguousarray(values)
            self.connection.request(Op.LAYER_WRITE, {
                "layer": layer_id, "region": [list(r) for r in region],
                "dtype": values.dtype.name}, payload=values.tobytes(), timeout=ASK_TIMEOUT_S)
        return write

    @staticmethod
    def _coordinate_layer(kind: str, state: dict[str, Any],
                          common: dict[str, Any]) -> Layer | None:
        """A vectors, tracks or surface layer from its coordinates (small metadata, as
        points are: they are drawn by the server)."""
        data = state.get("data")
        if data is None:
            log.warning("layer %r: %s layer too large to mirror", state.get("name"), kind)
            return None
        if kind == LayerKind.VECTORS:
            return Vectors(np.asarray(data, float).reshape(-1, 2, state["ndim"]), **common)
        if kind == LayerKind.TRACKS:
            return Tracks(np.asarray(data, float), **common)
        vertices, faces, values = (np.asarray(part) for part in data)
        return Surface((vertices.astype(float), faces.astype(int), values.astype(float)),
                       **common)

    @staticmethod
    def _points(state: dict[str, Any]) -> np.ndarray:
        if state.get("data"):
            return np.asarray(state["data"], dtype=float)
        return np.zeros((0, int(state["ndim"])))

    def _apply_coordinates(self, layer: Layer, state: dict[str, Any]) -> None:
        if isinstance(layer, Points) and state.get("data") is not None:
            data = self._points(state)
            if data.shape != layer.data.shape or not np.allclose(data, layer.data):
                layer.data = data
        elif isinstance(layer, Shapes):
            self._apply_shapes(layer, state)

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

    def _apply_layer(self, layer: Layer, state: dict[str, Any]) -> None:
        """Coordinates first (a selection refers to them), then every property."""
        self._apply_coordinates(layer, state)
        for prop in properties_of(kind_of(layer)):
            if prop.name in _AT_CREATION or prop.name not in state:
                continue
            value = state[prop.name]
            if prop.per_item and (value is None or len(value) != len(layer.data)):
                # None: per-item values of more items than the state carries; values of
                # another count: of coordinates this model has moved on from (a newer
                # state follows; napari would paint them all white, and warn)
                continue
            if prop.name == "loaded":  # read-only in napari
                set_loaded(layer, bool(value))
            elif not same(_as_shown(to_wire(prop, getattr(layer, prop.name)), value), value):
                try:
                    setattr(layer, prop.name, _napari_value(prop, value))
                except (ValueError, TypeError, KeyError):
                    log.warning("cannot show %s=%r locally", prop.name, value)

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
        """After a reconnect, put the server's camera, dims and (for a window) canvas
        back where this viewer is (the server may have restarted; its session then
        starts from its defaults)."""
        if state != "connected":
            return
        self._view_to_restore = False
        camera, dims = self.viewer.scene.camera, self.viewer.dims
        for name in ("ndisplay", "current_step"):
            value = _wire_numbers(getattr(dims, name), int)
            if not isinstance(value, list) or len(value) == self._mirrored("dims", "ndim"):
                self._send(Op.DIMS_SET, {name: value}, _flat("dims", name, value))
        for name in CAMERA_FIELDS:
            value = _wire_numbers(getattr(camera, name), float)
            self._send(Op.CAMERA_SET, {name: value}, _flat("camera", name, value))
        if not self.mirror_canvas:
            self.send_canvas_size()
        for name in OVERLAYS:
            self._send_overlay(name)

    # -- model -> server -------------------------------------------------------------
    def _connect_model(self) -> None:
        viewer = self.viewer
        for name in CAMERA_FIELDS:
            getattr(viewer.scene.camera.events, name).connect(self._on_camera)
        for name in DIMS_FIELDS:
            # the server hears of a 2D/3D switch before napari's own reaction to it (the
            # camera's depth and the slider trade places): the server's napari reacts
            # the same way, from the same camera
            emitter = getattr(viewer.dims.events, name)
            if name == "ndisplay":
                emitter.connect(self._on_dims, position="first")
            else:
                emitter.connect(self._on_dims)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.layers.events.moved.connect(self._on_moved)
        viewer.layers.events.reordered.connect(self._on_reordered)
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.selection.events.changed.connect(self._on_selection)
        viewer.cursor.events.position.connect(self._on_cursor)
        viewer.canvas.events.size.connect(self.send_canvas_size)
        for name, fields in OVERLAYS.items():
            overlay = model_of(viewer.canvas, name)
            for field in fields:
                getattr(overlay.events, field.name).connect(
                    lambda _event, name=name: self._send_overlay(name))

    def data_range(self, layer: Layer, mode: str) -> tuple[float, float]:
        """napari's data range of ``layer`` (its current slice, or all its data), computed
        by the server on the real data; waits for the answer, as napari's own call
        returns it. While the server's own state is being applied, the layer keeps its
        limits (that state carries the server's)."""
        if self._applying:
            lo, hi = layer.contrast_limits
            return float(lo), float(hi)
        result = self.connection.request(Op.LAYER_DATA_RANGE, {
            "layer": self._server_id(layer), "mode": mode}, timeout=ASK_TIMEOUT_S)
        lo, hi = result["range"]
        return float(lo), float(hi)

    def histogram(self, layer: Layer, mode: str, bins: int, log_scale: bool
                  ) -> tuple[list[float], list[float]]:
        """napari's histogram of ``layer`` (``canvas``: the displayed slice, ``full``:
        all of it), computed by napari's model on the server's data."""
        result = self.connection.request(Op.LAYER_HISTOGRAM, {
            "layer": self._server_id(layer), "mode": mode, "bins": bins,
            "log_scale": log_scale}, timeout=ASK_TIMEOUT_S)
        return list(result["bin_edges"]), list(result["counts"])

    def _server_id(self, layer: Layer) -> int:
        layer_id = self.id_of(layer)
        if layer_id is None:
            raise ValueError(f"layer {layer.name!r} is not on the server")
        return layer_id

    def _send(self, op: Op, args: dict[str, Any], local: Local | None = None,
              on_reply: Callable[[Any], None] | None = None,
              payload: bytes | None = None) -> None:
        try:
            # the time of the edit: the first frame that shows it echoes it (latency)
            self.connection.send_command(op, args, local=local, on_reply=on_reply,
                                         t=time.perf_counter(), payload=payload)
        except Exception as exc:  # not connected, or a value the protocol refuses
            if self.strict:
                raise
            log.warning("%s not sent: %s", op, exc)

    def _mirrored(self, section: str, key: str) -> Any:
        return self.connection.read(lambda state: state[section].get(key))

    def _on_camera(self, event: Any) -> None:
        if self._applying:
            return
        value = _wire_numbers(event.value, float)
        if same(self._mirrored("camera", event.type), value):
            return  # already the server's value: nothing to say
        self._send(Op.CAMERA_SET, {event.type: value}, _flat("camera", event.type, value))

    def _on_dims(self, event: Any) -> None:
        if self._applying:
            return
        value = _wire_numbers(event.value, int)
        if isinstance(value, list) and len(value) != self._mirrored("dims", "ndim"):
            return  # a transient local layout (layers still arriving), not a user's step
        if same(self._mirrored("dims", event.type), value):
            return
        self._send(Op.DIMS_SET, {event.type: value}, _flat("dims", event.type, value))

    def _send_overlay(self, name: str) -> None:
        """The fields of canvas overlay ``name`` that differ from the server's (the
        server draws the overlay into its picture)."""
        if self._applying:
            return
        overlay = model_of(self.viewer.canvas, name)
        mirrored = self.connection.read(lambda state: dict(state["overlays"].get(name, {})))
        fields: tuple[OverlayField, ...] = OVERLAYS[name]
        changed = {f.name: value for f in fields
                   if not same(value := overlay_to_wire(f, getattr(overlay, f.name)),
                               mirrored.get(f.name))}
        if changed:
            shown = {**mirrored, **changed}
            self._send(Op.OVERLAY_SET, {"overlay": name, "props": changed},
                       lambda mirror, cid: mirror.set_local("overlays", name, shown, cid))

    def send_canvas_size(self, _event: Any = None) -> None:
        """The model's canvas size is the server's render target (a window's canvas
        changed size, or a script set it). A window's canvas may change size while the
        server's state is applied (a layer's controls appear): that size is sent too;
        a script's canvas follows its state, which is not echoed back."""
        if self._applying and self.mirror_canvas:
            return
        height, width = (int(v) for v in self.viewer.canvas.size)
        if width < 16 or height < 16:
            return
        ratio = self.pixel_ratio

        def local(mirror: StateMirror, cid: int) -> None:
            mirror.set_local("canvas", "width", width, cid)
            mirror.set_local("canvas", "height", height, cid)
            mirror.set_local("canvas", "pixel_ratio", ratio, cid)

        self._send(Op.CANVAS_RESIZE, {"width": width, "height": height, "pixel_ratio": ratio},
                   local)

    def _on_layer_property(self, event: Any) -> None:
        if self._applying:
            return
        layer = event.source
        if event.type == "data" and isinstance(layer, Points | Shapes):
            self._send_coordinates(layer, event)
            return
        prop = LAYER_PROPERTIES.get(event.type)
        if prop is None or not prop.applies_to(kind_of(layer)):
            self._not_sent(layer, str(event.type))
            return
        if not prop.settable:
            return
        layer_id = self.id_of(layer)
        if layer_id is None:
            return
        value = to_wire(prop, getattr(event, "value", None) if getattr(event, "value", None)
                        is not None else getattr(layer, prop.name))
        mirrored = self.connection.layer(layer_id)
        if mirrored is not None and same(_as_shown(value, mirrored.get(prop.name)),
                                         mirrored.get(prop.name)):
            return
        self._send(Op.LAYER_SET, {"layer": layer_id, "props": {
            prop.name: sent(prop, getattr(layer, prop.name))}},
                   lambda mirror, cid: mirror.set_local_layer(layer_id, prop.name, value, cid))

    def _not_sent(self, layer: Layer, name: str) -> None:
        """A napari layer property the protocol does not carry changed here: say so once
        (a warning: napari's window shows it), rather than let the server draw without
        it in silence."""
        kind = kind_of(layer)
        attr = getattr(type(layer), name, None)
        if (name in _LOCAL_ONLY or (kind, name) in self._warned
                or not isinstance(attr, property) or attr.fset is None):
            return
        self._warned.add((kind, name))
        warnings.warn(f"{kind} layers' {name!r} is not sent to the napari-engine server "
                      f"yet: the server draws {layer.name!r} without this change",
                      stacklevel=2)

    def _send_coordinates(self, layer: Points | Shapes, event: Any) -> None:
        """A points or shapes layer's coordinates changed here (``data = ...``, ``add``,
        ``remove_selected``, ...): the server's layer takes them whole, and this model
        keeps them meanwhile (an older state from the server must not undo them)."""
        action = str(getattr(event, "action", "") or "")
        layer_id = self.id_of(layer)
        if layer_id is None or action.endswith("ing"):  # napari's "adding": not yet
            return
        payload = None
        if isinstance(layer, Points):
            data: Any = np.asarray(layer.data, float).tolist()
            args: dict[str, Any] = {"layer": layer_id, "data": data}
            if many_coordinates(layer):  # one array in the payload
                arrays, payload = arrays_payload([np.asarray(layer.data, float)], "points")
                args = {"layer": layer_id, **arrays}
        else:
            data = [np.asarray(shape, float).tolist() for shape in layer.data]
            kinds = [str(kind) for kind in layer.shape_type]
            args = {"layer": layer_id, "data": data, "shape_type": kinds or "rectangle"}
            if many_coordinates(layer):  # three arrays in the payload
                arrays, payload = arrays_payload(shapes_arrays(layer), "shapes")
                args = {"layer": layer_id, **arrays}
        mirrored = self.connection.layer(layer_id)
        if mirrored is not None and mirrored.get("data") == data and (
                isinstance(layer, Points) or mirrored.get("shape_type") == kinds):
            return  # the server's already (the answer to an edit made there)

        def local(mirror: StateMirror, cid: int) -> None:
            mirror.set_local_layer(layer_id, "data", data, cid)
            if isinstance(layer, Shapes):
                mirror.set_local_layer(layer_id, "shape_type", kinds, cid)

        self._send(Op.LAYER_SET_COORDINATES, args, local, payload=payload)

    def _watch(self, layer: Layer, watch: bool) -> None:
        """(Dis)connect the layer's events: those of the properties that are mirrored to
        the server go out (``_on_layer_property``). One connection to the layer's event
        group, not one per property: napari counts the callbacks on some of them."""
        if watch:
            layer.events.connect(self._on_layer_property)
        else:
            layer.events.disconnect(self._on_layer_property)

    def _on_inserted(self, event: Any) -> None:
        self._watch(event.value, True)

    def _insert(self, insert: Callable[[int, Layer], None], index: int, layer: Any) -> None:
        """``viewer.layers.insert``, through which napari puts every layer in the list
        (``append``, ``extend``, every ``add_*``, readers, plugins, the new-layer
        buttons). A layer made here is made on the server first, from its data and
        properties, and this very object becomes the mirror of the server's layer (the
        object napari's ``add_*`` returned stays the layer). What cannot travel raises
        in a script, before anything is inserted; in a window the layer stays in the
        window only, and napari's notification says why."""
        if self._applying or not isinstance(layer, Layer) or self.id_of(layer) is not None:
            insert(index, layer)
            return
        try:
            layer_id = self._make_on_server(layer)
        except Exception as exc:
            if self.strict:
                raise
            from napari.utils.notifications import show_warning

            show_warning(f"layer {layer.name!r} stays in this window only, without its "
                         f"data on the server: {exc}")
            insert(index, layer)
            return
        insert(index, layer)
        layers = self.viewer.layers
        if layer in layers and layers.index(layer) != len(layers) - 1:
            # the server appended it: put it where it was put here
            self._send(Op.LAYER_MOVE, {"layer": layer_id, "index": layers.index(layer)},
                       self._local_order())

    def _make_on_server(self, layer: Layer) -> int:
        """Make ``layer`` on the server; this object then mirrors the server's layer
        (an image's or labels' ``data`` becomes the server's: ``bind_server_data``)."""
        op, args, payload = layer_command(layer)
        result = self.connection.request(op, args, payload=payload)
        layer_id = int(result["layers"][0])
        adopted = server_class(layer)
        if adopted is not None and not isinstance(layer, adopted):
            layer.__class__ = adopted
        if isinstance(layer, Image | Labels):
            compute_where_the_data_is(layer, self.data_range, self.histogram)
            self._bind(layer, layer_id, _data_shapes(layer), numpy_dtype(layer.dtype).name)
        self._by_id[layer_id] = layer
        return layer_id

    def _on_removed(self, event: Any) -> None:
        """A layer taken out of the list goes from the server once napari has finished
        what it is doing: napari reorders a list by taking layers out and putting them
        back (``layers[:] = ...``), and a layer put back is the same server layer,
        moved, not a new one (its data went with it otherwise)."""
        layer = event.value
        self._watch(layer, False)
        if self._applying:
            return
        layer_id = self.id_of(layer)
        if layer_id is not None and layer_id not in self._removing:
            self._removing[layer_id] = layer
            self.post(self._flush_removals)

    def _flush_removals(self) -> None:
        """Send the removals napari's last change left (see ``_on_removed``); a layer
        back in the list by now is moved to where it is instead."""
        removing, self._removing = self._removing, {}
        layers = self.viewer.layers
        for layer_id, layer in removing.items():
            if layer in layers:
                self._send(Op.LAYER_MOVE, {"layer": layer_id, "index": layers.index(layer)},
                           self._local_order())
            elif self._by_id.get(layer_id) is layer:
                del self._by_id[layer_id]
                self._send(Op.LAYER_REMOVE, {"layer": layer_id}, self._local_order())

    def _on_moved(self, event: Any) -> None:
        if self._applying:
            return
        layer = event.value
        layer_id = self.id_of(layer)
        if layer_id is not None:
            self._send(Op.LAYER_MOVE, {"layer": layer_id,
                                       "index": self.viewer.layers.index(layer)},
                       self._local_order())

    def _on_reordered(self, _event: Any) -> None:
        """``layers.reverse()`` (and napari's other whole-list reorders): each layer goes
        where it now is, bottom first."""
        if self._applying:
            return
        for index, layer in enumerate(self.viewer.layers):
            layer_id = self.id_of(layer)
            if layer_id is not None:
                self._send(Op.LAYER_MOVE, {"layer": layer_id, "index": index},
                           self._local_order())

    def _local_order(self) -> Local:
        """Record the model's layer list (its server layers, in order) as this client's
        optimistic one: until the server answers, an apply keeps it."""
        ids = [i for layer in self.viewer.layers if (i := self.id_of(layer)) is not None]
        return lambda mirror, cid: mirror.set_local_order(ids, cid)

    def _on_cursor(self, _event: Any) -> None:
        """Ask the server for the status bar text at the cursor (the value under it comes
        from the real data, which only the server has)."""
        if self._applying or not self.viewer.mouse_over_canvas:
            return
        position = [float(v) for v in self.viewer.cursor.position]
        try:
            self.connection.send_command(Op.CURSOR_SET, {"position": position},
                                         on_reply=self._on_status_reply)
        except Exception as exc:
            log.debug("cursor not sent: %s", exc)

    def _on_status_reply(self, result: Any) -> None:
        if isinstance(result, dict) and "status" in result:
            self.post(lambda: self._show_status(result))

    def _show_status(self, result: dict[str, Any]) -> None:
        if self.on_status is not None:
            self.on_status(result)
        self.viewer.status = result["status"]
        self.viewer.tooltip.text = result.get("tooltip", "")
        if result.get("help"):
            self.viewer.help = result["help"]

    def _on_selection(self, event: Any) -> None:
        if self._applying or not (event.added or event.removed):
            return  # ours, or nothing changed (Qt's layer list says so as it is built)
        selection = self.viewer.layers.selection
        ids = [i for i, layer in self._by_id.items() if layer in selection]
        active = self.id_of(selection.active) if selection.active is not None else None
        mirrored = self.connection.read(lambda state: dict(state["selection"]))
        if set(ids) == set(mirrored.get("selected", [])) and active == mirrored.get("active"):
            return  # already the server's selection

        def local(mirror: StateMirror, cid: int) -> None:
            mirror.set_local("selection", "selected", sorted(ids), cid)
            mirror.set_local("selection", "active", active, cid)

        self._send(Op.LAYER_SELECT, {"layers": ids}, local)

    def id_of(self, layer: Layer) -> int | None:
        """The server's id of a layer of the model (None: not a server layer)."""
        for layer_id, local in self._by_id.items():
            if local is layer:
                return layer_id
        return None
