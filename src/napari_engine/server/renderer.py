"""Draw a headless napari canvas into an offscreen framebuffer and read it back.

``SceneCanvas.render()`` builds a new framebuffer on every call and cannot tell drawing
time from readback time; this keeps one framebuffer per canvas size and times the two
phases apart (``glFinish`` ends the draw phase), which the benchmark reports.

A 2D pan by whole pixels is drawn as strips: the previous frame moved by the pan, plus
only the strips it uncovers drawn with a GL scissor (llvmpipe's cost is per fragment, so
a 10-pixel strip costs ~1 % of a full frame). napari draws whole-pixel offsets exactly,
so the result is the frame a full draw would give; the engine still draws a full frame
once the scene rests, and for screenshots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from vispy import gloo

from napari_engine.encode.motion import Box, PanDelta, Recycler, shift_image
from napari_engine.server.napari_compat import (
    HeadlessVispyCanvas,
    data_levels,
    draw_scene,
    run_draw_hooks,
)

#: framebuffers kept for the sizes a session draws (each client's canvas, reduced frames)
MAX_FRAMEBUFFERS = 4


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """One frame's pixels (top row first, RGBA) and how long each phase took."""

    pixels: np.ndarray
    load_s: float  # napari's draw hooks: camera sync, multiscale level, data slicing
    render_s: float  # the GL draw, to glFinish
    readback_s: float
    scale: float = 1.0  # resolution relative to the canvas (below 1 while interacting)
    pan: PanDelta | None = None  # strips drawn over an earlier frame moved by a pan

    @property
    def partial(self) -> bool:
        """Only the strips a pan uncovered were drawn (not the frame a still shows)."""
        return self.pan is not None

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
        #: one framebuffer per size drawn lately (clients of several sizes take turns)
        self._fbos: dict[tuple[int, int], gloo.FrameBuffer] = {}
        self._recycler = Recycler()  # pictures a pan may be drawn into again

    def _framebuffer(self, size: tuple[int, int]) -> gloo.FrameBuffer:
        fbo = self._fbos.pop(size, None)
        if fbo is None:
            shape = (size[1], size[0])
            fbo = gloo.FrameBuffer(color=gloo.RenderBuffer(shape),
                                   depth=gloo.RenderBuffer(shape))
            if len(self._fbos) >= MAX_FRAMEBUFFERS:
                self._fbos.pop(next(iter(self._fbos))).delete()  # the least recently used
        self._fbos[size] = fbo
        return fbo

    def render(self, scale: float = 1.0) -> RenderedFrame:
        """Draw the canvas; ``scale`` < 1 draws the same view into a smaller framebuffer
        (what vtk.js and trame do while the user interacts: a quarter of the fragments
        at scale 0.5)."""
        t0 = time.perf_counter()
        self._canvas.scene_canvas.set_current()
        run_draw_hooks(self._canvas)
        return self._draw_full(scale, t0, time.perf_counter())

    def render_panned(self, previous: RenderedFrame, dx: int, dy: int) -> RenderedFrame:
        """The frame after a 2D pan that moved the picture by (dx, dy) whole pixels:
        ``previous`` moved, with only the uncovered strips drawn. Draws the whole frame
        when napari's draw hooks changed more than the camera (another multiscale level)
        or ``previous`` does not fit the canvas."""
        scene_canvas = self._canvas.scene_canvas
        scene_canvas.set_current()
        width, height = scene_canvas.physical_size
        levels = data_levels(self._canvas)
        t0 = time.perf_counter()
        run_draw_hooks(self._canvas)
        t1 = time.perf_counter()
        if (previous.scale != 1.0 or previous.pixels.shape[:2] != (height, width)
                or data_levels(self._canvas) != levels or abs(dx) >= width or abs(dy) >= height):
            return self._draw_full(1.0, t0, t1)
        rects: list[Box] = []
        if dx:
            rects.append((0 if dx > 0 else width + dx, 0, abs(dx), height))
        if dy:
            rects.append((0, 0 if dy > 0 else height + dy, width, abs(dy)))
        fbo = self._framebuffer((width, height))
        scene_canvas.push_fbo(fbo, (0, 0), scene_canvas.size)
        pixels = shift_image(previous.pixels, dx, dy,
                             out=self._recycler.take(previous.pixels))
        drawn = 0.0
        try:
            gloo.set_state(scissor_test=True)
            # one strip at a time, each read back before the next is drawn: drawing the
            # second strip spoiled the first one's pixels in tests (a diagonal pan)
            for x, y, w, h in rects:
                t = time.perf_counter()
                gloo.set_scissor(x, height - y - h, w, h)  # GL counts rows from the bottom
                draw_scene(scene_canvas)
                gloo.finish()
                drawn += time.perf_counter() - t
                pixels[y:y + h, x:x + w] = gloo.read_pixels((x, height - y - h, w, h),
                                                            alpha=True)
        finally:
            gloo.set_state(scissor_test=False)
            scene_canvas.pop_fbo()
        return RenderedFrame(pixels=pixels, load_s=t1 - t0, render_s=drawn,
                             readback_s=time.perf_counter() - t1 - drawn,
                             pan=PanDelta(previous.pixels, (dx, dy), tuple(rects)))

    def _draw_full(self, scale: float, t0: float, t1: float) -> RenderedFrame:
        scene_canvas = self._canvas.scene_canvas
        width, height = (max(1, round(v * scale)) for v in scene_canvas.physical_size)
        fbo = self._framebuffer((width, height))
        scene_canvas.push_fbo(fbo, (0, 0), scene_canvas.size)
        try:
            if scale != 1.0:
                # vispy sizes its canvas-to-framebuffer transform by the canvas region,
                # not by the framebuffer, so a smaller framebuffer would show only a
                # corner of the view: map the whole canvas onto it ourselves
                scene_canvas.transforms.configure(
                    viewport=(0, 0, width, height), fbo_size=(width, height),
                    fbo_rect=(0, 0, *scene_canvas.physical_size))
            draw_scene(scene_canvas)
            gloo.finish()
            t2 = time.perf_counter()
            pixels = np.ascontiguousarray(gloo.read_pixels((0, 0, width, height), alpha=True))
            t3 = time.perf_counter()
        finally:
            scene_canvas.pop_fbo()
        return RenderedFrame(pixels=pixels, load_s=t1 - t0, render_s=t2 - t1,
                             readback_s=t3 - t2, scale=scale)

    def close(self) -> None:
        for fbo in self._fbos.values():
            fbo.delete()
        self._fbos.clear()
