"""What the window shows of the stream (run under Xvfb by test_gui.py).

``python gui_stream.py URL OUT_DIR`` prints one JSON line: the planes a z-scroll painted
(and how bright each painted plane was), and the picture pixels each pan step painted.
The server serves a volume whose plane z is uniformly 8 * (z + 1) with a faint
checkerboard (``test_gui.py`` writes it).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from napari_engine.client.gui import open_gui
    from tests.client.gui_tools import on_screen, rgb
    from tests.client.gui_tools import pump as pump_events

    def pump(until: Callable[[], bool], timeout: float = 20.0) -> bool:
        return pump_events(until, timeout, step=0.002)  # frames come every few ms

    window = open_gui(url)
    window.viewer.window._qt_window.resize(1000, 700)
    app = QApplication.instance()
    canvas = window.canvas
    result: dict[str, object] = {}


    def grab(name: str) -> np.ndarray:
        """The canvas as the display shows it (what Qt flushed, not a fresh paint)."""
        image = on_screen(canvas.native)
        image.save(str(out / f"gui_stream_{name}.png"))
        return rgb(image)

    painted: list[tuple[int, int]] = []  # (frame seq, plane) of every paint that showed one

    def on_paint() -> None:
        header = canvas.frame_header
        if header is not None and header.view is not None:
            painted.append((header.seq, int(header.view.current_step[0])))

    canvas.native.paint_done.connect(on_paint)
    pump(lambda: canvas.frame_header is not None and canvas.frame_header.still)
    layer = window.viewer.layers[0]
    layer.contrast_limits = (0.0, 255.0)
    layer.colormap = "gray"
    window.viewer.reset_view()

    # z-scroll through 30 planes, each step once the window painted the one before
    def shown_plane() -> int | None:
        header = canvas.frame_header
        return None if header is None or header.view is None else int(
            header.view.current_step[0])

    brightness = []
    for z in range(30):
        window.viewer.dims.set_current_step(0, z)
        if not pump(lambda z=z: shown_plane() == z, timeout=20):
            break
        pixels = grab(f"z{z}")
        h, w = pixels.shape[:2]
        brightness.append(float(np.median(pixels[h // 4: 3 * h // 4, w // 4: 3 * w // 4])))
    planes = [plane for _seq, plane in painted]
    result["planes_in_paint_order"] = [p for i, p in enumerate(planes)
                                       if i == 0 or p != planes[i - 1]]
    result["seqs_never_go_back"] = all(a[0] <= b[0] for a, b in itertools.pairwise(painted))
    result["brightness"] = brightness

    # a pan, in steps of 10 screen pixels, over a picture that fills the canvas
    window.viewer.dims.set_current_step(0, 15)
    window.viewer.scene.camera.zoom = 3.0
    pump(lambda: canvas.frame_header is not None and canvas.frame_header.view is not None
         and canvas.frame_header.view.zoom == 3.0 and shown_plane() == 15)
    pump(lambda: False, timeout=0.5)
    native = canvas.native
    start = QPoint(native.width() // 2, native.height() // 2)
    QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    steps = []
    for step in range(1, 11):
        before = canvas.painted_pixels
        QTest.mouseMove(native, start + QPoint(10 * step, 0))
        center = tuple(window.viewer.scene.camera.center)
        # until the server's frame of this step is on the screen
        pump(lambda center=center: canvas.frame_header is not None
             and canvas.frame_header.view is not None
             and np.allclose(canvas.frame_header.view.center[-2:], center[-2:]), timeout=10)
        steps.append(canvas.painted_pixels - before)
    QTest.mouseRelease(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(100, 0))
    result["pan_painted_per_step"] = steps
    result["canvas_pixels"] = native.width() * native.height()
    pump(lambda: False, timeout=0.3)
    panned = grab("panned")  # after the scrolls and the strips they uncovered
    native.repaint()  # the same picture, painted afresh everywhere
    app.processEvents()
    result["scrolled_vs_repainted"] = float(np.abs(panned.astype(int)
                                                   - grab("repainted").astype(int)).mean())
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
