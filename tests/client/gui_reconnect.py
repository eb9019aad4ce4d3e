"""The napari window opened on an existing scripting viewer, and a lost server as the
window shows it (run under Xvfb by test_gui.py, which kills and restarts the server).

``python gui_reconnect.py URL OUT_DIR SIGNAL_DIR`` prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path


def main() -> None:
    url, out, signals = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    from qtpy.QtWidgets import QApplication

    import napari_engine
    from napari_engine.client.gui import open_gui
    from napari_engine.client.qt_napari_compat import controls_layer, qt_window_of
    from tests.client.gui_tools import pump as pump_events

    def pump(until: Callable[[], bool], timeout: float = 30.0) -> bool:
        return pump_events(until, timeout, step=0.01)

    viewer = napari_engine.connect(url)  # a script's viewer first, then its window
    layer = viewer.layers[0]
    window = open_gui(viewer)
    app = QApplication.instance()
    assert app is not None
    result: dict[str, object] = {}


    def grab(name: str) -> None:
        qt_window_of(viewer.window).grab().toImage().save(str(out / f"gui_{name}.png"))

    result["same_viewer"] = window.viewer is viewer and viewer.layers[0] is layer
    result["frames"] = pump(lambda: window.canvas.frames_shown > 0)
    result["layers"] = [x.name for x in viewer.layers]
    shown = controls_layer(viewer.window)
    result["controls_layer"] = shown.name if shown is not None else None
    layer.opacity = 0.3  # the script's layer object, now also the window's
    checker = napari_engine.connect(url, stream="none")
    result["edit_reached_server"] = pump(
        lambda: checker.sync() is None and checker.layers[0].opacity == 0.3, timeout=20)
    checker.close()
    title = viewer.title
    (signals / "ready").touch()
    result["lost_shown"] = pump(lambda: "Connection lost" in window.canvas.message)
    result["lost_title"] = viewer.title
    grab("connection_lost")
    (signals / "lost-seen").touch()
    result["reconnected"] = pump(lambda: not window.canvas.message and viewer.title == title,
                                 60)
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
