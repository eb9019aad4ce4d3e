"""Drive the napari client window as a person would (run under Xvfb by test_gui.py).

``python gui_session.py URL OUT_DIR`` prints one JSON line with what it observed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    import napari_engine
    from napari_engine.client.gui import open_gui
    from napari_engine.client.qt_napari_compat import controls_layer
    from tests.client.gui_tools import pump, rgb

    window = open_gui(url)
    qt_window = window.viewer.window._qt_window
    qt_window.resize(1200, 800)
    app = QApplication.instance()
    result: dict[str, object] = {}


    def grab(name: str) -> np.ndarray:
        image = qt_window.grab().toImage()
        image.save(str(out / f"gui_{name}.png"))
        return rgb(window.canvas.native.grab().toImage())

    result["first_frame"] = pump(lambda: window.canvas.frames_shown > 0)
    pump(lambda: bool(window.canvas.frame_header and window.canvas.frame_header.still))
    result["layers"] = [layer.name for layer in window.viewer.layers]
    shown = controls_layer(window.viewer.window)  # the active layer's controls are up
    result["controls_layer"] = shown.name if shown is not None else None
    result["active_layer"] = getattr(window.viewer.layers.selection.active, "name", None)
    pixels = grab("start")
    result["canvas_mean"] = float(pixels.mean())
    result["canvas_std"] = float(pixels.std())

    # a mouse drag on the canvas: napari pans the local camera at once
    native = window.canvas.native
    center_before = tuple(window.viewer.scene.camera.center)
    start = QPoint(native.width() // 2, native.height() // 2)
    QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    t0 = time.perf_counter()
    for step in range(1, 11):
        QTest.mouseMove(native, start + QPoint(20 * step, 10 * step))
        app.processEvents()
    QTest.mouseRelease(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(200, 100))
    result["local_pan_s"] = time.perf_counter() - t0
    result["local_center_moved"] = tuple(window.viewer.scene.camera.center) != center_before
    local_center = [float(v) for v in window.viewer.scene.camera.center]

    # the server follows: its next frame was drawn from the moved camera
    def server_followed() -> bool:
        header = window.canvas.frame_header
        view = header.view if header is not None else None
        return view is not None and np.allclose(view.center[-2:], local_center[-2:], atol=1e-3)

    result["server_followed"] = pump(server_followed)
    grab("panned")

    # layer controls: opacity and colormap of the top layer, as the widgets would set them
    layer = window.viewer.layers[-1]
    layer.opacity = 0.5
    layer.colormap = "cyan"
    checker = napari_engine.connect(url, stream="none")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        app.processEvents()
        checker.sync()
        top = checker.layers[-1]
        if top.opacity == 0.5 and top.colormap.name == "cyan":
            break
    result["server_layer"] = {"opacity": checker.layers[-1].opacity,
                              "colormap": checker.layers[-1].colormap.name}
    # and a change made elsewhere comes back into the window's widgets
    checker.layers[0].visible = False
    checker.sync()
    result["remote_change_seen"] = pump(lambda: not window.viewer.layers[0].visible)
    pump(lambda: bool(window.canvas.frame_header and window.canvas.frame_header.still),
         timeout=5)
    before_bar = grab("edited")
    # napari's scale bar, switched on in the window, is drawn by the server in its picture
    seq = window.canvas.frame_header.seq if window.canvas.frame_header else -1
    window.viewer.scale_bar.visible = True
    result["scale_bar_on_server"] = pump(
        lambda: checker.sync() is None and checker.scale_bar.visible, timeout=10)
    pump(lambda: bool(window.canvas.frame_header and window.canvas.frame_header.still
                      and window.canvas.frame_header.seq > seq), timeout=10)
    with_bar = grab("scale_bar")
    corner = (slice(-80, None), slice(-260, None))  # napari's default: bottom right
    result["scale_bar_drawn"] = float(np.abs(with_bar[corner].astype(int)
                                             - before_bar[corner].astype(int)).mean())
    window.viewer.scale_bar.visible = False
    checker.close()

    # painting: a labels layer, paint mode and a drag on the canvas paint on the server
    checker = napari_engine.connect(url, stream="none")
    checker.add_labels(np.zeros((1024, 1024), np.uint8), name="mask",
                       scale=[32.0, 32.0])
    pump(lambda: "mask" in window.viewer.layers)
    local_labels = window.viewer.layers["mask"]
    window.viewer.layers.selection.active = local_labels
    local_labels.mode = "paint"
    local_labels.selected_label = 5
    local_labels.brush_size = 40
    # the tool, label and brush are this window's own (the checker keeps its own)
    pump(lambda: window.viewer.connection.pending() == 0, timeout=10)
    window.viewer.reset_view()
    pump(lambda: False, timeout=1.0)
    left = QPoint(native.width() // 3, native.height() // 2)
    QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, left)
    for step in range(1, 21):
        QTest.mouseMove(native, left + QPoint(10 * step, 0))
        pump(lambda: False, timeout=0.01)
    QTest.mouseRelease(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       left + QPoint(200, 0))
    middle = window.canvas._map_canvas2world(
        (native.width() // 3 + 100, native.height() // 2), window.canvas.view)
    checker.sync()
    status = checker.connection.request("cursor.set",
                                        {"position": [float(v) for v in middle]})
    result["painted_status"] = str(status["status"])
    pump(lambda: bool(window.canvas.frame_header and window.canvas.frame_header.still),
         timeout=5)
    grab("painted")
    # the brush circle follows the pointer in the window itself (no round trip)
    hover = QPoint(native.width() // 2, native.height() // 2)
    QTest.mouseMove(native, hover)
    brush = window.viewer.canvas.overlays["_brush_circle"]
    pump(lambda: brush.visible and tuple(brush.position) == (hover.x(), hover.y()),
         timeout=5)
    pump(lambda: False, timeout=0.2)
    radius = int(brush.size / 2)
    hovered = grab("brush")
    ring = [hovered[hover.y() + dy - 2:hover.y() + dy + 3, hover.x() + dx - 2:hover.x() + dx + 3]
            for dx, dy in ((radius, 0), (-radius, 0), (0, radius), (0, -radius))]
    result["brush_ring_white"] = sum(int((patch.min(axis=-1) > 200).any()) for patch in ring)
    # a labels key binding, typed in the window, acts on the server's data
    QTest.keyClick(native, Qt.Key.Key_M)
    result["new_label_after_m"] = pump(lambda: local_labels.selected_label == 6, timeout=10)
    local_labels.mode = "pan_zoom"
    window.viewer.layers.remove(local_labels)
    pump(lambda: "mask" not in [x.name for x in checker.layers], timeout=10)
    checker.close()

    # points: a click in add mode adds a point on the server; the window's layer follows
    checker = napari_engine.connect(url, stream="none")
    checker.add_points([[16000.0, 16000.0]], size=200, face_color="yellow", name="spots")
    pump(lambda: "spots" in window.viewer.layers)
    spots = window.viewer.layers["spots"]
    window.viewer.layers.selection.active = spots
    spots.mode = "add"
    pump(lambda: window.viewer.connection.pending() == 0, timeout=10)
    click = QPoint(native.width() // 2, native.height() // 3)
    QTest.mouseClick(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, click)
    result["point_added"] = pump(lambda: len(spots.data) == 2, timeout=10)
    grab("points")
    spots.mode = "pan_zoom"
    checker.close()

    # the dims play button animates z; the server follows
    qt_dims = window.viewer.window._qt_viewer.dims
    watcher = napari_engine.connect(url, stream="none")
    z_before = watcher.dims.current_step[0]
    qt_dims.play(axis=0, fps=20)
    pump(lambda: False, timeout=1.5)
    qt_dims.stop()
    pump(lambda: False, timeout=0.3)
    watcher.sync()
    checker_z = watcher.dims.current_step[0]
    result["play_moved_server_z"] = checker_z != z_before
    watcher.close()

    # 3D: the 2D/3D switch and a rotation reach the server; its frame fills the canvas
    window.viewer.dims.ndisplay = 3
    window.viewer.scene.camera.angles = (0.0, 30.0, 60.0)

    def rotated() -> bool:
        header = window.canvas.frame_header
        view = header.view if header is not None else None
        return (view is not None and view.ndisplay == 3
                and np.allclose(view.angles, window.viewer.scene.camera.angles, atol=0.5))

    result["rotated_frame"] = pump(rotated, timeout=30)
    pump(lambda: bool(window.canvas.frame_header and window.canvas.frame_header.still),
         timeout=5)
    result["canvas_3d_std"] = float(grab("3d").std())
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
