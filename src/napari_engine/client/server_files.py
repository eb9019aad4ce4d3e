"""File > Open and File > Save in the window: dialogs over the *server's* folders.

napari's file dialogs show the person's own disk; in a window on a napari-engine
session the data is on the server, so Open File(s) lists the folders the server offers
(``files.list``; ``--browse``) and opens what is picked there (``ProxyViewer.open``),
and Save Selected/All Layers lists the server's save directory and writes there with
napari's writers. "This computer..." falls back to napari's own dialog: napari reads
those files here (their layers are made on the server), or downloads what it saves.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from napari_engine.protocol import Op


def _size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


class ServerFileDialog(QDialog):
    """The server's folders: double-click a folder to enter it, an image (a TIFF, an
    OME-Zarr folder) to open it on the server."""

    def __init__(self, viewer: Any, on_this_computer: Callable[[], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from the napari-engine server")
        self.viewer = viewer
        self._on_this_computer = on_this_computer
        self._root: int | str = 0
        self._path, self._folder = "", ""
        self.opened: list[Any] = []
        self.roots = QComboBox()
        self.where = QLabel()
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.entries = QListWidget()
        self.entries.itemDoubleClicked.connect(self._activate)
        self.up = QPushButton("Up")
        self.up.clicked.connect(self._go_up)
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self._open_selected)
        here = QPushButton("This computer...")
        here.setEnabled(on_this_computer is not None)
        here.clicked.connect(self._this_computer)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(QLabel("Server folder:"))
        top.addWidget(self.roots, 1)
        top.addWidget(self.up)
        buttons = QHBoxLayout()
        buttons.addWidget(here)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.where)
        layout.addWidget(self.entries, 1)
        layout.addLayout(buttons)
        self.resize(640, 480)
        self._buttons = buttons
        self.show_folder(self.first_root, "")
        self.roots.currentIndexChanged.connect(lambda index: self.show_folder(index, ""))

    #: the folder listed first (an index of the server's browsed folders)
    first_root: int | str = 0

    def show_folder(self, root: int | str, path: str) -> None:
        """List ``path`` under the server's ``root``-th folder (an error is shown in
        place of the list)."""
        try:
            listed = self.viewer.connection.request(Op.FILES_LIST,
                                                    {"root": root, "path": path})
        except Exception as exc:  # the server's refusal, a lost connection
            self.where.setText(f"cannot list this folder: {exc}")
            return
        self._root, self._path, self._folder = root, listed["path"], listed["folder"]
        if self.roots.count() != len(listed["roots"]):
            self.roots.blockSignals(True)
            self.roots.clear()
            self.roots.addItems(listed["roots"])
            self.roots.blockSignals(False)
        self.roots.setCurrentIndex(root if isinstance(root, int) else 0)
        self.where.setText(listed["folder"] + ("  (first entries only)"
                                               if listed.get("truncated") else ""))
        self.up.setEnabled(bool(self._path))
        self.entries.clear()
        style = self.style()
        for entry in listed["entries"]:
            icon = QStyle.StandardPixmap.SP_DirIcon if entry["dir"] and not entry[
                "openable"] else QStyle.StandardPixmap.SP_FileIcon
            label = entry["name"] + ("/" if entry["dir"] else "")
            if entry.get("size") is not None:
                label += f"    {_size(entry['size'])}"
            item = QListWidgetItem(style.standardIcon(icon) if style else None, label)
            item.setData(Qt.ItemDataRole.UserRole, entry)
            if not entry["dir"] and not entry["openable"]:
                item.setForeground(Qt.GlobalColor.gray)
            self.entries.addItem(item)

    def select(self, name: str) -> None:
        """Select the entry called ``name`` (what a click does)."""
        for row in range(self.entries.count()):
            item = self.entries.item(row)
            if item is not None and item.data(Qt.ItemDataRole.UserRole)["name"] == name:
                self.entries.setCurrentItem(item)
                return
        raise KeyError(name)

    def _activate(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        if entry["dir"] and not entry["openable"]:
            self.show_folder(self._root, posixpath.join(self._path, entry["name"]))
        else:
            self._open(entry)

    def _go_up(self) -> None:
        self.show_folder(self._root, posixpath.dirname(self._path))

    def _open_selected(self) -> None:
        item = self.entries.currentItem()
        if item is not None:
            self._open(item.data(Qt.ItemDataRole.UserRole))

    def _open(self, entry: dict[str, Any]) -> None:
        from napari.utils.notifications import show_error

        path = posixpath.join(self._folder, entry["name"])
        try:
            self.opened = list(self.viewer.open(path))
        except Exception as exc:  # the server cannot read it: say so, keep the dialog
            show_error(f"The server could not open {path}: {exc}")
            return
        self.accept()

    def _this_computer(self) -> None:
        self.reject()
        if self._on_this_computer is not None:
            self._on_this_computer()


class ServerSaveDialog(ServerFileDialog):
    """The server's save directory: a file name (and a folder below it) to save to;
    ``chosen`` is that path, relative to the save directory (None: not saved there)."""

    first_root = "save"

    def __init__(self, viewer: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(viewer, lambda: setattr(self, "here", True), parent)
        self.chosen: str | None = None
        self.here = False  # "This computer..." was pressed
        self.setWindowTitle("Save on the napari-engine server")
        self.roots.setEnabled(False)
        self.name = QLineEdit(name)
        self._buttons.insertWidget(1, QLabel("File name:"))
        self._buttons.insertWidget(2, self.name, 1)
        self.open_button.setText("Save")

    def _open(self, entry: dict[str, Any]) -> None:
        if entry["dir"]:  # a folder (an OME-Zarr too): save into it is not meant
            self.show_folder(self._root, posixpath.join(self._path, entry["name"]))
        else:
            self.name.setText(entry["name"])

    def _activate(self, item: QListWidgetItem) -> None:
        self._open(item.data(Qt.ItemDataRole.UserRole))

    def _open_selected(self) -> None:
        name = self.name.text().strip()
        if not name or "/" in name or name in (".", ".."):
            self.where.setText("type a file name (napari picks the writer from its "
                               "extension: .tif, .csv, .zarr, ...)")
            return
        self.chosen = posixpath.join(self._path, name)
        self.accept()


def open_server_file_dialog(viewer: Any, on_this_computer: Callable[[], None] | None,
                            parent: QWidget | None = None) -> ServerFileDialog:
    """Show the dialog (non-blocking: napari's own stays responsive) and return it."""
    dialog = ServerFileDialog(viewer, on_this_computer, parent)
    dialog.setModal(True)
    dialog.show()
    return dialog


def save_question(viewer: Any, here: Callable[[], Any], parent: QWidget | None = None
                  ) -> tuple[str, str]:
    """napari's save question (``getSaveFileName``: a file name and a filter), answered
    with the server's save directory: a path there (``SERVER_SAVE_PREFIX``, which the
    viewer's ``layers.save`` writes on the server), napari's own answer for "This
    computer...", or nothing."""
    from napari_engine.client.viewer import SERVER_SAVE_PREFIX

    active = viewer.layers.selection.active
    dialog = ServerSaveDialog(viewer, f"{active.name}.tif" if active is not None else "",
                              parent)
    dialog.exec()
    if dialog.chosen is not None:
        return SERVER_SAVE_PREFIX + dialog.chosen, ""
    if dialog.here:
        filename, selected = here()
        return str(filename), str(selected)
    return "", ""
