"""What the window scripts share (they run under Xvfb, started by test_gui.py): pumping
Qt's events until something holds, and reading a widget's pixels."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def pump(until: Callable[[], bool], timeout: float = 20.0, step: float = 0.005) -> bool:
    """Run Qt's events until ``until()`` holds (True) or ``timeout`` seconds pass."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    assert app is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(step)
    return False


def on_screen(widget: Any) -> Any:
    """The ``QImage`` the display shows where ``widget`` is (the X server's pixels: what
    Qt flushed, not a fresh paint of the widget)."""
    from qtpy.QtCore import QPoint
    from qtpy.QtWidgets import QApplication

    corner = widget.mapTo(widget.window(), QPoint(0, 0))
    screen = QApplication.primaryScreen()
    assert screen is not None
    shot = screen.grabWindow(int(widget.window().winId()), corner.x(), corner.y(),
                             widget.width(), widget.height())
    return shot.toImage()


def rgb(image: Any) -> np.ndarray:
    """A ``QImage``'s pixels as an (height, width, 3) uint8 array."""
    image = image.convertToFormat(image.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return rows[:, : image.width(), :3].copy()
