"""Dirty tiles: only what changed is sent; lossy tiles are refreshed losslessly later."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_engine.encode import motion
from napari_engine.encode.tiles import (
    TileState,
    TileUpdate,
    apply_update,
    changed_grid,
    encode_update,
)

T = 128  # the logic at one tile size; the server's default is tiles.TILE


def _changed(new: np.ndarray, old: np.ndarray | None, tile: int) -> set[tuple[int, int]]:
    """(row, column) of every tile whose pixels differ."""
    grid = changed_grid(new, old, tile)
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(grid), strict=True)}


def _lossy(state: TileState) -> set[tuple[int, int]]:
    """The tiles a client shows from lossy (JPEG) updates."""
    if state.lossy_grid is None:
        return set()
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(state.lossy_grid), strict=True)}


def _empty(update: TileUpdate) -> bool:
    return not update.index and update.shift is None


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
    assert _changed(b, a, T) == {(0, 0), (299 // T, 499 // T)}
    assert _changed(a, a, T) == set()
    assert len(_changed(a, None, T)) == 3 * 4


def test_static_scene_costs_nothing_and_small_change_costs_little() -> None:
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    first = _frame()
    u = encode_update(state, first, lossless=True, tile=T)
    canvas = apply_update(canvas, u.index, u.payload)
    np.testing.assert_array_equal(canvas, first)
    assert _empty(encode_update(state, first, lossless=True, tile=T))  # nothing changed
    cursor = first.copy()
    cursor[150:158, 200:208, :3] = 255  # a cursor-sized change, inside one tile
    u = encode_update(state, cursor, lossless=True, tile=T)
    assert len(u.index) == 1 and len(u.payload) < 10_000
    apply_update(canvas, u.index, u.payload)
    np.testing.assert_array_equal(canvas, cursor)


def test_lossy_tiles_are_refreshed_losslessly_when_the_scene_rests() -> None:
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    frame = _frame()
    u = encode_update(state, frame, lossless=True, tile=T)
    apply_update(canvas, u.index, u.payload)
    moved = frame.copy()
    moved[0:100, 0:100, 2] = 200
    u = encode_update(state, moved, lossless=False, tile=T)
    assert {tuple(i[:2]) for i in u.index} == {(0, 0)} and u.index[0][4] == "jpeg"
    apply_update(canvas, u.index, u.payload)
    assert _lossy(state) == {(0, 0)}
    u = encode_update(state, moved, lossless=True, tile=T)  # the still
    assert [i[4] for i in u.index] == ["png"]
    apply_update(canvas, u.index, u.payload)
    np.testing.assert_array_equal(canvas, moved)
    assert _lossy(state) == set()


def test_mostly_changed_frame_goes_as_one_tile() -> None:
    state = TileState()
    encode_update(state, _frame(1), lossless=True, tile=T)
    index = encode_update(state, _frame(2), lossless=False, tile=T).index
    assert index[0][:4] == [0, 0, 500, 300] and len(index) == 1
    assert len(_lossy(state)) == 3 * 4


def _view(cy: float, cx: float, zoom: float = 2.0) -> SimpleNamespace:
    return SimpleNamespace(ndisplay=2, center=[0.0, cy, cx], zoom=zoom,
                           angles=[0.0, 0.0, 90.0], current_step=[3, 0, 0])


def _world(shape: tuple[int, int] = (900, 1500)) -> np.ndarray:
    """A large textured picture to pan over (every pixel distinct enough to notice)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (*shape, 4), dtype=np.uint8)
    img[..., 3] = 255
    return img


def test_a_pan_sends_only_the_exposed_strips() -> None:
    world = _world()
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    first = world[100:400, 200:700]
    u = encode_update(state, first, lossless=True, view=_view(50.0, 100.0))
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    # the camera moves 10 px right and 4 px down (zoom 2: 5 and 2 world units)
    second = world[104:404, 210:710]
    u = encode_update(state, second, lossless=True, view=_view(52.0, 105.0))
    assert u.shift == (-10, -4)
    full = encode_update(TileState(), second, lossless=True).payload
    assert 0 < len(u.payload) < len(full) / 4
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    np.testing.assert_array_equal(canvas, second)
    # tiles touched: the right column of tiles and the bottom row of tiles
    assert {(x, y) for x, y, *_ in u.index} >= {(448, 0), (0, 256)}


def test_a_pan_with_a_change_sends_the_correction_too() -> None:
    world = _world()
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    u = encode_update(state, world[0:300, 0:500], lossless=True, view=_view(0.0, 0.0))
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    second = world[0:300, 8:508].copy()
    second[150:160, 100:110] = 7  # an overlay that does not move with the data
    u = encode_update(state, second, lossless=True, view=_view(0.0, 4.0))
    assert u.shift == (-8, 0)
    assert (64, 128) in {(x, y) for x, y, *_ in u.index}
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    np.testing.assert_array_equal(canvas, second)


def test_lossy_tiles_move_with_the_pan_and_are_refreshed_at_rest() -> None:
    world = _world()
    state, canvas = TileState(), np.zeros((300, 500, 4), np.uint8)
    u = encode_update(state, world[0:300, 0:500], lossless=True, view=_view(0.0, 0.0))
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    views = [_view(0.0, 5.0 * i) for i in range(1, 4)]
    for i, view in enumerate(views, start=1):
        frame = world[0:300, 10 * i:500 + 10 * i]
        u = encode_update(state, frame, lossless=False, view=view)
        assert u.shift == (-10, 0)
        canvas = apply_update(canvas, u.index, u.payload, u.shift)
    assert _lossy(state)  # the JPEG strips, now moved left with the picture
    still = world[0:300, 30:530]
    u = encode_update(state, still, lossless=True, view=views[-1])
    assert u.shift is None and all(i[4] == "png" for i in u.index)
    canvas = apply_update(canvas, u.index, u.payload, u.shift)
    np.testing.assert_array_equal(canvas, still)
    assert _lossy(state) == set()


def test_a_fractional_pan_or_a_zoom_is_not_a_shift() -> None:
    world = _world()
    state = TileState()
    encode_update(state, world[0:300, 0:500], lossless=True, view=_view(0.0, 0.0))
    u = encode_update(state, world[0:300, 3:503], lossless=True, view=_view(0.0, 0.75))
    assert u.shift is None  # 1.5 px: napari resamples every pixel
    u = encode_update(state, world[0:300, 3:503], lossless=True,
                      view=_view(0.0, 0.75, zoom=3.0))
    assert u.shift is None


def test_many_tiles_encode_the_same_on_a_pool() -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = _frame(3, (640, 640))
    after = before.copy()
    after[:256, :, 2] ^= 0x55  # 160 of 400 tiles: below the full-frame threshold
    updates = []
    for pool in (ThreadPoolExecutor(1), None):
        state = TileState()
        encode_update(state, before, lossless=True, tile=32)
        updates.append(encode_update(state, after, lossless=False, tile=32, pool=pool))
    a, b = updates
    assert len(a.index) == 160
    assert a.index == b.index and a.payload == b.payload


def test_a_refine_update_resends_lossy_tiles_once_at_its_quality() -> None:
    state = TileState()
    frame = _frame()
    encode_update(state, frame, lossless=True, tile=T)
    moved = frame.copy()
    moved[0:100, 0:100, 2] = 200
    encode_update(state, moved, lossless=False, tile=T)
    u = encode_update(state, moved, lossless=False, quality=95, tile=T, refine=True)
    assert [(i[0], i[1], i[4]) for i in u.index] == [(0, 0, "jpeg")]
    assert _lossy(state) == set()
    assert _empty(encode_update(state, moved, lossless=False, tile=T, refine=True))


def test_a_pan_drawn_as_strips_needs_no_comparison_and_gives_the_same_update() -> None:
    """``pan``: the frame is the client's picture moved plus the strips it uncovered; the
    update is the one a pixel comparison finds, and the client ends at the frame."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (200, 300, 4), dtype=np.uint8)
    frame = motion.shift_image(base, -24, 8)
    boxes = ((276, 0, 24, 200), (0, 0, 300, 8))
    for x, y, w, h in boxes:
        frame[y:y + h, x:x + w] = rng.integers(0, 255, (h, w, 4), dtype=np.uint8)
    delta = motion.PanDelta(base, (-24, 8), boxes)
    updates = []
    for pan in (delta, None):
        state = TileState(shown=base, view=_view(100.0, 150.0), scale=1.0)
        update = encode_update(state, frame, lossless=True, view=_view(96.0, 162.0),
                               pan=pan)
        assert update.shift == (-24, 8)
        client = apply_update(base.copy(), update.index, update.payload, update.shift)
        np.testing.assert_array_equal(client, frame)
        updates.append(sorted(tuple(row[:4]) for row in update.index))
    assert updates[0] == updates[1]
    # a client that shows another picture than the strips' base is compared, not trusted
    shown = base.copy()
    shown[100:110, 100:110] = 0
    state = TileState(shown=shown, view=_view(100.0, 150.0), scale=1.0)
    other = encode_update(state, frame, lossless=True, view=_view(96.0, 162.0), pan=delta)
    np.testing.assert_array_equal(
        apply_update(shown.copy(), other.index, other.payload, other.shift), frame)
    assert len(other.index) > len(updates[0])
