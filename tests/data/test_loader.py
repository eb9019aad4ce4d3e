"""Reads in a reading context never wait: coarser levels stand in, the loader fetches the
rest off the caller's thread in priority order, failures are remembered, unwanted work is
cancelled."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray, link_levels
from napari_engine.data.loader import (
    COARSE,
    PREFETCH,
    VISIBLE,
    ChunkLoader,
    ReadContext,
    current,
    exact,
    reading,
)

WAIT_S = 30.0  # generous: a loaded machine; nothing here is timed


def _pyramid(cache: ChunkCache, gate: threading.Event | None = None,
             fail: Callable[[int, tuple[int, ...]], bool] | None = None
             ) -> tuple[list[ChunkedArray], list[np.ndarray]]:
    """Three levels of a 2 x 64 x 64 ramp (halved in y and x), chunks of 1 x 16 x 16;
    each level's chunks wait for ``gate`` and fail where ``fail`` says."""
    full = [np.arange(2 * 64 * 64, dtype=np.uint16).reshape(2, 64, 64)]
    full += [full[0][:, ::2, ::2].copy(), full[0][:, ::4, ::4].copy()]
    levels = []
    for number, data in enumerate(full):
        def compute(index: tuple[int, ...], data: np.ndarray = data,
                    number: int = number) -> np.ndarray:
            if gate is not None:
                assert gate.wait(WAIT_S)
            if fail is not None and fail(number, index):
                raise OSError(f"level {number} chunk {index} is corrupt")
            z, y, x = index
            return data[z:z + 1, y * 16:(y + 1) * 16, x * 16:(x + 1) * 16].copy()

        levels.append(ChunkedArray(data.shape, np.uint16, (1, 16, 16), compute,
                                   ("ramp", number, id(cache)), cache, source="ramp"))
    link_levels(levels)
    return levels, full


@pytest.fixture
def loader() -> Iterator[ChunkLoader]:
    chunk_loader = ChunkLoader(workers=2, per_source=2)
    yield chunk_loader
    chunk_loader.close()


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the loader never got there"
        time.sleep(0.005)


def test_outside_a_reading_context_reads_are_exact() -> None:
    levels, full = _pyramid(ChunkCache(1 << 20))
    assert current() is None
    np.testing.assert_array_equal(levels[0][1, 10:40, 5:60], full[0][1, 10:40, 5:60])


def test_a_read_never_waits_and_the_coarser_level_stands_in(loader: ChunkLoader) -> None:
    cache = ChunkCache(1 << 20)
    gate = threading.Event()
    levels, full = _pyramid(cache, gate)
    arrived: list[object] = []
    loader.on_arrival(arrived.append)
    context = ReadContext(loader, "session", stamp=1)
    with reading(context):
        first = levels[0][0]  # nothing is cached: zeros, and the loader is asked
    assert not first.any()
    assert context.asked > 0
    assert loader.waiting("session", tier=COARSE)  # the coarsest: nothing stands in
    gate.set()
    _until(lambda: not loader.waiting("session"))
    assert "session" in arrived  # woken, and what arrived is there to take, once
    arrivals = loader.take_arrivals("session")
    assert arrivals is not None and not arrivals.errors
    assert loader.take_arrivals("session") is None
    with reading(ReadContext(loader, "session", stamp=2)):
        np.testing.assert_array_equal(levels[0][0], full[0][0])


def test_what_is_missing_stands_in_from_the_best_coarser_level_cached(
        loader: ChunkLoader) -> None:
    cache = ChunkCache(1 << 20)
    levels, full = _pyramid(cache)
    with exact():
        np.asarray(levels[2][0])  # only the coarsest level is cached
    gate = threading.Event()
    blocked, _ = _pyramid(cache, gate)  # same keys: the same cache entries
    with reading(ReadContext(loader, "s", stamp=1)):
        shown = blocked[0][0, 8:40, 8:40]
    # each voxel is the coarsest voxel it lies in (nearest, a factor of 4)
    ys, xs = np.mgrid[8:40, 8:40]
    np.testing.assert_array_equal(shown, full[2][0][ys // 4, xs // 4])
    assert not loader.waiting("s", tier=COARSE)  # the coarsest stands in: no hold
    assert loader.waiting("s", tier=VISIBLE)
    gate.set()


def test_coarse_levels_load_before_fine_ones() -> None:
    one = ChunkLoader(workers=1, per_source=1)
    try:
        order: list[int] = []
        started, release = threading.Event(), threading.Event()

        def held(_index: tuple[int, ...]) -> np.ndarray:
            started.set()
            assert release.wait(WAIT_S)
            return np.zeros((1, 1), np.uint8)

        plug = ChunkedArray((1, 1), np.uint8, (1, 1), held, "plug", ChunkCache(1 << 10))
        context = ReadContext(one, "s", stamp=1)
        plug.ask((0, 0), context, PREFETCH, rank=0)  # holds the only worker
        assert started.wait(WAIT_S)

        def log(level: int, _index: tuple[int, ...]) -> bool:
            order.append(level)
            return False

        levels, _ = _pyramid(ChunkCache(1 << 20), fail=log)
        with reading(context):
            levels[0][0]
        release.set()
        _until(lambda: one.busy() == 0)
        assert order == sorted(order, reverse=True)  # coarsest first
        assert order[0] == 2 and order[-1] == 0
    finally:
        one.close()


def test_a_failed_chunk_is_an_error_not_a_hang(loader: ChunkLoader) -> None:
    levels, _ = _pyramid(ChunkCache(1 << 20), fail=lambda level, _i: level == 2)
    context = ReadContext(loader, "s", stamp=1)
    with reading(context):
        levels[2][0]
    _until(lambda: not loader.waiting("s"))
    again = ReadContext(loader, "s", stamp=2)
    with reading(again):
        levels[2][0]
    assert "corrupt" in again.errors[levels[2].pyramid]
    assert again.asked == 0  # not asked again while the error is fresh
    assert loader.stats.failed >= 1


def test_requests_not_asked_again_are_cancelled(loader: ChunkLoader) -> None:
    """Plane 0 is asked for (21 chunks over three levels), then plane 1: what plane 0
    still waited for is dropped; only what two workers had started finishes."""
    gate = threading.Event()
    levels, _ = _pyramid(ChunkCache(1 << 20), gate)
    with reading(ReadContext(loader, "s", stamp=1)):
        levels[0][0]
    with reading(ReadContext(loader, "s", stamp=2)):
        levels[0][1, :16, :16]  # another plane: the first is no longer wanted
    loader.retire("s", 2, {levels[0].pyramid})
    assert loader.stats.cancelled >= 21 - 2
    gate.set()
    _until(lambda: loader.busy() == 0)
    plane0 = [level.chunk_key(index) for level in levels
              for index in itertools.product([0], *(range(n // 16) for n in level.shape[1:]))]
    assert sum(key in levels[0].cache for key in plane0) <= 2
    assert all(level.chunk_key((1, 0, 0)) in level.cache for level in levels)


def test_prefetch_does_not_count_as_loading(loader: ChunkLoader) -> None:
    gate = threading.Event()
    levels, _ = _pyramid(ChunkCache(1 << 20), gate)
    context = ReadContext(loader, "s", stamp=1)
    assert levels[0].ask((1, 0, 0), context, PREFETCH, rank=0)
    assert loader.busy() == 1
    assert not loader.waiting("s")
    gate.set()
    _until(lambda: loader.busy() == 0)
    assert not levels[0].ask((1, 0, 0), context, PREFETCH, rank=0)  # cached now
    assert loader.stats.prefetched == 1


def test_a_slow_source_leaves_workers_to_the_others() -> None:
    chunk_loader = ChunkLoader(workers=3, per_source=2)
    try:
        stuck = threading.Event()
        slow, _ = _pyramid(ChunkCache(1 << 20), stuck)
        fast_cache = ChunkCache(1 << 20)
        fast, full = _pyramid(fast_cache)
        for level in fast:
            level.source = "fast"
        with reading(ReadContext(chunk_loader, "a", stamp=1)):
            slow[0][0]  # sixteen chunks that never come
        with reading(ReadContext(chunk_loader, "b", stamp=1)):
            fast[2][0]
        _until(lambda: not chunk_loader.waiting("b"))
        with reading(ReadContext(chunk_loader, "b", stamp=2)):
            np.testing.assert_array_equal(fast[2][0], full[2][0])
        stuck.set()
    finally:
        chunk_loader.close()
