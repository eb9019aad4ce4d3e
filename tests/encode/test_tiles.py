"""Dirty tiles: only what changed is sent; lossy tiles are refreshed losslessly later."""

from __future__ import annotations

import numpy as np

from napari_engine.encode.tiles import (
    TileState,
    apply_update,
    changed_tiles,
    encode_update,
)

T = 128  # the logic at one tile size; the server's default is tiles.TILE


def _frame(seed: int = 0, shape: tuple[int, int] = (300, 500)) -> np.ndarray:
    """A smooth picture (napari frames are mostly smooth or black), different per seed."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros((*shape, 4), np.uint8)
    img[..., 3] = 255
    img[..., 0] = (xx + 7 * seed) % 256
    img[..., 1] = (yy * (seed + 1)) % 256
    img[..., 2] = ((xx // 16 + yy // 16 + seed) % 2) * 60
    return img


def test_changed_tiles_finds_exactly_the_touched_tiles() -> None:
    a = _frame()
    b = a.copy()
    b[10, 10, 0] ^= 1  # tile (0, 0)
    b[299, 499, 1] ^= 1  # the clipped corner tile
    assert changed_tiles(b, a, T) == {(0, 0), (299 // T, 499 // T)}
    assert changed_tiles(a, a, T) == set()
    assert len(changed_tiles(a, None, T)) == 3 * 4


def test_static_scene_costs_nothing_and_small_change_costs_little() -> None:
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    first = _frame()
    index, payload = encode_update(state, first, lossless=True, tile=T)
    apply_update(canvas, index, payload)
    np.testing.assert_array_equal(canvas, first)
    assert encode_update(state, first, lossless=True, tile=T) == ([], b"")  # nothing changed
    cursor = first.copy()
    cursor[150:158, 200:208, :3] = 255  # a cursor-sized change, inside one tile
    index, payload = encode_update(state, cursor, lossless=True, tile=T)
    assert len(index) == 1 and len(payload) < 10_000
    apply_update(canvas, index, payload)
    np.testing.assert_array_equal(canvas, cursor)


def test_lossy_tiles_are_refreshed_losslessly_when_the_scene_rests() -> None:
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    frame = _frame()
    apply_update(canvas, *encode_update(state, frame, lossless=True, tile=T))
    moved = frame.copy()
    moved[0:100, 0:100, 2] = 200
    index, payload = encode_update(state, moved, lossless=False, tile=T)
    assert {tuple(i[:2]) for i in index} == {(0, 0)} and index[0][4] == "jpeg"
    apply_update(canvas, index, payload)
    assert state.lossy == {(0, 0)}
    index, payload = encode_update(state, moved, lossless=True, tile=T)  # the still
    assert [i[4] for i in index] == ["png"]
    apply_update(canvas, index, payload)
    np.testing.assert_array_equal(canvas, moved)
    assert state.lossy == set()


def test_mostly_changed_frame_goes_as_one_tile() -> None:
    state = TileState()
    encode_update(state, _frame(1), lossless=True, tile=T)
    index, _ = encode_update(state, _frame(2), lossless=False, tile=T)
    assert index[0][:4] == [0, 0, 500, 300] and len(index) == 1
    assert len(state.lossy) == 3 * 4
