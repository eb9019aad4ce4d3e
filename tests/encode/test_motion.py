"""Motion: the pixel offset of a pan, and moving pictures and tile flags with it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_engine.encode.motion import (
    pan_shift,
    shift_image,
    shift_tile_grid,
)


def _view(cy: float, cx: float, **extra: object) -> SimpleNamespace:
    """A view as ``motion.View`` describes it (the protocol's FrameView is one)."""
    view: dict[str, object] = {"ndisplay": 2, "center": [0.0, cy, cx], "zoom": 4.0,
                               "angles": [0.0, 0.0, 90.0], "current_step": [0, 0, 0]}
    view.update(extra)
    return SimpleNamespace(**view)


def test_pan_shift_is_the_content_offset_in_frame_pixels() -> None:
    assert pan_shift(_view(10, 10), 1.0, _view(11, 8), 1.0) == (8, -4)
    # a frame rendered at half size moves half as many of its pixels
    assert pan_shift(_view(10, 10), 0.5, _view(11, 8), 0.5) == (4, -2)


def test_pan_shift_refuses_anything_but_a_clean_2d_pan() -> None:
    base = _view(10, 10)
    assert pan_shift(base, 1.0, base, 1.0) is None  # no move
    assert pan_shift(base, 1.0, _view(10, 10.1), 1.0) is None  # 0.4 px
    assert pan_shift(base, 1.0, _view(10, 11, zoom=5.0), 1.0) is None
    assert pan_shift(base, 1.0, _view(10, 11, current_step=[1, 0, 0]), 1.0) is None
    assert pan_shift(base, 1.0, _view(10, 11, ndisplay=3), 1.0) is None
    assert pan_shift(base, 1.0, _view(10, 11), 0.5) is None
    assert pan_shift(None, 1.0, base, 1.0) is None


def test_shift_image_moves_content_and_fills_the_exposed_part() -> None:
    img = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6, 1)
    out = shift_image(img, 2, -1)
    np.testing.assert_array_equal(out[0:4, 2:6], img[1:5, 0:4])
    assert not out[:, :2].any() and not out[4:, :].any()
    assert not shift_image(img, 6, 0).any()
    exposed = ~shift_image(np.ones((5, 6), bool), 2, -1)
    assert exposed.sum() == 5 * 6 - 4 * 4


def test_a_flagged_tile_taints_every_tile_it_moves_over() -> None:
    grid = np.zeros((3, 3), bool)
    grid[1, 1] = True
    moved = shift_tile_grid(grid, 30, 30, 5, 0, tile=10)  # half a tile to the right
    assert moved.tolist() == [[False] * 3, [False, True, True], [False] * 3]
    moved = shift_tile_grid(grid, 30, 30, 10, 10, tile=10)  # exactly one tile
    assert moved.tolist() == [[False] * 3, [False] * 3, [False, False, True]]
