"""``python -m napari_engine.bench.gui``: the napari client window, measured.

Starts a server and (when there is no display) a private Xvfb, opens the real napari
window on the session, and drives it with synthetic Qt mouse events: a 10 s drag (pan)
and a 10 s z-scroll. It reports the time from each input event to the local repaint
(the late-warped last frame), to the first server frame drawn from the new camera being
on screen, and the longest stall of the Qt event loop (a 2 ms timer's largest gap).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_engine.bench.display import start_xvfb
from napari_engine.bench.netem import PRESETS, emulated_link, port_of
from napari_engine.bench.stats import summary_ms
from napari_engine.protocol import FrameHeader
from napari_engine.server.process import ServerProcess


def _start_xvfb() -> subprocess.Popen[bytes] | None:
    if os.environ.get("DISPLAY"):
        return None
    started = start_xvfb()
    if started is None:
        return None
    os.environ["DISPLAY"] = started[1]
    return started[0]


def _latencies(inputs: list[tuple[float, Any]], events: list[float]) -> list[float]:
    """For each input, the time to the first event at or after it."""
    out = []
    for t, _value in inputs:
        later = [e for e in events if e >= t]
        if later:
            out.append(later[0] - t)
    return out


def _shows(kind: str, value: Any, header: FrameHeader) -> bool:
    """Whether a frame was drawn from this input's camera (pan) or at this plane or a
    later one (z-scroll: steps in between are merged on the server, latest wins)."""
    import numpy as np

    view = header.view
    if view is None:
        return False
    if kind == "pan":
        return bool(np.allclose(view.center[-2:], value[-2:], atol=1e-6))
    return view.current_step[0] >= value[0]


class WindowProbe:
    """The napari window on a session, with its repaints, shown frames and event loop
    watched."""

    def __init__(self, url: str, size: tuple[int, int]) -> None:
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication

        from napari_engine.client.gui import open_gui
        from napari_engine.client.qt_napari_compat import qt_window_of, scene_canvas_of

        self.window = open_gui(url)
        qt_window_of(self.window.viewer.window).resize(size[0] + 420, size[1] + 120)
        app = QApplication.instance()
        assert app is not None
        self.app = app
        self.canvas, self.viewer = self.window.canvas, self.window.viewer
        self.draws: list[float] = []
        scene_canvas_of(self.canvas).events.draw.connect(
            lambda _e: self.draws.append(time.perf_counter()), position="last")
        self.shown: list[tuple[float, FrameHeader]] = []
        original_show = self.canvas.show_frame

        def show_frame(rgba: Any, header: FrameHeader) -> None:
            original_show(rgba, header)
            self.shown.append((time.perf_counter(), header))

        self.canvas.show_frame = show_frame
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def pump(self, duration: float) -> None:
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.001)

    def _input(self, kind: str, i: int, start: Any) -> tuple[float, Any] | None:
        """One synthetic input: a mouse move of the drag, or one plane further."""
        from qtpy.QtCore import QPoint
        from qtpy.QtTest import QTest

        t = time.perf_counter()
        viewer = self.viewer
        if kind == "pan":
            before = tuple(viewer.scene.camera.center)
            QTest.mouseMove(self.canvas.native, start + QPoint(i % 400, (i // 2) % 200))
            self.app.processEvents()  # napari moves the camera on this event
            center = tuple(viewer.scene.camera.center)
            return (t, center) if center != before else None
        viewer.dims.set_current_step(0, viewer.dims.current_step[0] + 1)
        return t, tuple(viewer.dims.current_step)

    def drive(self, kind: str, seconds: float, rate: float) -> dict[str, Any]:
        """``rate`` inputs a second for ``seconds``: a drag (pan) or a z-scroll."""
        import numpy as np
        from qtpy.QtCore import QPoint, Qt
        from qtpy.QtTest import QTest as _QTest

        QTest: Any = _QTest  # PyQt6's stubs type its static methods as instance methods
        native = self.canvas.native
        inputs: list[tuple[float, Any]] = []
        for log in (self.draws, self.shown, self.ticks):
            log.clear()
        self.timer.start()
        start = QPoint(native.width() // 4, native.height() // 2)
        button, no_modifier = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        if kind == "pan":
            QTest.mousePress(native, button, no_modifier, start)
        t_end, i = time.perf_counter() + seconds, 0
        while time.perf_counter() < t_end:
            i += 1
            event = self._input(kind, i, start)
            if event is not None:
                inputs.append(event)
            next_t = (event[0] if event else time.perf_counter()) + 1.0 / rate
            while time.perf_counter() < next_t:
                self.app.processEvents()
                time.sleep(0.0005)
        if kind == "pan":
            QTest.mouseRelease(native, button, no_modifier, start)
        self.pump(0.5)
        self.timer.stop()
        server = [next((s - t for s, h in self.shown if s >= t and _shows(kind, value, h)),
                       None) for t, value in inputs]
        gaps = np.diff(self.ticks) if len(self.ticks) > 1 else np.array([0.0])
        return {"inputs": len(inputs),
                "local_feedback_ms": summary_ms(_latencies(inputs, self.draws)),
                "server_frame_ms": summary_ms([s for s in server if s is not None]),
                "frames_shown": len(self.shown), "fps_shown": len(self.shown) / seconds,
                "longest_event_loop_stall_ms": float(gaps.max() * 1e3)}


def measure(url: str, seconds: float, rate: float, size: tuple[int, int]) -> dict[str, Any]:
    """The window on ``url``: a pan, then a z-scroll, and the client's memory after."""
    import psutil

    probe = WindowProbe(url, size)
    probe.pump(3.0)  # first frame, still
    result: dict[str, Any] = {"canvas": list(probe.viewer.canvas.size[::-1])}
    result["pan"] = probe.drive("pan", seconds, rate)
    result["zscroll"] = probe.drive("zscroll", seconds, rate)
    result["client_rss_mib"] = psutil.Process().memory_info().rss / 2**20
    probe.window.close()
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"napari client window, canvas {result['canvas'][0]}x{result['canvas'][1]}, "
             f"{result.get('link', 'loopback')} link, synthetic Qt input", "",
             f"{'phase':<9}{'inputs':>7}{'local p50':>10}{'local p95':>10}{'server p50':>11}"
             f"{'server p95':>11}{'fps':>6}{'stall max':>10}"]
    for name in ("pan", "zscroll"):
        r = result[name]
        lines.append(f"{name:<9}{r['inputs']:>7}{r['local_feedback_ms']['p50'] or 0:>10.1f}"
                     f"{r['local_feedback_ms']['p95'] or 0:>10.1f}"
                     f"{r['server_frame_ms']['p50'] or 0:>11.1f}"
                     f"{r['server_frame_ms']['p95'] or 0:>11.1f}{r['fps_shown']:>6.1f}"
                     f"{r['longest_event_loop_stall_ms']:>10.1f}")
    lines.append("(ms from an input event to the local repaint, and to a server frame drawn "
                 "from that input's camera being shown; stall = longest gap of a 2 ms Qt timer)")
    lines.append(f"client resident memory after both phases: {result['client_rss_mib']:.0f} MiB")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.gui",
                                     description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=60.0, help="input events per second")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--interactive-scale", default="auto")
    parser.add_argument("--data", action="append", default=[],
                        help="data for the server (default: the built-in sample)")
    parser.add_argument("--link", default="loopback", choices=sorted(PRESETS),
                        help="emulated link between the window and the server")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    xvfb = _start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    for key in ("EGL_PLATFORM", "PYOPENGL_PLATFORM"):
        os.environ.pop(key, None)
    try:
        with ServerProcess(["--size", f"{args.width}x{args.height}",
                            "--interactive-scale", args.interactive_scale,
                            *[x for d in args.data for x in ("--data", d)]]) as server:
            with emulated_link(port_of(server.url), PRESETS[args.link]) as link:
                result = measure(link.url_for(server.url), args.seconds, args.rate,
                                 (args.width, args.height))
            result["link"] = args.link
    finally:
        if xvfb is not None:
            xvfb.terminate()
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
