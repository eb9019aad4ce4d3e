"""``python -m napari_engine.bench.window_driver remote URL | local PATH``: one napari
window, driven as a person would, measured as the person sees it.

Run in a process of its own (``bench.gui`` pins it to a core): either the napari-engine
window on a server session (``remote``), or local napari with the same data loaded in
memory (``local``: the reference). Phases of synthetic input at a fixed rate: a drag
(pan), wheel steps (zoom), z steps (z-scroll, as the play button does) and, in 3D, the
camera turning by 2 degrees a step (rotate). For each it prints, as JSON: the
inputs the window handled (a busy GUI thread handles fewer), the repaints, the frames
shown (remote: distinct server frames painted; local: repaints), the time from an input
to the next repaint (local feedback) and, remote, to the first repaint of a server frame
drawn from it, the longest stall of the event loop (a 2 ms timer's largest gap), and
where the window's time went (``WindowStats``, when the client keeps them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from napari_engine.bench.stats import summary_ms

PHASES = ("pan", "zoom", "zscroll", "rotate")


class Probe:
    """Watches one napari window: repaints, frames painted, event-loop ticks."""

    def __init__(self, viewer: Any, canvas: Any, remote: bool) -> None:
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication, QWidget

        from napari_engine.client.qt_napari_compat import qt_viewer_of, scene_canvas_of

        app = QApplication.instance()
        assert app is not None
        self.app, self.viewer, self.canvas, self.remote = app, viewer, canvas, remote
        self.draws: list[float] = []
        #: (time painted, the header of the server frame painted) for new frames only
        self.frames: list[tuple[float, Any]] = []
        self._last_seq: int | None = None
        if remote:  # the remote canvas paints without OpenGL: no vispy draw events
            canvas.native.paint_done.connect(lambda: self._drawn(None))
        else:
            scene_canvas_of(canvas).events.draw.connect(self._drawn, position="last")
        #: paints of the dims sliders: a z-scroll's local feedback (the new plane itself
        #: comes from the data, the server's or napari's)
        self.dims_paints: list[float] = []
        self._dims_watch = _paint_watch(self.dims_paints)
        dims = qt_viewer_of(viewer.window).dims
        for widget in (dims, *dims.findChildren(QWidget)):
            widget.installEventFilter(self._dims_watch)
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def _drawn(self, _event: Any) -> None:
        now = time.perf_counter()
        self.draws.append(now)
        header = getattr(self.canvas, "frame_header", None)
        if header is not None and header.seq != self._last_seq:
            self._last_seq = header.seq
            self.frames.append((now, header))

    def pump(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not (until and until()):
            self.app.processEvents()
            time.sleep(0.001)


def _paint_watch_class() -> type:
    from qtpy.QtCore import QEvent, QObject

    class PaintWatch(QObject):
        """Notes the time of every paint of the widgets it watches."""

        def __init__(self, times: list[float]) -> None:
            super().__init__()
            self.times = times

        def eventFilter(self, watched: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.times.append(time.perf_counter())
            return False

    return PaintWatch


def _paint_watch(times: list[float]) -> Any:
    return _paint_watch_class()(times)


def _wheel(widget: Any, steps: int) -> None:
    """One mouse-wheel notch on ``widget`` (what QTest cannot send)."""
    from qtpy.QtCore import QPoint, QPointF, Qt
    from qtpy.QtGui import QWheelEvent
    from qtpy.QtWidgets import QApplication

    at = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


class Inputs:
    """The synthetic input of one phase: what to send, and what the view then shows."""

    def __init__(self, probe: Probe, kind: str) -> None:
        from qtpy.QtCore import QPoint

        self.probe, self.kind = probe, kind
        native = probe.canvas.native
        self.native = native
        self.start = QPoint(native.width() // 4, native.height() // 2)
        self.z0 = int(probe.viewer.dims.current_step[0])
        self.nz = int(probe.viewer.dims.nsteps[0])

    def begin(self) -> None:
        if self.kind == "rotate":  # 3D, once the window shows it
            self.probe.viewer.dims.ndisplay = 3
            self.probe.pump(3.0)
        if self.kind == "pan":
            from qtpy.QtCore import Qt
            from qtpy.QtTest import QTest as _QTest

            qtest: Any = _QTest
            qtest.mousePress(self.native, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier, self.start)

    def end(self) -> None:
        if self.kind == "rotate":
            self.probe.viewer.dims.ndisplay = 2
        if self.kind == "pan":
            from qtpy.QtCore import Qt
            from qtpy.QtTest import QTest as _QTest

            qtest: Any = _QTest
            qtest.mouseRelease(self.native, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier, self.start)

    def send(self, i: int) -> Any:
        """Input number ``i``; returns what the view must show for it (None: nothing
        changed)."""
        from qtpy.QtCore import QPoint
        from qtpy.QtTest import QTest as _QTest

        viewer = self.probe.viewer
        camera = viewer.scene.camera
        if self.kind == "pan":
            before = tuple(camera.center)
            qtest: Any = _QTest
            qtest.mouseMove(self.native, self.start + QPoint(i % 400, (i // 2) % 200))
            self.probe.app.processEvents()  # napari moves the camera on this event
            return tuple(camera.center) if tuple(camera.center) != before else None
        if self.kind == "zoom":
            _wheel(self.native, 1 if (i // 30) % 2 == 0 else -1)  # in for 30, out for 30
            return float(camera.zoom)
        if self.kind == "rotate":  # around the vertical axis, as a drag in 3D turns it
            angles = tuple(camera.angles)
            camera.angles = (angles[0], angles[1] + 2.0, angles[2])
            return tuple(camera.angles)
        step = (self.z0 + i) % self.nz
        viewer.dims.set_current_step(0, step)
        return step


def _first_after(times: list[float], t: float) -> float | None:
    return next((x - t for x in times if x >= t), None)


def run_phase(probe: Probe, kind: str, seconds: float, rate: float) -> dict[str, Any]:
    """``rate`` inputs a second for ``seconds``, as the GUI thread lets them through."""
    import numpy as np

    inputs = Inputs(probe, kind)
    for log in (probe.draws, probe.frames, probe.ticks, probe.dims_paints):
        log.clear()
    stats_before = _window_stats(probe)
    probe.timer.start()
    inputs.begin()
    sent: list[tuple[float, Any]] = []
    t_start = time.perf_counter()
    t_end, i, next_t = t_start + seconds, 0, t_start
    while time.perf_counter() < t_end:
        now = time.perf_counter()
        if now >= next_t:  # a late input is sent once, not caught up (as a mouse coalesces)
            i += 1
            value = inputs.send(i)
            if value is not None:
                sent.append((now, value))
            next_t = max(next_t + 1.0 / rate, now)
        probe.app.processEvents()
        time.sleep(0.0005)
    inputs.end()
    frames_in_phase = [f for f in probe.frames if f[0] < t_end]
    probe.pump(1.0)
    probe.timer.stop()
    elapsed = t_end - t_start
    feedback = probe.dims_paints if kind == "zscroll" else probe.draws
    local = [x for t, _ in sent if (x := _first_after(feedback, t)) is not None]
    # input to screen: the first painted server frame that reflects this input or a
    # later one (the server names the latest input each frame reflects)
    server = [next((ft - t for ft, h in probe.frames
                    if ft >= t and h.input_t is not None and h.input_t >= t), None)
              for t, _v in sent]
    gaps = np.diff(probe.ticks) if len(probe.ticks) > 1 else np.array([0.0])
    shown = len(frames_in_phase) if probe.remote else len(
        [d for d in probe.draws if d < t_end])
    return {"inputs": len(sent), "inputs_per_s": len(sent) / elapsed,
            "repaints_per_s": len([d for d in probe.draws if d < t_end]) / elapsed,
            "frames_shown_per_s": shown / elapsed,
            "local_feedback_ms": summary_ms(local),
            "server_frame_ms": summary_ms([s for s in server if s is not None]),
            "longest_stall_ms": float(gaps.max() * 1e3),
            "stages": _stage_delta(stats_before, _window_stats(probe)),
            "encodings": dict(Counter(h.encoding for _t, h in frames_in_phase)),
            "server_stages": _server_stages([h for _t, h in frames_in_phase])}


def _server_stages(headers: list[Any]) -> dict[str, float]:
    """Mean server milliseconds per frame shown, by stage (the frames' own timings)."""
    if not headers:
        return {}
    names = ("load_ms", "render_ms", "readback_ms", "encode_ms")
    return {name[:-3]: sum(getattr(h.timings, name) for h in headers) / len(headers)
            for name in names}


def _window_stats(probe: Probe) -> dict[str, Any] | None:
    stats = getattr(getattr(probe, "window", None), "stats", None)
    return stats.snapshot() if stats is not None else None


def _stage_delta(before: dict[str, Any] | None, after: dict[str, Any] | None
                 ) -> dict[str, Any] | None:
    """Per stage: how many times, total ms, ms per time, during the phase."""
    if before is None or after is None:
        return None
    out = {}
    for stage, (count, total) in after.items():
        count0, total0 = before.get(stage, (0, 0.0))
        n, ms = count - count0, (total - total0) * 1e3
        out[stage] = {"count": n, "total_ms": ms, "mean_ms": ms / n if n else None}
    return out


def _open_remote(url: str, size: tuple[int, int]) -> Probe:
    from napari_engine.client.gui import open_gui
    from napari_engine.client.qt_napari_compat import qt_window_of

    window = open_gui(url)
    qt_window_of(window.viewer.window).resize(size[0] + 420, size[1] + 120)
    probe = Probe(window.viewer, window.canvas, remote=True)
    probe.window = window  # type: ignore[attr-defined]
    probe.pump(60.0, until=lambda: bool(probe.frames) and probe.frames[-1][1].still)
    return probe


def _open_local(path: str, size: tuple[int, int]) -> Probe:
    import napari
    import numpy as np

    from napari_engine.client.qt_napari_compat import qt_viewer_of, qt_window_of
    from napari_engine.data import open_data

    viewer = napari.Viewer()
    for spec in open_data(path):  # the server's own reading: same names, limits, colours
        data = ([np.asarray(level) for level in spec.data] if isinstance(spec.data, list)
                else np.asarray(spec.data))  # in memory, as a local user would have it
        getattr(viewer, f"add_{spec.kind}")(data, **spec.kwargs)
    qt_window_of(viewer.window).resize(size[0] + 420, size[1] + 120)
    probe = Probe(viewer, qt_viewer_of(viewer.window).canvas, remote=False)
    probe.pump(3.0)
    return probe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.window_driver")
    parser.add_argument("kind", choices=["remote", "local"])
    parser.add_argument("target", help="the server URL (remote) or the data (local)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=60.0)
    parser.add_argument("--size", default="1877x1000", help="canvas WIDTHxHEIGHT")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    probe = (_open_remote if args.kind == "remote" else _open_local)(args.target,
                                                                      (width, height))
    import psutil

    result: dict[str, Any] = {"kind": args.kind,
                              "canvas": list(probe.viewer.canvas.size[::-1])}
    for phase in args.phases.split(","):
        probe.pump(1.0)  # the view rests between phases
        result[phase] = run_phase(probe, phase, args.seconds, args.rate)
    result["rss_mib"] = psutil.Process().memory_info().rss / 2**20
    args.json.write_text(json.dumps(result, indent=2))
    window = getattr(probe, "window", None)
    (window.close if window is not None else probe.viewer.close)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
