"""Motion: the pixel offset of a pan, and moving pictures and tile flags with it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_engine.encode.motion import (
    Recycler,
    boxes_grid,
    overlap,
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
    moved = shift_tile_grid(grid, 5, 0, tile=10)  # half a tile to the right
    assert moved.tolist() == [[False] * 3, [False, True, True], [False] * 3]
    moved = shift_tile_grid(grid, 10, 10, tile=10)  # exactly one tile
    assert moved.tolist() == [[False] * 3, [False] * 3, [False, False, True]]


def test_shift_image_fills_every_exposed_pixel_in_every_direction() -> None:
    img = np.full((7, 9, 2), 200, np.uint8)  # nothing of the fill value to begin with
    for dx in (-10, -9, -3, 0, 4, 9, 12):
        for dy in (-8, -2, 0, 5, 7):
            expected = np.full_like(img, 5)
            dst, src = overlap(7, 9, dx, dy)
            expected[dst] = img[src]
            np.testing.assert_array_equal(shift_image(img, dx, dy, fill=5), expected)


def test_boxes_grid_flags_the_tiles_a_box_touches() -> None:
    grid = boxes_grid([(0, 0, 3, 25), (15, 29, 20, 1), (5, 5, 0, 9)], 30, 35, tile=10)
    assert grid.tolist() == [[True, False, False, False], [True, False, False, False],
                             [True, True, True, True]]


def test_a_moved_tile_grid_agrees_with_moving_the_pixels() -> None:
    """Tile flags moved on the grid taint the tiles the flagged pixels land on, and no
    others (the picture's size a whole number of tiles)."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        grid = rng.random((4, 5)) < 0.3
        dx, dy = (int(v) for v in rng.integers(-45, 46, 2))
        pixels = np.repeat(np.repeat(grid, 10, axis=0), 10, axis=1)
        moved = shift_image(pixels, dx, dy, fill=0)
        expected = moved.reshape(4, 10, 5, 10).any(axis=(1, 3))
        assert shift_tile_grid(grid, dx, dy, tile=10).tolist() == expected.tolist()


def test_the_recycler_reuses_an_array_only_once_nobody_else_holds_it() -> None:
    like = np.zeros((4, 5, 4), np.uint8)
    recycler = Recycler(size=3)
    first = recycler.take(like)
    second = recycler.take(like)
    assert first is not second  # ``first`` is still held here
    first_id = id(first)
    del first
    third = recycler.take(like)
    assert id(third) == first_id  # nobody held it any more: reused
    view = second[1:3]  # a view holds its base
    assert recycler.take(like) is not second
    del view
    other = recycler.take(np.zeros((2, 2), np.uint8))  # another shape: a new array
    assert other.shape == (2, 2)
