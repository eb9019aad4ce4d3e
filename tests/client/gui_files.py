"""File > Open and File > Save in the window use the server's folders (run under Xvfb
by test_gui.py).

``python gui_files.py URL OUT_DIR FOLDER FILE`` prints one JSON line: what napari's
File > Open File(s) action showed, after entering ``FOLDER`` (a folder below the
server's first browsed folder) and opening ``FILE`` there; then what napari's Save
Selected Layers did with that layer, saved as ``copy-FILE`` in the server's save folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    url, out, folder, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    from napari._app_model import get_app_model
    from qtpy.QtWidgets import QApplication

    from napari_engine.client.gui import open_gui
    from napari_engine.client.remote_data import RemoteArray
    from napari_engine.client.server_files import ServerFileDialog
    from tests.client.gui_tools import pump

    window = open_gui(url)
    viewer = window.viewer
    pump(lambda: len(viewer.layers) >= 2, timeout=30)
    before = len(viewer.layers)

    def dialog() -> ServerFileDialog | None:
        found = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, ServerFileDialog) and w.isVisible()]
        return found[0] if found else None

    # File > Open Folder shows the server's folders too (an OME-Zarr is a folder)
    get_app_model().commands.execute_command("napari.window.file.open_folder_dialog")
    result: dict[str, object] = {
        "folder_dialog": pump(lambda: dialog() is not None, timeout=10)}
    folder_dialog = dialog()
    if folder_dialog is not None:
        folder_dialog.reject()
        pump(lambda: dialog() is None, timeout=5)
    get_app_model().commands.execute_command("napari.window.file.open_files_dialog")
    result["dialog"] = pump(lambda: dialog() is not None, timeout=10)
    shown = dialog()
    assert shown is not None
    result["roots"] = [shown.roots.itemText(i) for i in range(shown.roots.count())]
    result["top_entries"] = [shown.entries.item(i).text()
                             for i in range(shown.entries.count())]
    shown.select(folder)
    shown.entries.itemDoubleClicked.emit(shown.entries.currentItem())  # enter it
    pump(lambda: shown.where.text().endswith(folder), timeout=10)
    result["where"] = shown.where.text()
    result["entries"] = [shown.entries.item(i).text() for i in range(shown.entries.count())]
    shown.select(name)
    shown.grab().save(str(out / "gui_files_dialog.png"))
    shown.open_button.click()
    result["opened"] = pump(lambda: len(viewer.layers) > before, timeout=30)
    result["closed"] = not shown.isVisible()
    layer = viewer.layers[-1]
    result["layer"] = layer.name
    result["server_data"] = isinstance(layer.data, RemoteArray)
    result["shape"] = list(layer.data.shape)
    result["server_layers"] = [state["name"] for state in viewer.connection.layers()]
    viewer.window._qt_window.grab().save(str(out / "gui_files_opened.png"))

    # File > Save Selected Layers: the server's save folder, a name, Save
    from qtpy.QtCore import QTimer

    from napari_engine.client.server_files import ServerSaveDialog

    viewer.layers.selection.active = layer
    seen: dict[str, object] = {}

    def fill_in() -> None:
        found = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, ServerSaveDialog) and w.isVisible()]
        if not found:
            QTimer.singleShot(50, fill_in)
            return
        save = found[0]
        seen["name_offered"] = save.name.text()
        seen["save_where"] = save.where.text()
        save.name.setText(f"copy-{name}")
        save.grab().save(str(out / "gui_files_save.png"))
        save.open_button.click()

    QTimer.singleShot(50, fill_in)
    get_app_model().commands.execute_command(
        "napari.window.file.save_layers_dialog.selected")
    pump(lambda: "name_offered" in seen, timeout=10)
    result.update(seen)
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
