"""napari-engine as a napari plugin: Plugins > napari-engine > Connect to remote viewer.

The widget takes a server's URL (or host, port, token and session), remembers the
servers it connected to, and shows that server's session in the window it is docked in
(the default: the person's own napari window becomes a client, its canvas the server's
frames, its layers the server's) or in a new napari window. Disconnect gives the own
window back its own viewer, with the local layers it had.
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
#: where a session is shown: the window the widget is docked in, or a new one
THIS_WINDOW, NEW_WINDOW = "this window", "a new window"


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
        self.napari_viewer = napari_viewer
        self.where = QComboBox()
        if getattr(napari_viewer, "window", None) is not None:
            self.where.addItem(THIS_WINDOW)
        self.where.addItem(NEW_WINDOW)
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.connect_to_server)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.clicked.connect(self.disconnect)
        self.disconnect_button.setEnabled(False)
        self.status = QLabel("Shows the server's session in this window, or a new one.")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("URL", self.url)
        form.addRow("or host", self.host)
        form.addRow("port", self.port)
        form.addRow("token", self.token)
        form.addRow("session", self.session)
        form.addRow("show in", self.where)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.connect_button)
        layout.addWidget(self.disconnect_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    @property
    def here(self) -> Any:
        """The session shown in this window (a ``RemoteWindow``), if any."""
        return next((w for w in self.windows if w.give_back is not None), None)

    def connect_to_server(self) -> Any:
        """Show the server's session in this window or a new one; returns the
        ``RemoteWindow`` (None on failure, with the reason shown in the widget)."""
        from napari_engine.client.gui import open_gui

        in_here = self.where.currentText() == THIS_WINDOW
        try:
            url = server_url(self.url.currentText(), self.host.text(), self.port.value(),
                             self.token.text(), self.session.text())
            if in_here and self.here is not None:
                self.disconnect()  # one session at a time in this window
            window = open_gui(url, window=self.napari_viewer.window if in_here else None)
        except Exception as exc:  # a bad URL, a refused token, no server: say so here
            self.status.setText(f"Not connected: {exc}")
            return None
        self.windows.append(window)
        remember(url)
        where = "this window" if in_here else "a new window"
        self.status.setText(f"Connected to {url.split('?')[0]} (in {where})")
        self.disconnect_button.setEnabled(True)
        return window

    def disconnect(self) -> None:
        """Close the sessions this widget opened: this window shows its own viewer
        again (the local layers it had), new windows close."""
        for window in self.windows:
            try:
                window.close()
            except Exception as exc:  # a window the person already closed
                log.info("closing %s: %s", window, exc)
        self.windows.clear()
        self.disconnect_button.setEnabled(False)
        self.status.setText("Disconnected.")
