"""``python -m napari_engine.client URL``: the real napari window on a remote session.

napari's own main window (layer list, layer controls, dims sliders, viewer buttons,
menus) opens on a ``ProxyViewer``, the napari ``ViewerModel`` that a bridge keeps in step
with the server; its canvas shows the server's frames. ``open_gui`` takes a URL or an
existing scripting ``ProxyViewer`` (``napari_engine.connect(...)``): the window then
works on that same object, with one connection and one model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from napari_engine.client.connection import Connection
from napari_engine.client.viewer import ProxyViewer
from napari_engine.client.window_stats import WindowStats
from napari_engine.protocol import Op
from napari_engine.protocol.ops import MODIFIERS

log = logging.getLogger(__name__)


@dataclass
class RemoteWindow:
    """A napari window attached to a server session."""

    viewer: ProxyViewer
    canvas: Any  # RemoteCanvas
    own_view_box: Any  # the status bar's "Own view" QCheckBox
    #: gives a person's own window, taken over (``open_gui(window=...)``), its viewer back
    give_back: Callable[[], None] | None = None

    @property
    def connection(self) -> Connection:
        return self.viewer.connection

    @property
    def stats(self) -> WindowStats:
        """Where the window's time goes (``WindowStats``)."""
        return self.viewer.connection.stats

    def close(self) -> None:
        """Close the window and the connection; a person's own window taken over stays
        open, showing its own viewer again."""
        if self.give_back is None:
            self.viewer.window.close()
        else:
            self.own_view_box.setParent(None)  # off the status bar
            self.give_back()
        self.viewer.close()


def _viewer_for(target: str | ProxyViewer, stream: str, view: str, post: Any
                ) -> ProxyViewer:
    """A new connection's viewer, or an existing one (a window reconnects by itself)."""
    if isinstance(target, ProxyViewer):
        target.connection.reconnect = True
        target.connection.request_picture()
        return target
    connection = Connection(target, stream=stream, client="napari_engine.client",
                            reconnect=True, show_pictures=True, view=view)
    connection.open()
    return ProxyViewer(connection, post=post, own_canvas=True)


def _forward_input(canvas: Any, connection: Connection) -> None:
    """In a layer's interactive modes, mouse and keys act on the server's data."""
    def send(op: Op, args: dict[str, Any]) -> None:
        try:
            connection.send_command(op, args)
        except Exception as exc:
            log.warning("%s not sent: %s", op, exc)

    def forward_mouse(kind: str, event: Any) -> None:
        # canvas pixels: the server's canvas has this window's size
        modifiers = [k.name for k in event.modifiers if k.name in MODIFIERS]
        send(Op.INPUT_MOUSE, {"event": kind, "pos": [float(event.pos[0]), float(event.pos[1])],
                              "button": int(event.button or 1), "modifiers": modifiers})

    def forward_key(kind: str, event: Any) -> None:
        if event.key is None or (event.native is not None and event.native.isAutoRepeat()):
            return
        modifiers = [k.name for k in event.modifiers if k.name in MODIFIERS]
        send(Op.INPUT_KEY, {"event": kind, "key": str(event.key.name), "modifiers": modifiers,
                            "text": (event.text or "")[:8]})

    canvas.mouse_forward = forward_mouse
    canvas.key_forward = forward_key


def _own_view_box(viewer: ProxyViewer, qt_window: Any) -> Any:
    """A checkbox in the status bar: this window keeps its own camera and slice (ticked)
    or shares the session's (its canvas size is its own either way)."""
    from qtpy.QtWidgets import QCheckBox

    box = QCheckBox("Own view")
    box.setToolTip("Ticked: this window's camera and slice are its own; the other windows "
                   "of the session neither move it nor follow it. Layers and edits stay "
                   "shared.")
    box.setChecked(viewer.view_mode == "own")

    def toggled(own: bool) -> None:
        try:
            viewer.connection.set_view("own" if own else "shared", wait=False)
        except Exception as exc:  # a closed connection: say so, keep the box as it was
            log.warning("view not changed: %s", exc)
            box.blockSignals(True)
            box.setChecked(not own)
            box.blockSignals(False)

    box.toggled.connect(toggled)
    qt_window.statusBar().addPermanentWidget(box)
    return box


def open_gui(target: str | ProxyViewer, *, show: bool = True, stream: str = "auto",
             view: str = "shared", window: Any = None) -> RemoteWindow:
    """Open napari's window on a server session (a URL, or an existing ProxyViewer).

    ``stream`` picks how a new connection's frames come (see ``StreamMode``): ``auto``
    follows the link (JPEG, H.264 when thin), ``tiles`` sends only changed tiles and
    reuses the picture during pans, ``video`` is always H.264 while moving. ``view``:
    "own" keeps this window's camera and slice its own from the start (the status bar's
    "Own view" box changes it later). ``window``: a person's own napari window (a
    ``napari.Viewer``'s) to show the session in, instead of a new one; ``close()`` gives
    it its own viewer back."""
    from napari_engine.client.qt_napari_compat import (
        open_files_from,
        open_window,
        qt_viewer_of,
        qt_window_of,
        remote_canvas_windows,
        save_files_to,
        take_over_window,
        unproxied,
    )
    from napari_engine.client.qt_post import GuiPoster, LatestOnly
    from napari_engine.client.remote_canvas import RemoteCanvas
    from napari_engine.client.server_files import open_server_file_dialog, save_question

    post = GuiPoster()
    viewer = _viewer_for(target, stream, view, post)
    connection = viewer.connection
    had_layers = len(viewer.layers) > 0
    give_back = None
    if window is None:
        with remote_canvas_windows(RemoteCanvas):
            window = open_window(viewer, show=show)
    else:
        window = unproxied(window)
        try:
            give_back = take_over_window(window, viewer, RemoteCanvas)
        except BaseException:
            viewer.close()  # the window stays the person's; no connection is left open
            raise
    viewer.attach_window(window, post)
    if had_layers:
        viewer.bridge.show_selection_again()
    # File > Open File(s) lists the server's folders, where the data is
    open_files_from(qt_viewer_of(viewer.window), lambda here: open_server_file_dialog(
        viewer, here, parent=qt_window_of(viewer.window)))
    # File > Save ... offers the server's save directory, where the data is
    save_files_to(qt_viewer_of(viewer.window), lambda here: save_question(
        viewer, here, parent=qt_window_of(viewer.window)))
    canvas: RemoteCanvas = qt_viewer_of(viewer.window).canvas
    canvas.stats = viewer.bridge.stats = connection.stats

    def pixel_ratio_changed(ratio: float) -> None:
        viewer.bridge.pixel_ratio = ratio  # the server draws the display's own pixels
        viewer.bridge.send_canvas_size()

    canvas.pixel_ratio_changed = pixel_ratio_changed
    pixel_ratio_changed(canvas.native.devicePixelRatioF())

    canvas.show_picture(connection.picture)

    # one look at the picture waits on the GUI thread, however many frames come
    latest = LatestOnly(post, lambda _value: canvas.show_change())
    connection.on_picture(latest.put)
    _forward_input(canvas, connection)
    title = viewer.title

    def show_connection(state: str) -> None:
        # a clear state in the window; the GUI never waits for the network
        lost = state != "connected"
        again = ": reconnecting..." if state == "disconnected" else ""
        viewer.title = f"{title} (disconnected{again})" if lost else title
        canvas.show_message(f"Connection lost{again}" if lost else "")

    connection.on_connection(lambda state: post(lambda: show_connection(state)))
    viewer.bridge.send_canvas_size()
    latest.put(None)  # a picture that came before the window
    box = _own_view_box(viewer, qt_window_of(viewer.window))
    return RemoteWindow(viewer, canvas, box, give_back)


def _url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if not (args.host and args.port and args.token):
        raise SystemExit("give a URL, or --host, --port and --token")
    path = f"/session/{quote(args.session)}" if args.session else "/"
    return f"ws://{args.host}:{args.port}{path}?token={quote(args.token)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.client",
                                     description="Open napari on a napari-engine server.")
    parser.add_argument("url", nargs="?", help="the URL the server printed")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--token")
    parser.add_argument("--session", default=None)
    parser.add_argument("--stream", default="auto",
                        choices=["auto", "tiles", "video", "jpeg", "lossless"],
                        help="how frames are streamed (default: auto, which follows the link)")
    parser.add_argument("--own-view", action="store_true",
                        help="keep this window's camera and slice its own (not shared with "
                             "the session's other windows; the status bar's box toggles it)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    try:
        open_gui(_url(args), stream=args.stream, view="own" if args.own_view else "shared")
    except (ConnectionRefusedError, OSError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import napari

    napari.run()
    return 0
