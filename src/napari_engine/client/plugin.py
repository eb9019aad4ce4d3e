"""napari-engine as a napari plugin: Plugins > napari-engine > Connect to remote viewer.

The widget takes a server's URL (or host, port, token and session), remembers the
servers it connected to, and opens napari's window on that server's session: a napari
window whose canvas shows the server's frames and whose layers are the server's. The
window it is docked in stays what it was (a napari viewer of local data): napari's
window is built around its viewer model, and the remote one is another model.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

#: how many servers the widget remembers
RECENT = 10


def recent_file() -> Path:
    """Where the recent servers are kept ($NAPARI_ENGINE_CONFIG or ~/.config)."""
    root = os.environ.get("NAPARI_ENGINE_CONFIG") or Path.home() / ".config" / "napari-engine"
    return Path(root) / "recent-servers.json"


def load_recent() -> list[str]:
    try:
        urls = json.loads(recent_file().read_text())
    except (OSError, ValueError):
        return []
    return [u for u in urls if isinstance(u, str)][:RECENT] if isinstance(urls, list) else []


def remember(url: str) -> None:
    urls = [url, *[u for u in load_recent() if u != url]][:RECENT]
    path = recent_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(urls))
        scratch.replace(path)
    except OSError as exc:  # a read-only home: the widget still connects
        log.warning("cannot remember %s: %s", url, exc)


def server_url(url: str, host: str, port: int, token: str, session: str) -> str:
    """The URL to connect to: the one given, else one made of host, port and token."""
    if url.strip():
        return url.strip()
    if not (host.strip() and port and token.strip()):
        raise ValueError("give the URL the server printed, or its host, port and token")
    path = f"/session/{quote(session.strip())}" if session.strip() else "/"
    return f"ws://{host.strip()}:{port}{path}?token={quote(token.strip())}"


class ConnectWidget(QWidget):
    """The dock widget: a server to connect to, and a button that opens its window."""

    def __init__(self, napari_viewer: Any = None) -> None:
        super().__init__()
        self.windows: list[Any] = []  # the windows it opened (kept alive)
        self.url = QComboBox()
        self.url.setEditable(True)
        self.url.addItems(load_recent())
        self.url.setCurrentText(self.url.itemText(0) if self.url.count() else "")
        self.host = QLineEdit("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setValue(8765)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.session = QLineEdit()
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.connect_to_server)
        self.status = QLabel("Opens the server's session in a new napari window.")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("URL", self.url)
        form.addRow("or host", self.host)
        form.addRow("port", self.port)
        form.addRow("token", self.token)
        form.addRow("session", self.session)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.connect_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def connect_to_server(self) -> Any:
        """Open napari's window on the server's session; returns it (None on failure,
        with the reason shown in the widget)."""
        from napari_engine.client.gui import open_gui

        try:
            url = server_url(self.url.currentText(), self.host.text(), self.port.value(),
                             self.token.text(), self.session.text())
            window = open_gui(url)
        except Exception as exc:  # a bad URL, a refused token, no server: say so here
            self.status.setText(f"Not connected: {exc}")
            return None
        self.windows.append(window)
        remember(url)
        self.status.setText(f"Connected to {url.split('?')[0]}")
        return window
