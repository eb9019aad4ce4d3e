"""The widget that shows the server's picture in the napari window: Qt raster painting,
no OpenGL.

The picture arrives as pixels, so the window only has to copy them to the screen. Qt
paints a plain widget into its raster backing store and sends only the region that
changed to the display; a widget holding an OpenGL surface (napari's canvas) makes Qt
compose the whole window through OpenGL on every paint instead. On this project's
CPU-only machines that is the difference between about 23 and several hundred paints
per second for a 2000 x 1000 canvas (``docs/window-profile.md``), and a laptop's GPU
has nothing to add to copying a picture.

The widget knows nothing of napari: it draws the picture under a transform its owner
computes (the late warp), lets its owner draw what the client keeps local on top, and
hands every input event to a receiver (napari's canvas, which handles it as if it had
happened on its own widget).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from qtpy.QtCore import QEvent, QRect, QSize, Qt
from qtpy.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QRegion,
    QResizeEvent,
    QTransform,
)
from qtpy.QtWidgets import QWidget

from napari_engine.client.frames import Picture
from napari_engine.client.qt_post import Signal
from napari_engine.protocol import FrameHeader

#: Qt 6.6+ tells a widget its display's pixel ratio changed (moved to another screen)
_RATIO_CHANGE = getattr(QEvent.Type, "DevicePixelRatioChange", None)
#: QImage formats by channel count (alpha is ignored: the server's pictures are opaque)
_FORMATS = {3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBX8888}


class InputReceiver(Protocol):
    """Who handles the widget's input (napari's canvas widget, kept off screen)."""

    def mousePressEvent(self, event: Any) -> None: ...

    def mouseReleaseEvent(self, event: Any) -> None: ...

    def mouseMoveEvent(self, event: Any) -> None: ...

    def mouseDoubleClickEvent(self, event: Any) -> None: ...

    def wheelEvent(self, event: Any) -> None: ...

    def keyPressEvent(self, event: Any) -> None: ...

    def keyReleaseEvent(self, event: Any) -> None: ...


def picture_image(pixels: np.ndarray) -> QImage:
    """A QImage over ``pixels`` (rows of RGB or RGBX; no copy: keep ``pixels`` alive and
    unchanged while the image is used)."""
    height, width, channels = pixels.shape
    new_image: Any = QImage  # PyQt6's stubs lack the (buffer, w, h, stride, format) form
    image: QImage = new_image(pixels.data, width, height, pixels.strides[0], _FORMATS[channels])
    return image


class PictureWidget(QWidget):
    """Paints a ``Picture`` where ``placement`` says, and forwards input to ``receiver``.

    ``placement(header, width, height)`` maps the picture's pixels to the widget's
    (logical) pixels; ``before_paint()`` runs first in each paint (napari's draw hooks),
    ``after_paint(painter)`` draws on top of the picture, and ``painted(header)`` learns
    which picture reached the screen.
    """

    resized = Signal()  # napari's window docks its activity dialog on this (as QOpenGLWidget)
    entered = Signal(bool)  # the pointer entered (True) or left (False) the widget
    paint_done = Signal()  # a paint returned (what it showed: ``painted``)

    def __init__(self, picture: Picture, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picture = picture
        self.receiver: InputReceiver | None = None
        self.placement: Callable[[FrameHeader, int, int], QTransform] | None = None
        self.before_paint: Callable[[], None] | None = None
        self.after_paint: Callable[[QPainter], None] | None = None
        self.painted: Callable[[FrameHeader], None] | None = None
        #: a paint found a picture change nobody had looked at yet (it painted the newest
        #: picture in its region; the rest of the screen may be older)
        self.on_unseen_change: Callable[[], None] | None = None
        self.on_resize: Callable[[int, int], None] | None = None
        self.background = QColor(0, 0, 0)
        #: picture pixels copied to the window's backing store since the widget was made
        self.painted_pixels = 0
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel painted
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setMouseTracking(True)  # moves without a button: napari's status and cursor
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.setMinimumSize(10, 10)

    def sizeHint(self) -> QSize:
        """The size napari's own canvas widget asks for (its window is laid out as
        napari's: without it the docks take all the room and the canvas gets none)."""
        hint = getattr(self.receiver, "sizeHint", None)
        return hint() if hint is not None else super().sizeHint()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        if self.before_paint is not None:
            self.before_paint()
        painter = QPainter(self)
        try:
            if event is not None:
                painter.setClipRegion(event.region())
            shown = self._paint_picture(painter, event)
            if self.after_paint is not None:
                self.after_paint(painter)
        finally:
            painter.end()
        if shown is not None and self.painted is not None:
            self.painted(shown)
        self.paint_done.emit()

    def _paint_picture(self, painter: QPainter, event: QPaintEvent | None) -> FrameHeader | None:
        area = event.rect() if event is not None else self.rect()
        with self.picture.lock:
            current = self.picture.current()
            if current is None or self.placement is None:
                painter.fillRect(area, self.background)
                return None
            pixels, header = current
            unseen = self.picture.pending
            transform = self.placement(header, self.width(), self.height())
            covered = transform.mapRect(QRect(0, 0, pixels.shape[1], pixels.shape[0]))
            if not covered.contains(area):
                painter.fillRect(area, self.background)
            painter.setTransform(transform)
            smooth = not (transform.isIdentity() or transform.type()
                          == QTransform.TransformationType.TxTranslate)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(0, 0, picture_image(pixels))
            painter.resetTransform()
            rects = _rects(event.region()) if event is not None else [self.rect()]
            self.painted_pixels += sum(_area(covered.intersected(r)) for r in rects)
        if unseen and self.on_unseen_change is not None:
            self.on_unseen_change()
        return header

    def event(self, event: QEvent | None) -> bool:
        handled = super().event(event)
        kind = event.type() if event is not None else None
        if kind in (QEvent.Type.Polish, QEvent.Type.StyleChange):
            # a style sheet with a background (napari's theme) makes Qt fill the widget
            # before every paint and repaint it whole on a scroll; it paints every pixel
            self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        elif kind is not None and kind == _RATIO_CHANGE and self.on_resize is not None:
            self.on_resize(self.width(), self.height())  # moved to a display of another
        return handled

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self.on_resize is not None:
            self.on_resize(self.width(), self.height())
        self.resized.emit()

    # input: napari's canvas handles each event as if it had happened on its own widget

    def mousePressEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.mousePressEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.mouseMoveEvent(event)

    def mouseDoubleClickEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.mouseDoubleClickEvent(event)

    def wheelEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.wheelEvent(event)

    def keyPressEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.keyPressEvent(event)

    def keyReleaseEvent(self, event: Any) -> None:
        if self.receiver is not None:
            self.receiver.keyReleaseEvent(event)

    def enterEvent(self, event: Any) -> None:
        super().enterEvent(event)
        self.entered.emit(True)

    def leaveEvent(self, event: QEvent | None) -> None:
        super().leaveEvent(event)
        self.entered.emit(False)


def _rects(region: QRegion) -> list[QRect]:
    """The rectangles a region is made of (PyQt6 does not iterate a QRegion)."""
    path = QPainterPath()
    path.addRegion(region)
    return [polygon.boundingRect().toRect() for polygon in path.toSubpathPolygons()]


def _area(rect: QRect) -> int:
    return max(0, rect.width()) * max(0, rect.height())
