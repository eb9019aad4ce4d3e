"""One session: a napari ViewerModel, its headless canvas, and the clients that share it.

Everything here runs on the engine thread, the only thread that touches napari, Qt or GL.
The session turns napari's own events into two flags (the state changed, the picture
must be redrawn); the scheduler acts on the flags after each batch of commands, so a
burst of commands costs one state patch and one frame.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from napari.components import ViewerModel
from napari.layers import Layer

from napari_engine.encode import motion
from napari_engine.encode.tiles import TileState
from napari_engine.encode.video import VideoEncoder
from napari_engine.protocol import (
    DataReply,
    ErrorMessage,
    FrameCredits,
    FrameHeader,
    FrameView,
    Hello,
    Reply,
    ServerMessage,
    StatePatch,
    StreamMode,
)
from napari_engine.protocol.overlays import OVERLAYS, model_of
from napari_engine.protocol.properties import LAYER_PROPERTIES, per_client, to_wire
from napari_engine.server import napari_compat, policy, state
from napari_engine.server.adapt import RenderScale
from napari_engine.server.journal import Journal
from napari_engine.server.policy import ClientStream, FrameEncoding
from napari_engine.server.renderer import FrameRenderer, RenderedFrame

if TYPE_CHECKING:
    from napari_engine.data import LayerSpec

log = logging.getLogger(__name__)

#: napari events that change nothing a client sees, or that napari emits while drawing.
_QUIET_EVENTS = frozenset({
    "status", "help", "tooltip", "loaded", "cursor", "cursor_size",
    "mouse_over_canvas", "mouse_move_callbacks", "mouse_drag_callbacks",
    "mouse_wheel_callbacks", "mouse_double_click_callbacks", "title", "reload",
    "_extent_augmented", "_overlays", "highlight", "extent", "mouse_pan", "mouse_zoom",
})
#: a layer's tool for a client that has not picked one (napari's own for a new layer)
DEFAULT_MODE = "pan_zoom"
#: napari events that change the state clients see, never the picture
_STATE_ONLY_EVENTS = frozenset({"thumbnail"})


class ClientSink(Protocol):
    """The network side of one connection; every method is safe to call from any thread."""

    def send_control(self, message: ServerMessage) -> None: ...

    def send_frame(self, header: FrameHeader, payload: bytes,
                   sent: Callable[[float], None] | None = None) -> None:
        """Queue a frame; ``sent(time.perf_counter())`` once it is on the socket."""

    def send_data(self, reply: DataReply) -> None:
        """Queue a binary ``data`` answer (its header, then its payload)."""

    def command_done(self) -> None: ...

    def close(self, reason: str) -> None: ...


@dataclass
class ClientRecord:
    """What the engine knows about one connected client."""

    id: int
    sink: ClientSink
    hello: Hello
    credits: FrameCredits
    stream: ClientStream
    last_applied: int = -1  # id of the last command from this client that was applied
    last_t: float | None = None  # client timestamp of the last applied command
    echoed_t: float | None = None  # the last timestamp echoed in a frame
    last_sent_render: int = -1
    last_sent_still: bool = False
    moving_codec: str | None = None  # how its last moving frame was encoded (for the log)
    pending_replies: list[ServerMessage] = field(default_factory=list)
    press_event: Any = None  # the mouse press of a drag this client is making
    #: what is each client's own in a shared session (``Session.act_as``): its layer
    #: selection ({selected, active}, layer ids) and its tools (layer id -> the
    #: ``per_client`` properties of the table, as the wire carries them)
    own_selection: dict[str, Any] | None = None
    own_tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: what this client was last told of its own (``Session.own_view``)
    sent_selection: dict[str, Any] | None = None
    sent_tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    tiles: TileState | None = None  # what a tiles-mode client shows (encoder thread only)
    video: VideoEncoder = field(default_factory=VideoEncoder)  # encoder thread only

    @classmethod
    def joining(cls, client_id: int, sink: ClientSink, hello: Hello) -> ClientRecord:
        stream = ClientStream.for_client(hello.stream, hello.jpeg_quality)
        return cls(id=client_id, sink=sink, hello=hello,
                   credits=FrameCredits(hello.max_in_flight), stream=stream,
                   tiles=TileState() if stream.gets_tiles else None)

    @property
    def streams(self) -> bool:
        return self.hello.stream is not StreamMode.NONE


class Session:
    """A named, shared napari viewer rendered headlessly."""

    def __init__(self, name: str, specs: list[LayerSpec], gl_app: Any, font_family: str,
                 size: tuple[int, int], *, pan_strips: bool = True,
                 save_dir: Path | None = None,
                 browse_roots: tuple[Path, ...] = ()) -> None:
        self.name = name
        #: where ``layer.save`` writes (napari's writers); None: saving is off
        self.save_dir = save_dir
        #: the folders clients may list (``files.list``: the window's File > Open)
        self.browse_roots = browse_roots
        #: ``act_as`` is putting a client's own selection and tools in place
        self._switching_client = False
        #: the session's journal (``journal.py``); None: edits are not journaled
        self.journal: Journal | None = None
        self.viewer = ViewerModel(title=f"napari-engine session {name}")
        self.viewer.canvas.size = (size[1], size[0])
        self.canvas = napari_compat.create_headless_canvas(self.viewer, gl_app, size,
                                                           font_family)
        self.renderer = FrameRenderer(self.canvas)
        self.ids = state.LayerIds()
        self.clients: dict[int, ClientRecord] = {}
        self.version = 0
        self.last_snapshot: dict[str, Any] | None = None
        self.render_dirty = True
        self.state_dirty = True
        self.scene_changed = True  # since the last render, anything but the camera center
        #: the camera is napari's fit of the layers (nobody has moved it since): a new
        #: canvas size fits it again
        self.view_fitted = True
        #: draw a whole-pixel 2D pan as strips over the moved last frame (``renderer``)
        self.pan_strips = pan_strips
        # for ``--interactive-scale auto``; drawing and encoding take turns on one core
        self.render_scale = RenderScale(serial=len(os.sched_getaffinity(0)) < 2)
        self.rendering = False
        self.render_count = 0
        self.latest: RenderedFrame | None = None
        self.latest_version = -1
        self.latest_t: dict[int, float | None] = {}
        self.latest_view: FrameView | None = None
        #: whole-frame encodings of the latest render, with their seconds
        self.latest_encoded: dict[FrameEncoding, tuple[bytes, float]] = {}
        self.latest_render_started = 0.0
        self.last_render_time = 0.0
        self.encoding_busy = 0
        self.empty_since: float | None = time.monotonic()
        self._connect_events()
        try:
            for spec in specs:
                self.viewer.add_image(spec.data, **spec.kwargs)
        except BaseException:
            self.close()  # free the GL context of a session that never opened
            raise

    # -- napari events -> flags ----------------------------------------------------
    def _connect_events(self) -> None:
        viewer = self.viewer
        for group in (viewer.events, viewer.scene.camera.events, viewer.dims.events,
                      viewer.layers.events, viewer.layers.selection.events,
                      viewer.canvas.events):
            group.connect(self._on_event)
        for name in OVERLAYS:  # the overlays the server draws for its clients (psygnal)
            model_of(viewer.canvas, name).events.connect(self._on_overlay)
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        viewer.layers.events.removed.connect(self._on_layer_removed)

    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind in _QUIET_EVENTS:
            return
        self.state_dirty = True
        if kind in _STATE_ONLY_EVENTS or self._switching_client:
            return
        if not self.rendering:
            self.render_dirty = True
            if not (event.type == "center" and event.source is self.viewer.scene.camera):
                self.scene_changed = True  # more than a pan: the next frame is drawn whole

    def _on_overlay(self, *_info: Any) -> None:
        self.state_dirty = True
        if not self.rendering:
            self.render_dirty = self.scene_changed = True

    def _on_layer_inserted(self, event: Any) -> None:
        layer: Layer = event.value
        if len(self.viewer.layers) == 1:
            self.view_fitted = True  # napari fits the view to a first layer
        napari_compat.attach_layer_visual(self.canvas, layer)
        layer.events.connect(self._on_event)
        self.ids.id_of(layer)

    def _on_layer_removed(self, event: Any) -> None:
        event.value.events.disconnect(self._on_event)

    # -- state ---------------------------------------------------------------------
    def take_patch(self) -> dict[str, Any]:
        """The sections changed since the last call; bumps the version if any did."""
        self.state_dirty = False
        snap = state.snapshot(self.viewer, self.ids, self.pixel_ratio)
        patch = state.diff(self.last_snapshot, snap)
        self.last_snapshot = snap
        if patch:
            self.version += 1
        return patch

    def full_state(self) -> dict[str, Any]:
        if self.last_snapshot is None or self.state_dirty:
            self.publish_state()
        assert self.last_snapshot is not None
        return self.last_snapshot

    def publish_state(self) -> None:
        """Send the sections that changed since the last patch to every client (each
        with its own selection and tools: ``own_view``)."""
        if not self.state_dirty:
            return
        patch = self.take_patch()  # a new version if what all share changed
        bumped = bool(patch)
        for client in self.clients.values():
            sections = self.own_view(client, patch)
            if not sections:
                continue
            if not bumped:  # only this client's own changed
                self.version += 1
                bumped = True
            client.sink.send_control(StatePatch(self.version, client.last_applied, sections))

    # -- what each client has of its own ---------------------------------------------
    def act_as(self, client: ClientRecord) -> None:
        """Before ``client``'s command: the viewer takes ``client``'s own selection and
        tools, so its clicks, keys and new layers act as in its own napari, whatever a
        colleague selected or picked since."""
        if client.own_selection is None:  # new: it starts from the session's
            self.remember(client)
            return
        # putting a client's own selection and tools back is no change of the picture:
        # two windows taking turns must not redraw the scene at each turn
        self._switching_client = True
        try:
            self._take_own(client)
        finally:
            self._switching_client = False

    def _take_own(self, client: ClientRecord) -> None:
        assert client.own_selection is not None
        viewer, ids = self.viewer, self.ids
        chosen = [layer for i in client.own_selection["selected"]
                  if (layer := ids.find(viewer, i)) is not None]
        selection = viewer.layers.selection
        if set(chosen) != set(selection):
            selection.clear()
            selection.update(chosen)
        for layer in viewer.layers:
            for prop, value in self._own_tools(client, ids.id_of(layer)).items():
                row = LAYER_PROPERTIES[prop]
                if (row.applies_to(state.layer_kind(layer))
                        and to_wire(row, getattr(layer, prop)) != value):
                    try:
                        setattr(layer, prop, value)
                    except (ValueError, TypeError):
                        log.info("layer %r cannot take %s=%r", layer.name, prop, value)

    @staticmethod
    def _own_tools(client: ClientRecord, layer_id: int) -> dict[str, Any]:
        """``client``'s own tool properties of a layer; a layer it has not acted on
        since it appeared is in napari's tool for a new layer (the rest as it is)."""
        return client.own_tools.get(layer_id, {"mode": DEFAULT_MODE})

    def remember(self, client: ClientRecord) -> None:
        """After ``client``'s command: what it has selected and its tools now."""
        selection = state.selection_state(self.viewer, self.ids)
        tools = {self.ids.id_of(layer): {
            p.name: to_wire(p, getattr(layer, p.name))
            for p in per_client(state.layer_kind(layer))} for layer in self.viewer.layers}
        if (selection, tools) != (client.own_selection, client.own_tools):
            self.state_dirty = True  # it is told, even when what all share is the same
        client.own_selection, client.own_tools = selection, tools

    def own_view(self, client: ClientRecord, sections: dict[str, Any]) -> dict[str, Any]:
        """State ``sections`` as ``client`` sees them: its own selection and tools, also
        when only those changed (what all share may be as it was: another client's
        selection was the viewer's in between)."""
        if client.own_selection is None:
            return sections
        out = dict(sections)
        if "selection" in out or client.own_selection != client.sent_selection:
            out["selection"] = client.own_selection
        live = (self.ids.id_of(layer) for layer in self.viewer.layers)
        tools = {i: self._own_tools(client, i) for i in live}
        if "layers" in out or tools != client.sent_tools:
            layers = out.get("layers") or (self.last_snapshot or {}).get("layers", [])
            out["layers"] = [{**layer, **{k: v for k, v in tools.get(layer["id"], {}).items()
                                          if k in layer}} for layer in layers]
        client.sent_selection, client.sent_tools = client.own_selection, tools
        return out

    def flush_replies(self, client: ClientRecord) -> None:
        """Send ``client``'s answers, after the state patch that shows their outcome
        (each reply carries the version of that state)."""
        if not client.pending_replies:
            return
        self.publish_state()
        for reply in client.pending_replies:
            if isinstance(reply, DataReply):
                client.sink.send_data(dataclasses.replace(reply, version=self.version))
                continue
            if isinstance(reply, Reply):
                reply = dataclasses.replace(reply, version=self.version)
            client.sink.send_control(reply)
        client.pending_replies.clear()

    def tell_all(self, error: ErrorMessage) -> None:
        for client in self.clients.values():
            client.sink.send_control(error)

    # -- rendering -----------------------------------------------------------------
    def view(self) -> FrameView:
        """The camera and dims a frame drawn now would show."""
        camera, dims = self.viewer.scene.camera, self.viewer.dims
        return FrameView(ndisplay=int(dims.ndisplay),
                         center=tuple(float(v) for v in camera.center),
                         zoom=float(camera.zoom),
                         angles=tuple(float(v) for v in camera.angles),
                         current_step=tuple(int(v) for v in dims.current_step))

    def moving_scale(self, configured: float | None) -> float:
        """The resolution of the next frame while the scene moves (``policy``)."""
        return policy.moving_scale(
            configured, render_scale=self.render_scale,
            pan=self._pans_as_strips() and self.viewer.dims.ndisplay == 2,
            since_last_render=time.monotonic() - self.last_render_time)

    def _pans_as_strips(self) -> bool:
        """A pan since the last frame may be drawn as strips over that frame moved
        (``renderer``): nothing else changed, and nothing on the canvas stays put."""
        return (self.pan_strips and not self.scene_changed
                and not napari_compat.canvas_overlays_shown(self.viewer))

    def render(self, scale: float = 1.0) -> RenderedFrame:
        self.rendering = True
        self.render_dirty = False
        self.latest_render_started = time.perf_counter()
        view = self.view()
        shift = None
        if (scale == 1.0 and self._pans_as_strips() and self.latest is not None
                and self.latest.scale == 1.0):
            ratio = self.pixel_ratio  # frame pixels per canvas pixel
            shift = motion.pan_shift(self.latest_view, ratio, view, ratio)
        self.scene_changed = False
        try:
            if shift is not None:
                assert self.latest is not None
                frame = self.renderer.render_panned(self.latest, *shift)
            else:
                frame = self.renderer.render(scale)
        finally:
            self.rendering = False
        if not frame.partial:
            self.render_scale.observe(frame.render_s + frame.readback_s, frame.scale)
        self.render_count += 1
        self.latest = frame
        self.latest_view = view
        self.latest_version = self.version
        self.latest_t = {cid: c.last_t for cid, c in self.clients.items()}
        self.latest_encoded = {}
        self.last_render_time = time.monotonic()
        return frame

    def resize(self, width: int, height: int, pixel_ratio: float = 1.0) -> None:
        """The canvas in logical pixels (napari's), drawn at ``pixel_ratio`` physical
        pixels each (the client's display)."""
        if tuple(self.viewer.canvas.size) != (height, width):
            self.viewer.canvas.size = (height, width)
            self.render_dirty = self.scene_changed = True
        if pixel_ratio != self.canvas.pixel_ratio:
            self.canvas.pixel_ratio = pixel_ratio
            self.state_dirty = self.render_dirty = self.scene_changed = True

    @property
    def pixel_ratio(self) -> float:
        return self.canvas.pixel_ratio

    @property
    def canvas_pixels(self) -> int:
        """Physical pixels of a full frame."""
        height, width = self.viewer.canvas.size
        return round(int(width) * int(height) * self.pixel_ratio ** 2)

    def rename(self, name: str) -> None:
        """A session made ahead of time takes its name when a client asks for it."""
        self.name = name
        self.viewer.title = f"napari-engine session {name}"

    def close(self) -> None:
        """Free the viewer's layers and the GL context (the journal stays on disk)."""
        if self.journal is not None:
            self.journal.close()
        self.renderer.close()
        napari_compat.destroy_canvas(self.canvas)
        self.viewer.layers.clear()
        self.clients.clear()
        self.latest = None
        self.latest_encoded = {}
