"""Hand work from any thread to the Qt GUI thread, latest-wins where asked.

The network thread must never touch widgets, and the GUI thread must never wait on the
network: the connection's listeners call ``post(fn)`` and return at once; Qt runs ``fn``
on the GUI thread from its event loop (a queued signal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from qtpy import QtCore
from qtpy.QtCore import QObject, Qt, QThread

Signal: Any = QtCore.Signal  # type: ignore[attr-defined]  # qtpy's alias, not in its stubs

log = logging.getLogger(__name__)


class GuiPoster(QObject):
    """Create on the GUI thread; call from any thread."""

    _call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def __call__(self, fn: Callable[[], None]) -> None:
        self._call.emit(fn)

    def on_own_thread(self) -> bool:
        return bool(QThread.currentThread() == self.thread())

    def drain(self) -> None:
        return None  # Qt's event loop runs what was posted

    @staticmethod
    def _run(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a failing update must not take the GUI down
            log.exception("GUI update failed")


class LatestOnly:
    """Coalesces a stream of values: the GUI thread only ever handles the newest one."""

    def __init__(self, post: Callable[[Callable[[], None]], None],
                 handle: Callable[[object], None]) -> None:
        self._post = post
        self._handle = handle
        self._lock = threading.Lock()
        self._value: object = None
        self._pending = False

    def put(self, value: object) -> None:
        with self._lock:
            self._value = value
            if self._pending:
                return
            self._pending = True
        self._post(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            value, self._value, self._pending = self._value, None, False
        self._handle(value)
