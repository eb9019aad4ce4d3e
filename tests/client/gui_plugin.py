"""napari-engine as a napari plugin (run under Xvfb by test_gui.py).

``python gui_plugin.py URL OUT_DIR`` prints one JSON line: what napari's own window, with
the plugin's dock widget added through napari's plugin API, did with a wrong token and
then with the right URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    import napari

    from tests.client.gui_tools import pump

    viewer = napari.Viewer(show=True)  # the person's own napari
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-engine",
                                                         "Connect to remote viewer")
    result: dict[str, object] = {"widget": type(widget).__name__}
    widget.url.setCurrentText(url.replace("token=", "token=wrong"))
    result["bad_token_window"] = widget.connect_to_server() is not None
    result["bad_token_status"] = widget.status.text()
    widget.url.setCurrentText(url)
    window = widget.connect_to_server()
    pump(lambda: window is not None and len(window.viewer.layers) >= 2, timeout=30)
    result["layers"] = [layer.name for layer in window.viewer.layers] if window else []
    result["status"] = widget.status.text()
    result["recent"] = [widget.url.itemText(i) for i in range(widget.url.count())]
    from napari_engine.client.plugin import load_recent

    result["remembered"] = load_recent()
    viewer.window._qt_window.grab().save(str(out / "gui_plugin.png"))
    print(json.dumps(result))
    window.close()
    viewer.close()


if __name__ == "__main__":
    main()
