"""``python -m napari_engine.client URL``: the real napari window on a remote session.

napari's own main window (layer list, layer controls, dims sliders, viewer buttons,
menus) runs on a local ``napari.Viewer`` whose model a ``ViewerBridge`` keeps in step with
the server; its canvas shows the server's frames. The GUI can also be opened on an
existing scripting ``ProxyViewer`` (``open_gui(proxy)``): both then share one
connection and one state mirror.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from napari_engine.client.connection import Connection, Frame
from napari_engine.client.proxy import ProxyViewer
from napari_engine.protocol.ops import MODIFIERS

log = logging.getLogger(__name__)


@dataclass
class RemoteWindow:
    """A napari window attached to a server session."""

    viewer: Any  # napari.Viewer
    connection: Connection
    bridge: Any  # ViewerBridge
    canvas: Any  # RemoteCanvas

    def close(self) -> None:
        from napari_engine.client.napari_compat import forget_remote_status

        forget_remote_status(self.viewer)
        self.viewer.close()
        self.connection.close()


def open_gui(target: str | ProxyViewer, *, show: bool = True, stream: str = "auto"
             ) -> RemoteWindow:
    """Open napari's window on a server session (a URL, or an existing ProxyViewer).

    ``stream`` picks how a new connection's frames come (see ``StreamMode``): ``auto``
    follows the link (JPEG, H.264 when thin), ``tiles`` sends only changed tiles and
    reuses the picture during pans, ``video`` is always H.264 while moving."""
    from napari_engine.client.model import ViewerBridge
    from napari_engine.client.napari_compat import (
        qt_viewer_of,
        remote_canvas_windows,
        remote_status_viewer_class,
        set_remote_status,
    )
    from napari_engine.client.qt_post import GuiPoster, LatestOnly
    from napari_engine.client.remote_canvas import RemoteCanvas

    if isinstance(target, ProxyViewer):
        connection = target.connection
    else:
        connection = Connection(target, stream=stream, client="napari_engine.client",
                                reconnect=True)
        connection.open()
    with remote_canvas_windows(RemoteCanvas):
        viewer = remote_status_viewer_class()(
            title=f"napari-engine: {connection.url.split('?')[0]}", show=show)
    canvas: RemoteCanvas = qt_viewer_of(viewer).canvas
    post = GuiPoster()
    bridge = ViewerBridge(connection, viewer, post=post)
    bridge.on_status = lambda r: set_remote_status(viewer, r["status"], r.get("tooltip", ""))

    def show_latest(value: object) -> None:
        assert isinstance(value, tuple)
        canvas.show_frame(value[0], value[1])

    latest = LatestOnly(post, show_latest)

    def on_frame(frame: Frame) -> None:
        # decoded off the GUI thread; only the newest waiting frame is shown
        latest.put((frame.decode(), frame.header))

    connection.on_frame(on_frame)

    def on_resize(_event: Any = None) -> None:
        height, width = viewer.canvas.size
        if width >= 16 and height >= 16:
            try:
                connection.send_command("canvas.resize", {"width": int(width),
                                                          "height": int(height)})
            except Exception as exc:
                log.warning("resize not sent: %s", exc)

    viewer.canvas.events.size.connect(on_resize)

    def forward_mouse(kind: str, event: Any) -> None:
        # canvas pixels: the server's canvas has this window's size (see on_resize)
        modifiers = [k.name for k in event.modifiers if k.name in MODIFIERS]
        try:
            connection.send_command("input.mouse", {
                "event": kind, "pos": [float(event.pos[0]), float(event.pos[1])],
                "button": int(event.button or 1), "modifiers": modifiers})
        except Exception as exc:
            log.warning("mouse event not sent: %s", exc)

    canvas.mouse_forward = forward_mouse

    def forward_key(kind: str, event: Any) -> None:
        if event.key is None or (event.native is not None and event.native.isAutoRepeat()):
            return
        modifiers = [k.name for k in event.modifiers if k.name in MODIFIERS]
        try:
            connection.send_command("input.key", {
                "event": kind, "key": str(event.key.name), "modifiers": modifiers,
                "text": (event.text or "")[:8]})
        except Exception as exc:
            log.warning("key event not sent: %s", exc)

    canvas.key_forward = forward_key
    title = viewer.title

    def show_connection(state: str) -> None:
        # a clear state in the window; the GUI never waits for the network
        lost = state != "connected"
        viewer.title = f"{title} (disconnected: reconnecting...)" if lost else title
        viewer.text_overlay.text = "Connection lost: reconnecting..." if lost else ""
        viewer.text_overlay.visible = lost
        if not lost:
            on_resize()

    connection.on_connection(lambda state: post(lambda: show_connection(state)))
    on_resize()
    if connection.latest_frame is not None:
        on_frame(connection.latest_frame)
    return RemoteWindow(viewer, connection, bridge, canvas)


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
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    try:
        open_gui(_url(args), stream=args.stream)
    except (ConnectionRefusedError, OSError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import napari

    napari.run()
    return 0
