"""The canvas of the napari client: napari's canvas logic, showing the server's picture.

Camera, dims, mouse and key handling are napari's own: this is napari's
``VispyCanvas``, and every input event reaches it as if it had happened on its own
widget. What differs is the screen: napari's OpenGL widget never enters the window; a
``PictureWidget`` stands in its place and paints the server's picture with Qt's raster
painter, placed by the local camera. In 2D the picture goes exactly where the server's
camera saw it, so when the local camera pans or zooms, the last picture moves and scales
at once (late warp) until the server's next frame replaces it. In 3D it fills the canvas.

The widget paints the connection's ``Picture`` directly, whenever Qt paints: however
many frames arrived since the last paint, one paint shows the newest. Only what changed
costs: when the picture moves on the screen by whole pixels (a pan, the local camera's
or the server's frame of it), Qt scrolls what the window shows and the widget paints
only the strips that uncovers and the tiles the server changed; anything else (a zoom, a
new whole picture) repaints the canvas.

napari's canvas overlays are drawn by the server into its picture (the scale bar, text,
axes: ``protocol/overlays.py``), except those that follow the pointer, which the window
draws at once over the picture: the labels brush circle and the zoom box. So is a
message of the window's own (the connection lost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QPointF, QRect, QRectF, Qt, QTimer
from qtpy.QtGui import QColor, QImage, QPainter, QPen, QTransform

from napari_engine.client.frames import Picture
from napari_engine.client.picture_widget import PictureWidget
from napari_engine.client.qt_napari_compat import (
    LayerlessCanvas,
    canvas_entered,
    napari_draw_hooks,
    redirect_redraws,
    resize_scene_canvas,
)
from napari_engine.client.window_stats import WindowStats
from napari_engine.protocol import FrameHeader
from napari_engine.protocol.overlays import POINTER_OVERLAYS


class RemoteCanvas(LayerlessCanvas):
    """A napari canvas whose picture is the server's, painted without OpenGL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # napari's OpenGL widget is made without a parent: it never enters the window
        self._widget = PictureWidget(Picture(), kwargs.pop("parent", None))
        super().__init__(*args, **kwargs)
        widget = self._widget
        widget.receiver = self._scene_canvas.native
        widget.placement = self._placement
        widget.before_paint = self._paint_begins
        widget.painted = self._painted
        widget.on_resize = self._resized
        widget.after_paint = self._paint_local_overlays
        for name in POINTER_OVERLAYS:  # drawn here: repaint as they move
            self.viewer.canvas.overlays[name].events.connect(lambda *_: widget.update())
        # where no picture is, the canvas shows napari's background colour
        self.viewer.events.theme.connect(lambda _event: widget.update())
        self.viewer.canvas.events.background_color_override.connect(
            lambda _event: widget.update())
        widget.entered.connect(lambda inside: canvas_entered(widget, inside))
        # vispy would redraw: napari's camera moved (a drag, the wheel, the server's state)
        redirect_redraws(self._scene_canvas, self._sync)
        widget.on_unseen_change = self._lost_track
        #: where the screen shows the picture (outside regions waiting for a paint); None
        #: when not known: the next change repaints everything
        self._screen: QTransform | None = None
        self._scene_canvas.visual_at = self._view_at  # no picking render: no OpenGL
        self.frame_header: FrameHeader | None = None
        self.frames_shown = 0
        self.stats: WindowStats | None = None
        self._painting_since = 0.0
        self._message = ""
        self._brush_at: tuple[float, float] | None = None
        #: physical pixels per logical pixel of the display the canvas is on
        self.pixel_ratio = 1.0
        self.pixel_ratio_changed: Callable[[float], None] | None = None

    @property
    def native(self) -> PictureWidget:
        """The widget in napari's window (napari's own is ``scene_canvas.native``)."""
        return self._widget

    def show_picture(self, picture: Picture) -> None:
        """Paint ``picture`` from now on (the connection's)."""
        self._widget.picture = picture
        self._widget.update()

    def show_change(self) -> None:
        """The picture changed: repaint what that changes on the screen (GUI thread)."""
        self._sync()

    def _sync(self) -> None:
        """Bring the screen up to the picture and the local camera now: scroll what it
        shows where the picture only moved by whole pixels, repaint the rest."""
        widget = self._widget
        change, header = widget.picture.take_current()
        if header is None:
            widget.update()
            return
        new = self._placement(header, widget.width(), widget.height())
        old, self._screen = self._screen, new
        shift = (0, 0) if change is None or change.whole else change.shift
        dx = new.dx() + shift[0] * new.m11() - (old.dx() if old is not None else 0.0)
        dy = new.dy() + shift[1] * new.m22() - (old.dy() if old is not None else 0.0)
        if (old is None or (change is not None and change.whole) or self._draws_on_top()
                or abs(new.m11() - old.m11()) > 1e-9 or abs(new.m22() - old.m22()) > 1e-9
                or not (_whole(dx) and _whole(dy))):
            widget.update()
            return
        if round(dx) or round(dy):
            # the rectangle form leaves child widgets (napari's welcome screen) in place
            widget.scroll(round(dx), round(dy), widget.rect())
        for x, y, w, h in change.boxes if change is not None else ():
            widget.update(new.mapRect(QRect(x, y, w, h)).adjusted(-1, -1, 1, 1))

    def _lost_track(self) -> None:
        """A paint drew a picture nobody had looked at (in its region only): repaint
        everything at the next change."""
        self._screen = None
        self._widget.update()

    def _draws_on_top(self) -> bool:
        """Whether the window draws over the picture now (a scroll would move that too)."""
        overlays = self.viewer.canvas.overlays
        return bool(self._message or overlays["_brush_circle"].visible
                    or overlays["_zoom_box"].visible)

    def _placement(self, header: FrameHeader, width: int, height: int) -> QTransform:
        """Picture pixels to widget pixels under the local camera now."""
        view = header.view
        if view is None or view.ndisplay != 2 or not view.zoom or not header.scale:
            return QTransform.fromScale(width / header.width, height / header.height)
        # where the server's view centre is on this canvas now, and how the local zoom
        # compares with the server's (in canvas pixels); orientation cancels out
        cy, cx = float(view.center[-2]), float(view.center[-1])
        to_canvas = self.view.scene.node_transform(self._scene_canvas.scene)  # world -> canvas
        (sx, sy), (ux, _uy) = (to_canvas.map([cx, cy])[:2], to_canvas.map([cx + 1.0, cy])[:2])
        ratio = abs(float(ux) - float(sx)) / float(view.zoom)
        scale = float(header.scale)  # picture pixels per server canvas pixel
        per_pixel = ratio / scale  # widget (logical) pixels per picture pixel
        x0 = float(sx) - header.width / scale / 2 * ratio
        y0 = float(sy) - header.height / scale / 2 * ratio
        device = self._widget.devicePixelRatioF()
        if abs(per_pixel * device - 1.0) < 1e-3:
            # one picture pixel on one pixel of the display: exactly, on whole pixels
            return QTransform(1.0 / device, 0.0, 0.0, 1.0 / device,
                              round(x0 * device) / device, round(y0 * device) / device)
        return QTransform(per_pixel, 0.0, 0.0, per_pixel, x0, y0)

    def _view_at(self, pos: Any) -> Any:
        """The view under ``pos`` (vispy would render a picking frame to find it)."""
        for view in (*self.grid_views, self.view):
            if view.parent is None or not view.visible:
                continue
            x, y = self._scene_canvas.scene.node_transform(view).map(pos)[:2]
            if 0 <= x < view.size[0] and 0 <= y < view.size[1]:
                return view
        return self.view

    def _resized(self, width: int, height: int) -> None:
        ratio = self._widget.devicePixelRatioF()
        resize_scene_canvas(self._scene_canvas, width, height, ratio)
        if ratio != self.pixel_ratio:
            self.pixel_ratio = ratio
            if self.pixel_ratio_changed is not None:
                self.pixel_ratio_changed(ratio)

    def _paint_begins(self) -> None:
        rgba = self._scene_canvas.bgcolor.rgba
        self._widget.background = QColor.fromRgbF(*(float(c) for c in rgba))
        napari_draw_hooks(self)  # napari's model follows its camera, dims play goes on
        if self.stats is not None and not self._painting_since:
            self._painting_since = time.perf_counter()
            # runs once the paint and Qt's flush to the screen have returned
            QTimer.singleShot(0, self._paint_ended)

    def _painted(self, header: FrameHeader) -> None:
        if self.frame_header is None or header.seq != self.frame_header.seq:
            self.frames_shown += 1
        self.frame_header = header

    def _paint_ended(self) -> None:
        if self.stats is not None and self._painting_since:
            self.stats.add("paint", time.perf_counter() - self._painting_since)
            self._painting_since = 0.0

    @property
    def message(self) -> str:
        """The window's own line over the picture ("" for none)."""
        return self._message

    def show_message(self, text: str) -> None:
        """A line of the window's own over the picture ("" for none)."""
        self._message = text
        self._widget.update()

    def _paint_local_overlays(self, painter: QPainter) -> None:
        overlays = self.viewer.canvas.overlays
        brush = overlays["_brush_circle"]
        if brush.visible and self.viewer.mouse_over_canvas:
            if not brush.position_is_frozen or self._brush_at is None:
                self._brush_at = (float(brush.position[0]), float(brush.position[1]))
            radius = brush.size / 2
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for colour, r in ((Qt.GlobalColor.white, radius), (Qt.GlobalColor.black, radius - 1)):
                painter.setPen(QPen(QColor(colour), 1.0))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(QPointF(*self._brush_at), r, r)
        zoom_box = overlays["_zoom_box"]
        if zoom_box.visible:
            (y0, x0), (y1, x1) = zoom_box.position  # canvas pixels, row first
            highlight = _highlight()
            painter.setPen(QPen(QColor.fromRgbF(*highlight[0]), highlight[1]))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized())
        if self._message:
            font = painter.font()
            font.setPointSize(14)
            painter.setFont(font)
            box = painter.fontMetrics().boundingRect(self._message).adjusted(-12, -8, 12, 8)
            box.moveCenter(self._widget.rect().center())
            painter.fillRect(box, QColor(0, 0, 0, 190))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._message)

    @property
    def painted_pixels(self) -> int:
        """Picture pixels copied to the screen since the canvas was made."""
        return self._widget.painted_pixels

    def screenshot(self) -> QImage:
        """What the canvas shows (napari's would render its OpenGL widget)."""
        return self._widget.grab().toImage()


def _highlight() -> tuple[tuple[float, ...], float]:
    """napari's highlight colour and thickness (its settings), as its zoom box uses."""
    from napari.settings import get_settings

    highlight = get_settings().appearance.highlight
    return tuple(float(c) for c in highlight.highlight_color), float(
        highlight.highlight_thickness)


def _whole(value: float) -> bool:
    return abs(value - round(value)) < 1e-6
