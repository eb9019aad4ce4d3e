"""One session: a napari ViewerModel, its headless canvas, and the clients that share it.

Everything here runs on the engine thread, the only thread that touches napari, Qt or GL.
The session turns napari's own events into a flag (the state changed) and a counter
(the scene changed); the scheduler acts on them after each batch of commands, so a burst
of commands costs one state patch and one frame per picture.

Each client has its own canvas, and looks through the session's camera and dims or its
own (``views``); clients with the same canvas and look see one picture (``pictures``).
The viewer holds one canvas and look at a time: ``act_as`` puts a client's in place
before its command, ``render`` a picture's before drawing it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from napari.components import ViewerModel
from napari.layers import Layer

from napari_engine.data import loader
from napari_engine.data.lazy_array import ChunkedArray
from napari_engine.data.roots import DataRoots
from napari_engine.encode import motion
from napari_engine.encode.tiles import TileState
from napari_engine.encode.video import VideoEncoder
from napari_engine.protocol import (
    DataReply,
    ErrorCode,
    ErrorMessage,
    FrameCredits,
    FrameHeader,
    FrameView,
    Hello,
    ProtocolError,
    Reply,
    ServerMessage,
    StatePatch,
    StreamMode,
)
from napari_engine.protocol.overlays import OVERLAYS, model_of
from napari_engine.protocol.properties import LAYER_PROPERTIES, per_client, to_wire
from napari_engine.server import napari_compat, policy, state, views
from napari_engine.server.adapt import RenderScale
from napari_engine.server.journal import Journal
from napari_engine.server.pictures import Picture, PictureKey
from napari_engine.server.policy import ClientStream
from napari_engine.server.renderer import FrameRenderer
from napari_engine.server.views import CanvasSize, Look

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
#: state sections each client has of its own (``Session.own_view``)
_OWN_SECTIONS = frozenset({"camera", "dims", "canvas", "selection"})


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
    #: its own canvas (``views``): a window's size and display, a script's ``size``
    canvas: CanvasSize
    #: its own camera and dims (``ViewMode.OWN``); None: it looks through the session's
    own_look: Look | None = None
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
    #: the sections of its own it was last sent (``Session.own_view``): camera, dims,
    #: canvas, selection; and its tools
    sent: dict[str, Any] = field(default_factory=dict)
    sent_tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    tiles: TileState | None = None  # what a tiles-mode client shows (encoder thread only)
    video: VideoEncoder = field(default_factory=VideoEncoder)  # encoder thread only

    @classmethod
    def joining(cls, client_id: int, sink: ClientSink, hello: Hello,
                canvas: CanvasSize) -> ClientRecord:
        stream = ClientStream.for_client(hello.stream, hello.jpeg_quality)
        return cls(id=client_id, sink=sink, hello=hello,
                   credits=FrameCredits(hello.max_in_flight), stream=stream, canvas=canvas,
                   tiles=TileState() if stream.gets_tiles else None)

    @property
    def streams(self) -> bool:
        return self.hello.stream is not StreamMode.NONE


#: the most layers hidden one by one to find one that cannot be drawn (each try draws
#: every picture again)
MAX_PROBED = 32


def _show(layer: Layer, visible: bool) -> bool:
    """Show or hide a layer; False if napari failed doing it (showing slices it again,
    which may fail as its draw did)."""
    try:
        layer.visible = visible
    except Exception:
        log.info("layer %r: visible=%s failed", layer.name, visible, exc_info=True)
        return False
    return True

class Session:
    """A named, shared napari viewer rendered headlessly."""

    def __init__(self, name: str, specs: list[LayerSpec], gl_app: Any, font_family: str,
                 size: tuple[int, int], *, pan_strips: bool = True,
                 save_dir: Path | None = None,
                 browse_roots: tuple[Path, ...] = (),
                 data_roots: DataRoots | None = None,
                 serving: Callable[[Session], AbstractContextManager[Any]] | None = None,
                 voxels_3d: int = 1 << 24) -> None:
        self.name = name
        #: in 3D a multiscale layer is drawn from its finest level of at most this many
        #: voxels (``fit_levels_3d``)
        self.voxels_3d = voxels_3d
        #: the block the engine works for this session in (``loading.serving``)
        self.serving: Callable[[], AbstractContextManager[Any]] = (
            (lambda: serving(self)) if serving is not None else nullcontext)
        #: chunks it waited for arrived (``note_arrivals``), not sliced yet; when the
        #: last did, and when the last slice of all its chunked layers began
        self.arrived = False
        self.arrived_at = 0.0
        self.sliced_at = 0.0
        #: its slices are to be refreshed before the next draw (``data_arrived``)
        self.data_stale = False
        self.last_refresh = 0.0
        #: errors of chunks its slices need (pyramid -> error: a load failed, or a
        #: read met a recent failure), and those told to its clients
        self.data_errors: dict[Hashable, str] = {}
        self._told_errors: set[tuple[Hashable, str]] = set()
        #: what waits until its view's data has loaded (a screenshot, a script's
        #: ``sync(loaded=True)``): the client, its request, and the answer
        self.waits: list[tuple[ClientRecord, int, Callable[[], None]]] = []
        #: where ``layer.save`` writes (napari's writers); None: saving is off
        self.save_dir = save_dir
        #: the folders clients may list (``files.list``: the window's File > Open)
        self.browse_roots = browse_roots
        #: what clients may open (``add_image(path)``): below these (``--data-root``;
        #: by default nothing)
        self.data_roots = data_roots if data_roots is not None else DataRoots(())
        #: a client's canvas, look, selection or tools are being put in place (``show``,
        #: ``act_as``): napari's events then change nothing anyone sees
        self._switching_client = False
        #: a command that moves only its client's look or canvas is running
        self.moving_view = False
        #: the client whose command runs (its look is fitted when a first layer comes)
        self._acting: ClientRecord | None = None
        #: the session's journal (``journal.py``); None: edits are not journaled
        self.journal: Journal | None = None
        #: the canvas and look the journal last recorded (``commands._journal``)
        self.journaled_view: tuple[Any, ...] | None = None
        #: a client's canvas when it names none (a script)
        self.default_canvas = CanvasSize(*size)
        self.viewer = ViewerModel(title=f"napari-engine session {name}")
        self.viewer.canvas.size = (size[1], size[0])
        self.canvas = napari_compat.create_headless_canvas(self.viewer, gl_app, size,
                                                           font_family)
        self.renderer = FrameRenderer(self.canvas)
        self.ids = state.LayerIds()
        self.clients: dict[int, ClientRecord] = {}
        self.version = 0
        self.last_snapshot: dict[str, Any] | None = None
        self.state_dirty = True
        #: bumped by every change a picture shows, except a look (``pictures``)
        self.scene = 0
        self.pictures: dict[PictureKey, Picture] = {}
        #: draw a whole-pixel 2D pan as strips over the moved last frame (``renderer``)
        self.pan_strips = pan_strips
        # for ``--interactive-scale auto``; drawing and encoding take turns on one core
        self.render_scale = RenderScale(serial=len(os.sched_getaffinity(0)) < 2)
        self.rendering = False
        self.renders = 0
        self.encoding_busy = 0
        self.empty_since: float | None = time.monotonic()
        #: the camera and dims every client shares unless it keeps its own
        self.shared = views.capture(self.viewer)
        self._connect_events()
        try:
            with self.serving():
                for spec in specs:
                    getattr(self.viewer, f"add_{spec.kind}")(spec.data, **spec.kwargs)
        except BaseException:
            self.close()  # free the GL context of a session that never opened
            raise
        self.keep_shared_look()  # napari's fit of the data

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
        if kind == "locked_data_level":  # a person chose a resolution: it wins
            napari_compat.forget_level_in_3d(event.source)
        if kind in _QUIET_EVENTS:
            return
        self.state_dirty = True
        if (kind in _STATE_ONLY_EVENTS or self._switching_client or self.rendering
                or self.moving_view):
            return
        source = getattr(event, "source", None)
        viewer = self.viewer
        if (source is viewer.scene.camera or source is viewer.dims
                or (source is viewer.canvas and kind == "size")):
            return  # a look or a canvas: pictures compare theirs (``Picture.shows``)
        self.scene += 1

    def _on_overlay(self, *_info: Any) -> None:
        self.state_dirty = True
        if not (self.rendering or self._switching_client):
            self.scene += 1

    def _on_layer_inserted(self, event: Any) -> None:
        layer: Layer = event.value
        if len(self.viewer.layers) == 1:
            # napari fits the view to a first layer: the look it acts in is fitted
            self.look_of(self._acting).fitted = True
        self.gl_current()
        napari_compat.attach_layer_visual(self.canvas, layer)
        layer.events.connect(self._on_event)
        self.ids.id_of(layer)

    def _on_layer_removed(self, event: Any) -> None:
        event.value.events.disconnect(self._on_event)

    def data_arrived(self) -> None:
        """Data its slices waited for is there: they are sliced again before the next
        draw, and every picture is drawn again."""
        self.data_stale = True
        self.last_refresh = time.monotonic()
        self.scene += 1

    def note_arrivals(self, at: float, errors: dict[Hashable, str]) -> None:
        """Chunks it waited for arrived (the latest at ``at``), some perhaps failed."""
        self.arrived = True
        self.arrived_at = max(self.arrived_at, at)
        self.data_errors.update(errors)

    def take_arrivals(self) -> None:
        """Chunks arrived: its slices are refreshed before the next draw, unless all of
        them were sliced again since (a z-scroll's next step saw them already)."""
        self.arrived = False
        if self.sliced_at <= self.arrived_at:
            self.data_arrived()

    def _chunked_layers(self) -> list[tuple[Layer, Hashable]]:
        """Its shown layers whose data loads in chunks, with their pyramids."""
        return [(layer, pyramid) for layer in self.viewer.layers
                if layer.visible and (pyramid := pyramid_of(layer)) is not None]

    def chunked_pyramids(self) -> set[Hashable]:
        """The pyramids of its shown layers whose data loads in chunks."""
        return {pyramid for _, pyramid in self._chunked_layers()}

    def _refresh_data(self) -> None:
        """Slice again the layers whose data loads in chunks (what arrived replaces
        what stood in for it)."""
        self.data_stale = False
        for layer, _ in self._chunked_layers():
            layer.refresh()

    def fit_levels_3d(self) -> None:
        """In 3D, each multiscale layer whose data loads in chunks is drawn from its
        finest level that fits ``voxels_3d`` (napari draws the coarsest), once that
        level has loaded: the coarsest shows meanwhile (drawing a volume again as each
        chunk arrives would cost a texture upload and a volume render each time); in
        2D, napari chooses again. A resolution a person locked wins."""
        dims = self.viewer.dims
        for layer in self.viewer.layers:
            if (not getattr(layer, "multiscale", False) or pyramid_of(layer) is None
                    or napari_compat.user_locked_level(layer) is not None):
                continue
            level = None
            if dims.ndisplay == 3:
                offset = dims.ndim - layer.ndim
                shown = [axis - offset for axis in dims.displayed if axis >= offset]
                level = level_within(layer.level_shapes, shown, self.voxels_3d)
                if level is not None and not _loaded(layer.data[level]):
                    continue  # what is shown now stays until that level has loaded
            if napari_compat.show_level_in_3d(layer, level):
                self.scene += 1

    def show_loading(self, groups: set[Hashable]) -> None:
        """napari's "loading" on the layers whose visible data is still loading (the
        layer list shows it); tells the clients of the change."""
        for layer in self.viewer.layers:
            pyramid = pyramid_of(layer)
            if pyramid is not None and napari_compat.set_loaded(layer, pyramid not in groups):
                self.state_dirty = True

    def data_error(self) -> ProtocolError | None:
        """An error of a chunk its layers' slices need (a load that failed, or a read
        that met one), naming the layer."""
        errors = self._layer_errors()
        return errors[0][1] if errors else None

    def _layer_errors(self) -> list[tuple[tuple[Hashable, str], ProtocolError]]:
        out = []
        for layer in self.viewer.layers:
            pyramid = pyramid_of(layer)
            error = self.data_errors.get(pyramid) if pyramid is not None else None
            if error is not None:
                out.append(((pyramid, error), ProtocolError(
                    ErrorCode.FAILED,
                    f"layer {layer.name!r}: data could not be loaded: {error}"[:500])))
        return out

    def tell_data_errors(self) -> None:
        """Each layer's data error, once, to every client (again if it comes back after
        a slice without it)."""
        errors = self._layer_errors()
        self._told_errors &= {told for told, _ in errors}
        for told, error in errors:
            if told not in self._told_errors:
                self._told_errors.add(told)
                self.tell_all(error.to_error())

    # -- state ---------------------------------------------------------------------
    def take_patch(self) -> dict[str, Any]:
        """The sections all clients share that changed since the last call (camera and
        dims through the shared look; canvases are each client's, ``own_view``); bumps
        the version if any did."""
        self.state_dirty = False
        snap = state.snapshot(self.viewer, self.ids)
        del snap["canvas"]
        snap["camera"] = self.shared.camera
        snap["dims"] = self.shared.dims_section(snap["dims"])
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
        with its own canvas, look, selection and tools: ``own_view``)."""
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
    def look_of(self, client: ClientRecord | None) -> Look:
        """The camera and dims ``client`` looks through (the session's unless its own)."""
        if client is None or client.own_look is None:
            return self.shared
        return client.own_look

    def show(self, canvas: CanvasSize, look: Look) -> None:
        """Put a canvas and a look into the viewer (for a command or a picture), with
        nothing anyone sees changed by it."""
        self._switching_client = True
        try:
            height, width = (int(v) for v in self.viewer.canvas.size)
            if (height, width) != (canvas.height, canvas.width):
                self.viewer.canvas.size = (canvas.height, canvas.width)
            if canvas.pixel_ratio != self.canvas.pixel_ratio:
                self.canvas.pixel_ratio = canvas.pixel_ratio
            views.put(self.viewer, look)
        finally:
            self._switching_client = False

    def gl_current(self) -> None:
        """Make this session's GL context the current one before napari touches GL
        (a new layer's visual asks GL its limits): closing another session leaves no
        context current (``napari_compat.destroy_canvas``), and GL then answers None."""
        self.canvas.scene_canvas.set_current()

    def act_as(self, client: ClientRecord) -> None:
        """Before ``client``'s command: the viewer takes ``client``'s canvas, look,
        selection and tools, so its clicks, keys and new layers act as in its own
        napari, whatever a colleague selected, picked or looked at since."""
        self._acting = client
        self.gl_current()
        self.show(client.canvas, self.look_of(client))
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
        """After ``client``'s command: where it looks, what it has selected and its
        tools now."""
        self._acting = None
        self._keep_look(client)
        selection = state.selection_state(self.viewer, self.ids)
        tools = {self.ids.id_of(layer): {
            p.name: to_wire(p, getattr(layer, p.name))
            for p in per_client(state.layer_kind(layer))} for layer in self.viewer.layers}
        if (selection, tools) != (client.own_selection, client.own_tools):
            self.state_dirty = True  # it is told, even when what all share is the same
        client.own_selection, client.own_tools = selection, tools

    def _keep_look(self, client: ClientRecord) -> None:
        """The viewer's camera and dims become ``client``'s look; looks taken of data of
        other dimensions (a layer of more dimensions came) start again from it."""
        now = views.capture(self.viewer)
        look = self.look_of(client)
        if now.key != look.key:
            look.camera, look.dims = now.camera, now.dims
            self.state_dirty = True
        others = [self.shared, *(c.own_look for c in self.clients.values() if c.own_look)]
        for other in others:
            if not views.matches(other, self.viewer):
                other.camera, other.dims, other.fitted = dict(now.camera), dict(now.dims), True

    def keep_shared_look(self) -> None:
        """The viewer's camera and dims become the session's look (for a program that
        drives the viewer itself, outside any client's command)."""
        self.shared = views.capture(self.viewer)

    def own_view(self, client: ClientRecord, sections: dict[str, Any]) -> dict[str, Any]:
        """State ``sections`` as ``client`` sees them: its own canvas, look, selection
        and tools, also when only those changed."""
        out = {k: v for k, v in sections.items() if k not in _OWN_SECTIONS}
        for name, value in self._own_sections(client).items():
            if client.sent.get(name) != value:
                out[name] = client.sent[name] = value
        live = (self.ids.id_of(layer) for layer in self.viewer.layers)
        tools = {i: self._own_tools(client, i) for i in live}
        if "layers" in out or tools != client.sent_tools:
            layers = out.get("layers") or (self.last_snapshot or {}).get("layers", [])
            out["layers"] = [{**layer, **{k: v for k, v in tools.get(layer["id"], {}).items()
                                          if k in layer}} for layer in layers]
        client.sent_tools = tools
        return out

    def _own_sections(self, client: ClientRecord) -> dict[str, Any]:
        look = self.look_of(client)
        snapshot = self.last_snapshot or {}
        own = {"camera": look.camera, "dims": look.dims_section(snapshot.get("dims", {})),
               "canvas": client.canvas.section()}
        selection = client.own_selection or snapshot.get("selection")
        if selection is not None:
            own["selection"] = selection
        return own

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

    def hide_undrawable(self) -> list[Layer] | None:
        """After a failed draw: the layers whose drawing fails, hidden (napari's own
        ``visible``, which every client sees), so that the rest draws; [] when hiding
        does not help (the failure is not a layer's); None when the session draws again
        as it is (the failure passed). Visible layers are hidden newest first until a
        draw succeeds (``MAX_PROBED`` at most); then each hidden on the way is shown
        again unless the draw fails with it."""
        draws = self._draws
        if draws():
            return None
        hidden: list[Layer] = []
        for layer in list(reversed(list(self.viewer.layers)))[:MAX_PROBED]:
            if layer.visible:
                _show(layer, False)
                hidden.append(layer)
                if draws():
                    break
        else:
            for layer in hidden:
                _show(layer, True)
            return []
        for layer in hidden[:-1]:  # innocent ones hidden on the way back on
            if not _show(layer, True) or not draws():
                _show(layer, False)
        return [layer for layer in hidden if not layer.visible]

    def _draws(self) -> bool:
        """Whether every picture draws, and the state can be taken, as things are."""
        keys = list({self.key_of(client) for client in self.clients.values()}) or [
            (self.default_canvas, None)]
        try:
            with self.serving():
                for layer in self.viewer.layers:  # sliced again: a failed slice may
                    layer.refresh()  # have left napari thinking it is current
                for key in keys:
                    self.render(key)
                state.snapshot(self.viewer, self.ids)
        except Exception as exc:
            log.info("session %r: does not draw yet: %s: %s", self.name,
                     type(exc).__name__, str(exc).splitlines()[0][:200])
            return False
        return True

    # -- pictures ------------------------------------------------------------------
    def key_of(self, client: ClientRecord) -> PictureKey:
        return client.canvas, (client.id if client.own_look is not None else None)

    def picture(self, key: PictureKey) -> Picture:
        picture = self.pictures.get(key)
        if picture is None:
            picture = self.pictures[key] = Picture(key)
        return picture

    def _look_for(self, key: PictureKey) -> Look:
        owner = key[1]
        return self.look_of(self.clients.get(owner) if owner is not None else None)

    def groups(self) -> dict[PictureKey, list[ClientRecord]]:
        """The streaming clients, by the picture they see."""
        out: dict[PictureKey, list[ClientRecord]] = {}
        for client in self.clients.values():
            if client.streams:
                out.setdefault(self.key_of(client), []).append(client)
        return out

    def dirty(self, key: PictureKey) -> bool:
        """The picture's latest frame does not show the scene through its look."""
        picture = self.pictures.get(key)
        return picture is None or not picture.shows(self.scene, self._look_for(key).key)

    @property
    def render_dirty(self) -> bool:
        """Some client's picture is not up to date."""
        return any(self.dirty(key) for key in self.groups())

    def settle(self) -> None:
        """Take every picture as up to date (its drawing failed: not retried until
        something changes)."""
        for key in self.groups():
            picture = self.picture(key)
            picture.scene, picture.look = self.scene, self._look_for(key).key

    def prune(self) -> None:
        """Forget the pictures no client sees any more."""
        seen = {self.key_of(client) for client in self.clients.values()}
        gone = [k for k in self.pictures if k not in seen]
        for key in gone:
            del self.pictures[key]
        if gone:
            log.info("session %r: pictures: %d (%d forgotten)", self.name, len(self.pictures),
                     len(gone))

    # -- rendering -----------------------------------------------------------------
    def view(self) -> FrameView:
        """The camera and dims a frame drawn now would show."""
        camera, dims = self.viewer.scene.camera, self.viewer.dims
        return FrameView(ndisplay=int(dims.ndisplay),
                         center=tuple(float(v) for v in camera.center),
                         zoom=float(camera.zoom),
                         angles=tuple(float(v) for v in camera.angles),
                         current_step=tuple(int(v) for v in dims.current_step))

    def moving_scale(self, key: PictureKey, configured: float | None) -> float:
        """The resolution of the picture's next frame while its scene moves (``policy``)."""
        picture, look = self.picture(key), self._look_for(key)
        return policy.moving_scale(
            configured, render_scale=self.render_scale,
            pan=self._pans_as_strips(picture, look) and look.dims["ndisplay"] == 2,
            since_last_render=time.monotonic() - picture.last_render_time)

    def _pans_as_strips(self, picture: Picture, look: Look) -> bool:
        """A pan since the picture's last frame may be drawn as strips over that frame
        moved (``renderer``): only the camera's center moved, and nothing on the canvas
        stays put."""
        if (not self.pan_strips or picture.look is None or picture.scene != self.scene
                or napari_compat.canvas_overlays_shown(self.viewer)):
            return False
        camera, dims = picture.look
        return dims == look.dims and _without_center(camera) == _without_center(look.camera)

    def render(self, key: PictureKey, scale: float = 1.0) -> Picture:
        """Draw the picture ``key`` names (its canvas, through its look)."""
        picture, look = self.picture(key), self._look_for(key)
        self.show(key[0], look)
        if self.data_stale:
            self._refresh_data()
        self.rendering = True
        started = time.perf_counter()
        view = self.view()
        shift = None
        if (scale == 1.0 and picture.latest is not None and picture.latest.scale == 1.0
                and self._pans_as_strips(picture, look)):
            ratio = key[0].pixel_ratio  # frame pixels per canvas pixel
            shift = motion.pan_shift(picture.view, ratio, view, ratio)
        try:
            if shift is not None:
                assert picture.latest is not None
                frame = self.renderer.render_panned(picture.latest, *shift)
            else:
                frame = self.renderer.render(scale)
        finally:
            self.rendering = False
        if not frame.partial:
            self.render_scale.observe(frame.render_s + frame.readback_s, frame.scale)
        self.renders += 1
        picture.latest, picture.render_no, picture.view = frame, self.renders, view
        picture.scene, picture.look, picture.version = self.scene, look.key, self.version
        picture.input_t = {cid: c.last_t for cid, c in self.clients.items()}
        picture.encoded = {}
        picture.render_started = started
        picture.last_render_time = time.monotonic()
        return picture

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
        self.pictures.clear()


def _loaded(array: Any) -> bool:
    """Whether a level napari would draw whole has loaded (asking for the rest, in a
    reading context); data that is not loaded in chunks is."""
    context = loader.current()
    if not isinstance(array, ChunkedArray) or context is None:
        return True
    return array.loaded_or_asked(context, loader.VISIBLE)


def level_within(level_shapes: Any, axes: list[int], voxels: int) -> int | None:
    """The finest level whose extent along ``axes`` has at most ``voxels`` voxels;
    None when only the coarsest does (napari's own choice in 3D)."""
    shapes = [tuple(int(n) for n in shape) for shape in level_shapes]
    for level, shape in enumerate(shapes[:-1]):
        if math.prod(shape[axis] for axis in axes) <= voxels:
            return level
    return None


def pyramid_of(layer: Layer) -> Hashable | None:
    """The pyramid (``ChunkedArray.pyramid``) a layer's data loads as, or None (its
    data is in memory, or read by something else)."""
    data = getattr(layer, "data", None)
    if getattr(layer, "multiscale", False):
        data = data[0] if data is not None and len(data) else None
    return data.pyramid if isinstance(data, ChunkedArray) else None


def _without_center(camera: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in camera.items() if k != "center"}
