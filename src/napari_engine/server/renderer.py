"""Draw a headless napari canvas into an offscreen framebuffer and read it back.

``SceneCanvas.render()`` builds a new framebuffer on every call and cannot tell drawing
time from readback time; this keeps one framebuffer per canvas size and times the two
phases apart (``glFinish`` ends the draw phase), which the benchmark reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from vispy import gloo

from napari_engine.server.napari_compat import HeadlessVispyCanvas, run_draw_hooks


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """One frame's pixels (top row first, RGBA) and how long each phase took."""

    pixels: np.ndarray
    load_s: float  # napari's draw hooks: camera sync, multiscale level, data slicing
    render_s: float  # the GL draw, to glFinish
    readback_s: float
    scale: float = 1.0  # resolution relative to the canvas (below 1 while interacting)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


class FrameRenderer:
    """Renders one napari canvas, reusing its framebuffer between frames."""

    def __init__(self, canvas: HeadlessVispyCanvas) -> None:
        self._canvas = canvas
        self._fbo: gloo.FrameBuffer | None = None
        self._fbo_size: tuple[int, int] = (0, 0)

    def _framebuffer(self, size: tuple[int, int]) -> gloo.FrameBuffer:
        if self._fbo is None or self._fbo_size != size:
            shape = (size[1], size[0])
            self._fbo = gloo.FrameBuffer(color=gloo.RenderBuffer(shape),
                                         depth=gloo.RenderBuffer(shape))
            self._fbo_size = size
        return self._fbo

    def render(self, scale: float = 1.0) -> RenderedFrame:
        """Draw the canvas; ``scale`` < 1 draws the same view into a smaller framebuffer
        (what vtk.js and trame do while the user interacts: a quarter of the fragments
        at scale 0.5)."""
        scene_canvas = self._canvas.scene_canvas
        scene_canvas.set_current()
        width, height = (max(1, round(v * scale)) for v in scene_canvas.physical_size)
        t0 = time.perf_counter()
        run_draw_hooks(self._canvas)
        t1 = time.perf_counter()
        fbo = self._framebuffer((width, height))
        scene_canvas.push_fbo(fbo, (0, 0), scene_canvas.size)
        try:
            scene_canvas._draw_scene()
            gloo.finish()
            t2 = time.perf_counter()
            pixels = np.ascontiguousarray(gloo.read_pixels((0, 0, width, height), alpha=True))
            t3 = time.perf_counter()
        finally:
            scene_canvas.pop_fbo()
        return RenderedFrame(pixels=pixels, load_s=t1 - t0, render_s=t2 - t1,
                             readback_s=t3 - t2, scale=scale)

    def close(self) -> None:
        if self._fbo is not None:
            self._fbo.delete()
            self._fbo = None
