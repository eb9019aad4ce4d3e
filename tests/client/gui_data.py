"""What napari computes from data, in the window (run under Xvfb by test_gui.py).

``python gui_data.py URL OUT_DIR`` prints one JSON line. The server serves a 5 x 64 x 64
uint16 volume (``test_gui.py`` writes it): a 1000 square on every plane, a 3000 patch on
plane 2. The window's layers hold no data; the buttons of napari's own contrast controls
must act on the server's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    from napari.utils.notifications import notification_manager
    from qtpy.QtWidgets import QPushButton

    from napari_engine.client.gui import open_gui
    from tests.client.gui_tools import pump

    notification_manager.install_hooks()  # as napari.run does: errors become notices
    notices: list[str] = []
    notification_manager.notification_ready.connect(lambda n: notices.append(str(n.message)))
    window = open_gui(url)
    viewer = window.viewer
    result: dict[str, object] = {}


    pump(lambda: len(viewer.layers) > 0)
    # napari's first window, laid out as napari lays out its own: the canvas gets room
    native = window.canvas.native
    result["canvas"] = [native.width(), native.height()]
    layer = viewer.layers[0]
    pump(lambda: bool(layer.thumbnail[..., :3].max() > 0))
    result["thumbnail_max"] = int(layer.thumbnail[..., :3].max())
    viewer.window._qt_window.grab().save(str(out / "gui_data_thumbnail.png"))

    controls = viewer.window._qt_viewer.controls.widgets[layer]
    buttons = {b.text(): b for b in controls.findChildren(QPushButton)}
    result["buttons"] = sorted(buttons)

    def limits() -> list[float]:
        return [float(x) for x in layer.contrast_limits]

    # "once" on plane 2: the range of that plane's data, from the server
    viewer.dims.set_current_step(0, 2)
    layer.contrast_limits = (0.0, 50.0)
    pump(lambda: False, timeout=0.3)
    buttons["once"].click()
    result["once_plane_2"] = limits()
    # "continuous": the server re-fits each plane it slices
    buttons["continuous"].click()
    viewer.dims.set_current_step(0, 0)
    pump(lambda: limits() == [0.0, 1000.0], timeout=10)
    result["continuous_plane_0"] = limits()
    result["auto_contrast_on_server"] = window.viewer.connection.layer(
        window.viewer.layer_id(layer))["auto_contrast"]
    viewer.window._qt_window.grab().save(str(out / "gui_data_contrast.png"))

    # napari's new-layer buttons make their layers on the server
    server_layers = viewer.connection.layers
    buttons_box = viewer.window._qt_viewer.layerButtons
    viewer.layers.selection.active = layer
    buttons_box.newLabelsButton.click()
    pump(lambda: len(server_layers()) == 2)
    viewer.layers.selection.active = layer
    buttons_box.newPointsButton.click()
    pump(lambda: len(server_layers()) == 3)
    buttons_box.newShapesButton.click()
    pump(lambda: len(server_layers()) == 4)
    result["server_layers"] = [(state["type"], state.get("shape", None))
                               for state in server_layers()]
    result["window_layers"] = [x._type_string for x in viewer.layers]  # napari's kind names
    result["notices"] = notices
    viewer.window._qt_window.grab().save(str(out / "gui_data_new_layers.png"))
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
