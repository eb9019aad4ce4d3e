"""The canvas of the napari client: napari's canvas, showing the server's picture.

Camera, dims and mouse handling are napari's own (it is napari's ``VispyCanvas``); only
the picture differs. In 2D the picture is placed in world coordinates, exactly where the
server's camera saw it, so when the local camera pans or zooms, napari moves and scales
the last picture at once (late warp) until the server's next frame replaces it. In 3D
the picture is shown in screen space.

The picture lives in one GPU texture (``FrameVisual``) that each update changes only
where the picture changed: a whole frame uploads everything, a tile update its tiles, a
pan only what it uncovers. Updates are taken when the canvas is about to paint, so
however many frames arrived since the last paint, one paint shows the newest.
"""

from __future__ import annotations

import time
from typing import Any

from qtpy.QtCore import QTimer
from vispy.visuals.transforms import STTransform

from napari_engine.client.frame_visual import Frame
from napari_engine.client.frames import PictureUpdate
from napari_engine.client.qt_napari_compat import LayerlessCanvas
from napari_engine.client.window_stats import WindowStats
from napari_engine.protocol import FrameHeader


class RemoteCanvas(LayerlessCanvas):
    """A napari canvas whose picture is the server's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame = Frame()
        self._frame.order = 1_000_000
        self._frame.transform = STTransform()
        self.frame_header: FrameHeader | None = None
        self.frames_shown = 0
        self.stats: WindowStats | None = None
        self._painting_since = 0.0
        self._scene_canvas.events.draw.connect(self._paint_begins, position="first")

    def show_update(self, update: PictureUpdate) -> None:
        """Bring the picture up to ``update`` (GUI thread)."""
        start = time.perf_counter()
        frame = self._frame
        if update.whole is not None:
            frame.set_picture(update.whole)
        else:
            if update.shift != (0, 0):
                frame.shift(*update.shift)
            for x, y, pixels in update.patches:
                frame.patch(x, y, pixels)
        self._place(update.header)
        self.frame_header = update.header
        self.frames_shown += 1
        if self.stats is not None:
            self.stats.add("upload", time.perf_counter() - start)
        self._scene_canvas.update()

    def _place(self, header: FrameHeader) -> None:
        view = header.view
        width, height = self._frame.size
        if view is not None and view.ndisplay == 2 and view.zoom:
            # world units per picture pixel; scene x is the last world axis, y the one before
            zoom = float(view.zoom) * float(header.scale)
            cy, cx = view.center[-2], view.center[-1]
            self._frame.parent = self.view.scene
            self._frame.transform.scale = (1.0 / zoom, 1.0 / zoom, 1.0)
            self._frame.transform.translate = (cx - width / (2 * zoom),
                                               cy - height / (2 * zoom), 0.0)
        else:
            w, h = self._scene_canvas.size
            self._frame.parent = self._scene_canvas.scene
            self._frame.transform.scale = (w / width, h / height, 1.0)
            self._frame.transform.translate = (0.0, 0.0, 0.0)

    @property
    def uploaded_bytes(self) -> int:
        """Bytes of picture handed to the GPU since the canvas was made."""
        return self._frame.uploaded_bytes

    def _pixel_exact(self) -> bool:
        """Whether a picture pixel covers exactly one screen pixel now."""
        header = self.frame_header
        if header is None or header.view is None or header.view.ndisplay != 2:
            return False
        shown = float(header.view.zoom) * float(header.scale)
        return abs(float(self.viewer.scene.camera.zoom) / shown - 1.0) < 1e-4

    def _paint_begins(self, _event: Any) -> None:
        self._frame.sample_exactly(self._pixel_exact())
        if self.stats is None:
            return
        self._painting_since = time.perf_counter()
        # runs once the paint (napari's draw, GL, Qt's composition) has returned
        QTimer.singleShot(0, self._paint_ended)

    def _paint_ended(self) -> None:
        if self.stats is not None and self._painting_since:
            self.stats.add("paint", time.perf_counter() - self._painting_since)
            self._painting_since = 0.0
