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
from napari_engine.server.process import ServerProcess


def _start_xvfb() -> subprocess.Popen[bytes] | None:
    if os.environ.get("DISPLAY"):
        return None
    started = start_xvfb()
    if started is None:
        return None
    os.environ["DISPLAY"] = started[1]
    return started[0]


def measure(url: str, seconds: float, rate: float, size: tuple[int, int]) -> dict[str, Any]:
    import numpy as np
    from qtpy.QtCore import QPoint, Qt, QTimer
    from qtpy.QtTest import QTest as _QTest
    from qtpy.QtWidgets import QApplication

    from napari_engine.client.gui import open_gui
    from napari_engine.protocol import FrameHeader

    QTest: Any = _QTest  # PyQt6's stubs type its static methods as instance methods

    window = open_gui(url)
    window.viewer.window._qt_window.resize(size[0] + 420, size[1] + 120)
    app = QApplication.instance()
    assert app is not None
    canvas, viewer = window.canvas, window.viewer
    scene_canvas = canvas._scene_canvas
    draws: list[float] = []
    scene_canvas.events.draw.connect(lambda _e: draws.append(time.perf_counter()),
                                     position="last")
    shown: list[tuple[float, FrameHeader]] = []
    original_show = canvas.show_frame

    def show_frame(rgba: Any, header: FrameHeader) -> None:
        original_show(rgba, header)
        shown.append((time.perf_counter(), header))

    canvas.show_frame = show_frame
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def pump(duration: float) -> None:
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    pump(3.0)  # first frame, still
    native = canvas.native
    result: dict[str, Any] = {"canvas": list(viewer.canvas.size[::-1])}

    def drive(kind: str) -> dict[str, Any]:
        inputs: list[tuple[float, Any]] = []
        draws.clear()
        shown.clear()
        ticks.clear()
        timer.start()
        start = QPoint(native.width() // 4, native.height() // 2)
        if kind == "pan":
            QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             start)
        t_end = time.perf_counter() + seconds
        i = 0
        z0 = viewer.dims.current_step[0]
        while time.perf_counter() < t_end:
            i += 1
            t = time.perf_counter()
            if kind == "pan":
                before = tuple(viewer.scene.camera.center)
                QTest.mouseMove(native, start + QPoint(i % 400, (i // 2) % 200))
                app.processEvents()  # napari moves the camera on this event
                if tuple(viewer.scene.camera.center) != before:
                    inputs.append((t, tuple(viewer.scene.camera.center)))
            else:
                viewer.dims.set_current_step(0, z0 + i)
                inputs.append((t, tuple(viewer.dims.current_step)))
            next_t = t + 1.0 / rate
            while time.perf_counter() < next_t:
                app.processEvents()
                time.sleep(0.0005)
        if kind == "pan":
            QTest.mouseRelease(native, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier, start)
        pump(0.5)
        timer.stop()
        local = []
        for t, _value in inputs:
            later = [d for d in draws if d >= t]
            if later:
                local.append(later[0] - t)
        server = []
        if kind == "pan":
            for t, center in inputs:
                match = [s for s, h in shown if s >= t and h.view is not None
                         and np.allclose(h.view.center[-2:], center[-2:], atol=1e-6)]
                if match:
                    server.append(match[0] - t)
        else:
            for t, step in inputs:
                # the first frame drawn at this plane or a later one (steps in between
                # are merged on the server: latest wins)
                match = [s for s, h in shown if s >= t and h.view is not None
                         and h.view.current_step[0] >= step[0]]
                if match:
                    server.append(match[0] - t)
        gaps = np.diff(ticks) if len(ticks) > 1 else np.array([0.0])
        return {"inputs": len(inputs), "local_feedback_ms": summary_ms(local),
                "server_frame_ms": summary_ms(server), "frames_shown": len(shown),
                "fps_shown": len(shown) / seconds,
                "longest_event_loop_stall_ms": float(gaps.max() * 1e3)}

    result["pan"] = drive("pan")
    result["zscroll"] = drive("zscroll")
    import psutil

    result["client_rss_mib"] = psutil.Process().memory_info().rss / 2**20
    window.close()
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
