"""Motion: reuse the picture a client already shows when the view only pans.

A 2D pan moves every pixel of the frame by the same screen offset. The client already
holds the old picture, so the server can say "shift what you show by (dx, dy)" and send
only the tiles that the shift does not explain: the newly exposed strips plus any
corrections (new data arriving, an overlay that stays put). Whether the shift explains a
tile is decided by comparing pixels, never assumed, so a wrong guess costs bytes, not
correctness.

The offset comes from the two views (camera center and zoom): napari draws an integer
screen offset exactly (the same texels land on the same pixels), while a fractional one
resamples every pixel and is not reused.

Pure numpy; the client applies the same shift.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

#: how far from an integer a pixel offset may be and still count as a clean shift
INTEGER_TOLERANCE = 0.02


class View(Protocol):
    """Where a frame sits in the world: the camera and dims it was drawn with (the
    protocol's ``FrameView`` is one)."""

    @property
    def ndisplay(self) -> int: ...
    @property
    def center(self) -> Sequence[float]: ...
    @property
    def zoom(self) -> float: ...
    @property
    def angles(self) -> Sequence[float]: ...
    @property
    def current_step(self) -> Sequence[int]: ...


def pan_shift(old_view: View | None, old_scale: float,
              new_view: View | None, new_scale: float) -> tuple[int, int] | None:
    """The (dx, dy) screen offset by which the content of ``old_view`` moved to land in
    ``new_view``, or None when the views differ by more than a whole-pixel 2D pan."""
    if old_view is None or new_view is None or old_scale != new_scale:
        return None
    if old_view.ndisplay != 2 or new_view.ndisplay != 2:
        return None
    if (old_view.zoom != new_view.zoom or tuple(old_view.current_step)
            != tuple(new_view.current_step) or tuple(old_view.angles) != tuple(new_view.angles)):
        return None
    old_c, new_c = old_view.center, new_view.center
    if len(old_c) != len(new_c) or len(old_c) < 2:
        return None
    factor = float(new_view.zoom) * new_scale  # frame pixels per world unit
    # the content moves opposite to the camera
    dy = (float(old_c[-2]) - float(new_c[-2])) * factor
    dx = (float(old_c[-1]) - float(new_c[-1])) * factor
    ix, iy = round(dx), round(dy)
    if abs(dx - ix) > INTEGER_TOLERANCE or abs(dy - iy) > INTEGER_TOLERANCE:
        return None
    if ix == 0 and iy == 0:
        return None
    return int(ix), int(iy)


Region = tuple[slice, slice]


def overlap(height: int, width: int, dx: int, dy: int) -> tuple[Region, Region]:
    """(destination, source) regions: content at ``source`` lands at ``destination``
    after a move by (dx, dy). Empty when the move is larger than the picture."""
    dx = max(-width, min(width, dx))
    dy = max(-height, min(height, dy))
    src = (slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx)))
    dst = (slice(max(0, dy), height - max(0, -dy)), slice(max(0, dx), width - max(0, -dx)))
    return dst, src


def shift_image(image: np.ndarray, dx: int, dy: int, fill: int = 0) -> np.ndarray:
    """A copy of ``image`` whose content moved by (dx, dy); exposed pixels get ``fill``."""
    out = np.full_like(image, fill)
    dst, src = overlap(image.shape[0], image.shape[1], dx, dy)
    out[dst] = image[src]
    return out


def tiles_touched(mask: np.ndarray, tile: int) -> np.ndarray:
    """(rows, cols) bool grid: which tiles hold at least one True pixel of ``mask``."""
    h, w = mask.shape
    rows, cols = -(-h // tile), -(-w // tile)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[:h, :w] = mask
    return np.asarray(padded.reshape(rows, tile, cols, tile).any(axis=(1, 3)))


def shift_tile_grid(grid: np.ndarray, height: int, width: int, dx: int, dy: int,
                    tile: int) -> np.ndarray:
    """Move a per-tile flag grid with the picture: a flagged tile taints every tile its
    shifted pixels overlap (tiles move by pixels, not whole tiles)."""
    pixels = np.repeat(np.repeat(grid, tile, axis=0), tile, axis=1)[:height, :width]
    return tiles_touched(shift_image(pixels, dx, dy, fill=0), tile)
