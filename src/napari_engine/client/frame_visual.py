"""The server's picture on the window's GPU: one RGBA texture on a quad, changed only
where the picture changed.

A whole frame uploads the whole texture. A tile update uploads only its tiles. A pan
uploads nothing for the picture it moves: the texture is addressed toroidally (the
picture's top-left pixel sits at ``origin`` in the texture, and sampling wraps around),
so moving the picture by (dx, dy) only moves the origin, and only the strips the pan
uncovers are uploaded. Linear sampling across the wrap joins picture neighbours (the
texture repeats), and the quad's edges are kept half a texel in so the picture's own
edges never blend with the opposite side.

vispy's own ``ImageVisual`` re-uploads (and, for RGBA, rescales) its whole texture on
every ``set_data``; this visual is small and uses only vispy's public visual API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from vispy import gloo
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

VERTEX = """
attribute vec2 a_position;  // the quad in picture pixels: (0, 0) to (width, height)
varying vec2 v_pixel;
void main() {
    v_pixel = a_position;
    gl_Position = $transform(vec4(a_position, 0.0, 1.0));
}
"""

FRAGMENT = """
uniform sampler2D u_texture;
uniform vec2 u_size;    // the picture in pixels
uniform vec2 u_origin;  // where its top-left pixel sits in the texture, in pixels
varying vec2 v_pixel;
void main() {
    // half a texel in from the picture's edges: they never blend with the wrapped side
    vec2 pixel = clamp(v_pixel, vec2(0.5), u_size - vec2(0.5));
    gl_FragColor = texture2D(u_texture, (pixel + u_origin) / u_size);
}
"""


class FrameVisual(Visual):
    """An RGBA picture on a quad, updated in place (whole, in patches, or moved)."""

    def __init__(self) -> None:
        super().__init__(vcode=VERTEX, fcode=FRAGMENT)
        self._texture: gloo.Texture2D | None = None
        self._size = (0, 0)  # width, height
        self._origin = (0, 0)  # texture x, y of the picture's top-left pixel
        #: bytes handed to the GPU since the visual was made (the benchmark reads it)
        self.uploaded_bytes = 0
        self._draw_mode = "triangle_strip"
        self.set_gl_state("translucent", depth_test=False, cull_face=False)

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def sample_exactly(self, exact: bool) -> None:
        """Nearest sampling when a picture pixel is a screen pixel (the same picture, and
        on a CPU rasteriser a quarter of the texel reads); linear while it is scaled."""
        mode = "nearest" if exact else "linear"
        if self._texture is not None and self._texture.interpolation != mode:
            self._texture.interpolation = mode

    def _allocate(self, width: int, height: int) -> None:
        self._texture = gloo.Texture2D(shape=(height, width, 4), format="rgba",
                                       internalformat="rgba8", interpolation="linear",
                                       wrapping="repeat")
        self._size, self._origin = (width, height), (0, 0)
        quad = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float32)
        self.shared_program["a_position"] = quad
        self.shared_program["u_texture"] = self._texture
        self.shared_program["u_size"] = (float(width), float(height))
        self._set_origin(0, 0)

    def _set_origin(self, x: int, y: int) -> None:
        self._origin = (x, y)
        self.shared_program["u_origin"] = (float(x), float(y))

    def set_picture(self, rgba: np.ndarray) -> None:
        """A whole new picture (top row first)."""
        height, width = rgba.shape[:2]
        if self._texture is None or self._size != (width, height):
            self._allocate(width, height)
        else:
            self._set_origin(0, 0)
        assert self._texture is not None
        self._texture.set_data(np.ascontiguousarray(rgba))
        self.uploaded_bytes += rgba.nbytes
        self.update()

    def shift(self, dx: int, dy: int) -> None:
        """The picture moved by (dx, dy) pixels (its content, as a pan moves it); what it
        uncovers must then be patched."""
        width, height = self._size
        if width and height:
            self._set_origin((self._origin[0] - dx) % width, (self._origin[1] - dy) % height)
            self.update()

    def patch(self, x: int, y: int, rgba: np.ndarray) -> None:
        """Pixels of the picture at (x, y), split where they wrap around the texture."""
        assert self._texture is not None
        width, height = self._size
        h, w = rgba.shape[:2]
        tx, ty = (x + self._origin[0]) % width, (y + self._origin[1]) % height
        for row0, rows in _pieces(ty, h, height):
            for col0, cols in _pieces(tx, w, width):
                piece = rgba[rows, cols]
                self._texture.set_data(np.ascontiguousarray(piece), offset=(row0, col0))
                self.uploaded_bytes += piece.nbytes
        self.update()

    def _prepare_transforms(self, view: Any) -> None:
        view.view_program.vert["transform"] = view.transforms.get_transform()

    def _prepare_draw(self, view: Any) -> bool:
        return self._texture is not None

    def _compute_bounds(self, axis: int, view: Any) -> tuple[float, float] | None:
        return (0, self._size[axis]) if axis < 2 else (0, 0)


def _pieces(start: int, length: int, size: int) -> list[tuple[int, slice]]:
    """(texture offset, source slice) of a run of ``length`` from ``start`` on a ring of
    ``size``: one piece, or two where it wraps."""
    first = min(length, size - start)
    pieces = [(start, slice(0, first))]
    if first < length:
        pieces.append((0, slice(first, length)))
    return pieces


Frame = create_visual_node(FrameVisual)
