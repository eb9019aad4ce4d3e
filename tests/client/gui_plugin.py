"""napari-engine as a napari plugin (run under Xvfb by test_gui.py).

``python gui_plugin.py URL OUT_DIR`` prints one JSON line: what the plugin's dock
widget, added to the person's own napari window through napari's plugin API, did with a
wrong token, then with the right URL in that window (it becomes a client; Disconnect
gives it back its own layers), then in a new window.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    import napari

    from napari_engine.client.plugin import NEW_WINDOW, THIS_WINDOW, load_recent
    from tests.client.gui_tools import pump

    viewer = napari.Viewer(show=True)  # the person's own napari, with a local layer
    viewer.add_image(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), name="mine")
    qt_window = viewer.window._qt_window
    own_qt_viewer = qt_window._qt_viewer
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-engine",
                                                         "Connect to remote viewer")
    result: dict[str, object] = {"widget": type(widget).__name__,
                                 "where": [widget.where.itemText(i)
                                           for i in range(widget.where.count())]}
    widget.url.setCurrentText(url.replace("token=", "token=wrong"))
    result["bad_token_window"] = widget.connect_to_server() is not None
    result["bad_token_status"] = widget.status.text()
    result["kept_after_bad_token"] = [layer.name for layer in qt_window._qt_viewer.viewer.layers]

    # this window becomes a client of the session
    widget.url.setCurrentText(url)
    widget.where.setCurrentText(THIS_WINDOW)
    remote = widget.connect_to_server()
    shown = qt_window._qt_viewer
    pump(lambda: remote is not None and len(shown.viewer.layers) >= 2, timeout=30)
    result["here_layers"] = [layer.name for layer in shown.viewer.layers]
    result["here_is_remote"] = remote is not None and shown.viewer is remote.viewer
    result["current_viewer_remote"] = napari.current_viewer() is shown.viewer
    result["here_frames"] = pump(lambda: remote.canvas.frames_shown > 0
                                 and remote.canvas.frame_header.still, timeout=30)
    result["here_layer_list_shown"] = bool(shown.layers.isVisible())
    result["own_layer_list_hidden"] = not own_qt_viewer.layers.isVisible()
    result["own_view_box"] = remote.own_view_box.isVisible()
    result["status"] = widget.status.text()
    qt_window.grab().save(str(out / "gui_plugin_here.png"))

    # Disconnect: the window shows the person's own viewer and layers again
    widget.disconnect()
    pump(lambda: False, timeout=0.5)
    back = qt_window._qt_viewer
    result["back_is_own"] = back is own_qt_viewer and back.viewer is viewer
    result["back_layers"] = [layer.name for layer in back.viewer.layers]
    result["back_canvas_shown"] = bool(back.canvas.native.isVisible())
    result["back_layer_list_shown"] = bool(back.layers.isVisible())
    qt_window.grab().save(str(out / "gui_plugin_back.png"))

    # or in a new window, this one left as it is
    widget.where.setCurrentText(NEW_WINDOW)
    window = widget.connect_to_server()
    pump(lambda: window is not None and len(window.viewer.layers) >= 2, timeout=30)
    result["layers"] = [layer.name for layer in window.viewer.layers] if window else []
    result["new_window_left_this"] = qt_window._qt_viewer is own_qt_viewer
    result["recent"] = [widget.url.itemText(i) for i in range(widget.url.count())]
    result["remembered"] = load_recent()
    print(json.dumps(result))
    widget.disconnect()
    viewer.close()


if __name__ == "__main__":
    main()
