"""``ProxyViewer``: a napari ``ViewerModel`` whose data and drawing live on a server.

It *is* napari's viewer model (layer list, layers, camera, dims, events), kept in step
with a server session by a ``ViewerBridge``: reads are local, edits go to the server
(optimistically: a value set is there to read at once), changes made elsewhere come
back. Its layers are napari's own layer classes over placeholders (no voxels cross), so
napari's API and widgets work on them; what needs the data (drawing, screenshots, the
status bar value) is done by the server. ``screenshot()`` and ``sync()`` wait until the
server has applied everything sent before them, which keeps scripts and tests
deterministic. The napari window opens on the same object (``client.gui.open_gui``).

In a script the server's updates are applied on the script's own thread, when it next
uses the viewer (napari's models are not thread-safe); once a window opens on it, by the
Qt GUI thread.
"""

from __future__ import annotations

import collections
import inspect
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Layer, Points, Shapes
from napari.utils.naming import magic_name

from napari_engine.client.bridge import Poster, ViewerBridge
from napari_engine.client.connection import Connection, Frame, RemoteError
from napari_engine.client.napari_compat import NewLabelsOnServer, napari_writers
from napari_engine.client.uploads import sent
from napari_engine.protocol import ErrorCode, LayerKind, Op
from napari_engine.protocol.properties import LayerProperty, Wire, initial_keywords
from napari_engine.protocol.regions import MAX_REGION_BYTES

log = logging.getLogger(__name__)
#: this package's folder (frames in it are not the script's)
_PACKAGE = str(Path(__file__).resolve().parents[1])


class ScriptPoster:
    """A script's viewer model has no GUI thread, and napari's models are not
    thread-safe (an evented model batches the events of every thread's changes), so the
    server's updates must not be applied by a thread of their own. They wait here until
    the script next touches the viewer (``ProxyViewer.__getattribute__``), ``sync()``s or
    takes a screenshot, and then run on the script's own thread, between its own changes.
    """

    def __init__(self) -> None:
        self._waiting: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.RLock()
        self._draining = threading.local()

    def __call__(self, fn: Callable[[], None]) -> None:
        self._waiting.append(fn)  # any thread (the network's): deque appends are atomic

    def on_own_thread(self) -> bool:
        return True  # whichever thread uses the viewer runs its updates

    @property
    def pending(self) -> bool:
        return bool(self._waiting)

    def drain(self) -> None:
        if getattr(self._draining, "active", False):
            return  # an update that reads the viewer must not start the next one
        with self._lock:
            self._draining.active = True
            try:
                while self._waiting:
                    try:
                        self._waiting.popleft()()
                    except Exception:  # not the script's fault: it only read the viewer
                        log.exception("applying the server's update failed")
            finally:
                self._draining.active = False


#: packages whose use of the viewer is not the script's own (napari's models read the
#: viewer while they dispatch a change)
_LIBRARIES = frozenset({"napari", "napari_engine", "pydantic", "psygnal", "app_model",
                        "superqt", "qtpy", "vispy", "magicgui", "npe2"})


def _called_by_the_script() -> bool:
    """Whether the code reaching for the viewer (two frames up) is the script's own."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    module = caller.f_globals.get("__name__", "") if caller is not None else ""
    return module.partition(".")[0] not in _LIBRARIES


def _props(kind: LayerKind, kwargs: dict[str, Any]) -> dict[str, Any]:
    """napari ``add_*`` keywords -> the protocol's ``props`` (property name -> value),
    for a layer the server makes from its own file."""
    table = initial_keywords(kind)
    unknown = sorted(set(kwargs) - set(table))
    if unknown:
        raise TypeError(f"add_{kind} of a file on the server got argument(s) it does not "
                        f"take: {', '.join(unknown)}; it takes {', '.join(sorted(table))}")
    return {table[key].name: _wire(table[key], value) for key, value in kwargs.items()
            if value is not None}


def _wire(prop: LayerProperty, value: Any) -> Any:
    """A keyword's value as the wire carries it (a colormap may be given by name)."""
    if prop.wire is Wire.COLORMAP and isinstance(value, str):
        return value
    if prop.name == "colormap":  # napari's other forms (a Colormap, a tuple, a dict)
        from napari.utils.colormaps import ensure_colormap

        value = ensure_colormap(value)
    return sent(prop, value)


#: a path in the server's save directory, as the window's save dialog names it
SERVER_SAVE_PREFIX = "napari-engine-server:"


def _downloadable(layer: Layer) -> bool:
    """Whether napari can write ``layer`` here: its data is here (points, shapes) or
    comes in one read from the server."""
    if isinstance(layer, Points | Shapes):
        return True
    return (not getattr(layer, "multiscale", False)
            and int(getattr(layer.data, "nbytes", MAX_REGION_BYTES + 1)) <= MAX_REGION_BYTES)


class ProxyViewer(NewLabelsOnServer):
    """A napari viewer model whose data and drawing live on a napari-engine server."""

    _connection: Connection | None = None
    _bridge: ViewerBridge | None = None
    _script_poster: ScriptPoster | None = None
    _window: Any = None

    def __init__(self, connection: Connection, *, post: Poster | None = None,
                 own_canvas: bool = False) -> None:
        super().__init__(title=f"napari-engine: {connection.url.split('?')[0]}")
        self._connection = connection
        script = post is None
        if post is None:
            self._script_poster = ScriptPoster()
            post = self._script_poster
        self._bridge = ViewerBridge(connection, self, post, strict=True,
                                    own_canvas=own_canvas)
        self._bridge.on_status = lambda r: self.set_remote_status(
            r["status"], r.get("tooltip", "") if self.tooltip.visible else "")
        if script:
            self._status_now = self._ask_status
            self._bridge.catch_up()  # a window's viewer fills once the window is there
        # napari's File > Save ... and scripts call ``layers.save``: here the pixels of
        # images and labels are placeholders, so those are written where the data is
        self.layers.save = self._save_layers

    def __getattribute__(self, name: str) -> Any:
        """In a script, the server's updates that arrived since the viewer was last used
        are applied before the script uses it again (see ``ScriptPoster``): when the
        script itself reaches for it, never when napari (or this package) does, which
        may be in the middle of handling one of the script's own changes."""
        if name[:1] != "_":
            private = object.__getattribute__(self, "__pydantic_private__")
            poster = private.get("_script_poster") if private else None
            if poster is not None and poster.pending and _called_by_the_script():
                poster.drain()
        return super().__getattribute__(name)

    # -- what napari's Viewer has too --------------------------------------------------
    @property
    def connection(self) -> Connection:
        assert self._connection is not None
        return self._connection

    @property
    def bridge(self) -> ViewerBridge:
        assert self._bridge is not None
        return self._bridge

    def attach_window(self, window: Any, post: Poster) -> None:
        """A napari window now shows this viewer: from here on the model is the GUI
        thread's (``post``), and the window's canvas sets the render size."""
        waiting, self._script_poster = self._script_poster, None
        self._window = window
        self.bridge.post = post  # first: an update arriving now goes to the GUI thread
        self.bridge.strict = False  # a widget's failed edit is logged, not raised in Qt
        self.bridge.mirror_canvas = False
        self._status_now = None  # napari's status thread shows each reply as it comes
        if waiting is not None:
            waiting.drain()  # what waited for the script runs here, on the GUI thread

    @property
    def window(self) -> Any:
        """napari's main window on this viewer, once ``open_gui`` made one."""
        if self._window is None:
            raise AttributeError("no window: open one with napari_engine.client.gui.open_gui")
        return self._window

    def _ask_status(self) -> tuple[Any, str]:
        """napari's status bar text and tooltip at the cursor, computed by the server
        from the real data (what ``_calc_status_from_cursor`` returns in a script)."""
        result = self.connection.request(Op.CURSOR_SET, {
            "position": [float(x) for x in self.cursor.position]})
        return result["status"], result.get("tooltip", "") if self.tooltip.visible else ""

    @property
    def session(self) -> str:
        welcome = self.connection.welcome
        return welcome.session if welcome is not None else ""

    def layer_id(self, layer: Layer) -> int:
        """The server's id of ``layer`` (what the protocol's ``layer`` arguments take)."""
        layer_id = self.bridge.id_of(layer)
        if layer_id is None:
            raise LookupError(f"layer {layer.name!r} is not a layer of the server session")
        return layer_id

    @property
    def view_mode(self) -> str:
        """"shared": this viewer moves, and follows, the session's camera and dims;
        "own": it keeps its own (its canvas size is always its own)."""
        return str(self.connection.view)

    def set_view(self, view: str) -> None:
        """Look through the session's camera and dims ("shared") or keep one's own
        ("own", starting where the session's are now)."""
        self.connection.set_view(view)
        self.bridge.catch_up()

    # -- layers: made on the server, mirrored here --------------------------------------
    def _make(self, op: Op, args: dict[str, Any], props: dict[str, Any] | None = None,
              payload: bytes | None = None) -> list[Layer]:
        """Ask the server to make layers (``props``: property name -> value), and
        return them as mirrored here."""
        if props:
            args = {**args, "props": props}
        result = self.connection.request(op, args, payload=payload)
        self.bridge.catch_up()
        layers = [self.bridge.layer(i) for i in result["layers"]]
        return [layer for layer in layers if layer is not None]

    def save_on_server(self, path: str, layers: list[Layer] | None = None) -> list[str]:
        """Write ``layers`` (default: all) with napari's writers on the *server*, under
        its save directory (``--save-dir``), as ``path`` (a file name there; napari picks
        the writer from its extension). Returns the server's paths of what was written."""
        chosen = list(self.layers) if layers is None else layers
        result = self.connection.request(Op.LAYER_SAVE, {
            "layers": [self.layer_id(layer) for layer in chosen], "path": path})
        return [str(p) for p in result["paths"]]

    def _save_layers(self, path: str, *, selected: bool = False, plugin: str | None = None,
                     _writer: Any = None) -> list[str]:
        """napari's ``LayerList.save`` (File > Save, scripts): layers that fit in one
        read of their data (``MAX_REGION_BYTES``; points and shapes always) are written
        here, at ``path``, by napari's writers, their voxels read from the server;
        larger ones are written by the server, under its save directory with the chosen
        file name, and napari says where."""
        from napari.components import LayerList
        from napari.utils.notifications import show_info

        layers = list(self.layers.selection) if selected else list(self.layers)
        if path.startswith(SERVER_SAVE_PREFIX):  # picked in the server's save dialog
            written = self.save_on_server(path.removeprefix(SERVER_SAVE_PREFIX), layers)
            show_info(f"Saved on the server: {', '.join(written)}")
            return written
        if all(_downloadable(layer) for layer in layers):
            napari_writers()
            return list(LayerList.save(self.layers, path, selected=selected, plugin=plugin,
                                       _writer=_writer))
        written = self.save_on_server(Path(path).name, layers)
        show_info(f"Saved on the server, where the data is: {', '.join(written)}")
        return written

    def new_labels_on_server(self) -> Layer:
        """napari's new labels layer (File > New Layer > Labels), made by the server at
        the size of its data, lazily: memory only where it is painted."""
        return self._make(Op.LAYER_NEW_LABELS, {})[0]

    def add_image(self, data: Any = None, **kwargs: Any) -> Any:
        """napari's ``add_image``. ``data`` is an array (napari makes the layer, with all
        its keywords, and the server makes it from the array, sent once) or a path the
        *server* can read (OME-Zarr, TIFF; then the keywords the protocol carries for a
        new image apply). Returns the new layer (a list if there are several channels)."""
        if not isinstance(data, str | os.PathLike):
            if kwargs.get("name") is None and kwargs.get("channel_axis") is None:
                # napari names the layer after the caller's variable; from here it would
                # find this method's own ``data``
                kwargs["name"] = magic_name(data, path_prefix=_PACKAGE) or "Image"
            return super().add_image(data, **kwargs)
        path = data.as_posix() if isinstance(data, Path) else str(data)
        layers = self._make(Op.LAYER_ADD_IMAGE, {"path": path},
                            _props(LayerKind.IMAGE, kwargs))
        return layers[0] if len(layers) == 1 else layers

    def open(self, path: Any, *, stack: Any = False, plugin: str | None = "napari",
             layer_type: str | None = None, **kwargs: Any) -> list[Layer]:
        """napari's ``open``: each path the *server* can read (OME-Zarr, TIFF, where the
        data is) is opened there; a path it does not have is read here by napari's
        readers, as napari would, and its layers are made on the server from what they
        read (as every layer put in the list is)."""
        paths = [path] if isinstance(path, str | os.PathLike) else list(path)
        if stack or layer_type not in (None, "image") or kwargs:
            return list(super().open(path, stack=stack, plugin=plugin,
                                     layer_type=layer_type, **kwargs))
        opened: list[Layer] = []
        here = []
        for one in paths:
            name = one.as_posix() if isinstance(one, Path) else str(one)
            try:
                opened += self._make(Op.LAYER_ADD_IMAGE, {"path": name})
            except RemoteError as exc:
                if exc.code != ErrorCode.NOT_FOUND.value:
                    raise
                here.append(one)
        if here:
            opened += super().open(here, plugin=plugin)
        return opened

    # -- waiting for the server ----------------------------------------------------------
    def sync(self, timeout: float = 60.0, *, loaded: bool = False) -> None:
        """Wait until the server has applied every change sent before this call, and this
        model shows the result; with ``loaded``, until the data of this viewer's view
        has loaded too (the server draws it; a chunk that could not be loaded raises
        ``RemoteError`` naming its layer)."""
        self.connection.request(Op.SYNC, {"loaded": True} if loaded else None,
                                timeout=timeout)
        self.bridge.catch_up(timeout)

    def screenshot(self, path: str | os.PathLike[str] | None = None, *,
                   size: Any = None, scale: float | None = None, canvas_only: bool = True,
                   flash: bool = False, timeout: float = 60.0) -> np.ndarray:
        """napari's ``Viewer.screenshot`` of the canvas: an (h, w, 4) uint8 RGBA array,
        losslessly encoded, rendered by the server after every change made before this
        call (saved at ``path`` too, when given). The server draws at the canvas's size:
        ``size`` and ``scale`` are refused (resize the canvas instead), and so is
        ``canvas_only=False`` (the server has no window; a window on this viewer takes
        its own with ``viewer.window.screenshot``)."""
        if size is not None or scale is not None or not canvas_only:
            raise NotImplementedError(
                "the napari-engine server draws the canvas at its size: size, scale and "
                "canvas_only=False are not available (resize the canvas instead)")
        del flash  # nothing flashes: there is no window here
        frame: Frame = self.connection.request(Op.SCREENSHOT, timeout=timeout)
        self.bridge.catch_up(timeout)
        image = frame.decode()
        if path is not None:
            from napari.utils.io import imsave

            imsave(str(path), image)
        return image

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ProxyViewer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ProxyViewer {self.connection.url.split('?')[0]} session={self.session!r}>"


#: how long a script's connection tries to get back a lost link (a restarted server or
#: worker), its commands waiting meanwhile
RECONNECT_WAIT_S = 60.0


def connect(url: str, *, stream: str = "auto", size: tuple[int, int] | None = None,
            view: str = "shared", timeout: float = 30.0) -> ProxyViewer:
    """Connect to a napari-engine server and return a ``ProxyViewer`` for its session.

    ``url`` is what the server printed, e.g. ``ws://127.0.0.1:8765/?token=...``; add
    ``/session/NAME`` to the path to join or create a named session. ``stream`` picks
    how frames are streamed ("auto", "tiles", "video", "jpeg", "lossless" or "none" for
    screenshots only). ``size`` is this viewer's canvas (width, height; each client of a
    session has its own). ``view="own"`` keeps a camera and dims of this viewer's own
    (starting where the session's are) instead of the session's, which every "shared"
    client moves; ``viewer.set_view(...)`` changes it later.

    A lost link is tried again for ``RECONNECT_WAIT_S`` (a server or its worker
    restarted: the session comes back from its journal); meanwhile a command waits for
    it, and a request that was under way when the link went raises ``ConnectionLost``
    (it may or may not have been applied).
    """
    connection = Connection(url, stream=stream, size=size, client="napari_engine.connect",
                            view=view, reconnect=True, wait_for_link=RECONNECT_WAIT_S)
    connection.open(timeout)
    return ProxyViewer(connection)


__all__ = ["ProxyViewer", "ScriptPoster", "connect"]
