"""The canvas of the napari client: napari's canvas, showing the server's frames.

Camera, dims and mouse handling are napari's own (it is napari's ``VispyCanvas``); only
the picture differs. In 2D a frame is placed in world coordinates, exactly where the
server's camera saw it, so when the local camera pans or zooms, napari moves and scales
the last frame at once (late warp) until the server's next frame replaces it. In 3D
the frame is shown in screen space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from vispy.scene.visuals import Image as ImageVisual
from vispy.visuals.transforms import STTransform

from napari_engine.client.qt_napari_compat import LayerlessCanvas
from napari_engine.protocol import FrameHeader


class RemoteCanvas(LayerlessCanvas):
    """A napari canvas whose picture is the latest server frame."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame = ImageVisual(np.zeros((1, 1, 4), np.uint8), interpolation="linear",
                                  method="subdivide")
        self._frame.order = 1_000_000
        self._frame.transform = STTransform()
        self.frame_header: FrameHeader | None = None
        self.frames_shown = 0

    def show_frame(self, rgba: np.ndarray, header: FrameHeader) -> None:
        """Display one decoded frame (GUI thread)."""
        view = header.view
        height, width = rgba.shape[:2]
        self._frame.set_data(rgba)
        if view is not None and view.ndisplay == 2 and view.zoom:
            # world units per frame pixel; scene x is the last world axis, y the one before
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
        self.frame_header = header
        self.frames_shown += 1
        self._scene_canvas.update()
