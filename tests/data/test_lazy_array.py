"""ChunkedArray indexing matches numpy; the shared chunk cache stays within its byte bound."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray, level_offsets


def _ramp_array(shape: tuple[int, ...], chunks: tuple[int, ...], cache: ChunkCache) -> tuple[
        ChunkedArray, np.ndarray]:
    full = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)

    def compute(index: tuple[int, ...]) -> np.ndarray:
        box = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks, strict=True))
        return full[box].copy()

    return ChunkedArray(shape, np.int32, chunks, compute, ("ramp", shape), cache), full


INDICES = [
    (), (...,), 3, -1, (2, 5), (slice(None), 4), (1, slice(2, 9), slice(None, None, 3)),
    (slice(1, 7, 2), ..., slice(3, 4)), (..., 0), (slice(-5, None), slice(None, -3)),
    (slice(None, None, -1), slice(8, 1, -3), 0), (slice(5, 5),), (slice(100, 200),),
    (np.int64(4), np.int32(-2)), (0, 0, 0),
]


@pytest.mark.parametrize("index", INDICES)
def test_indexing_matches_numpy(index: object) -> None:
    array, full = _ramp_array((7, 11, 13), (2, 4, 5), ChunkCache(1 << 20))
    got = array[index]
    expected = full[index]
    assert isinstance(got, (np.ndarray, np.generic))  # numpy gives a scalar for all-int keys
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_array_protocol_and_properties() -> None:
    array, full = _ramp_array((7, 11, 13), (2, 4, 5), ChunkCache(1 << 20))
    assert array.shape == (7, 11, 13)
    assert array.ndim == 3 and len(array) == 7 and array.size == full.size
    assert array.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(array), full)
    assert np.asarray(array, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("index, error", [
    ((0, 0, 0, 0), IndexError), (7, IndexError), ((0, -12), IndexError),
    ((..., ...), IndexError), ("a", TypeError), ([1, 2], TypeError),
])
def test_bad_indices(index: object, error: type[Exception]) -> None:
    array, _ = _ramp_array((7, 11, 13), (2, 4, 5), ChunkCache(1 << 20))
    with pytest.raises(error):
        array[index]


def test_refuses_to_materialize_huge_regions() -> None:
    huge = ChunkedArray((2**20, 2**20), np.uint16, (256, 256),
                        lambda i: np.zeros((256, 256), np.uint16), "huge", ChunkCache(1 << 20))
    with pytest.raises(MemoryError):
        np.asarray(huge)
    assert huge[5, 10:20].shape == (10,)


def test_cache_is_bounded_and_lru() -> None:
    cache = ChunkCache(max_bytes=10 * 1000)
    for i in range(50):
        cache.put(i, np.zeros(1000, np.uint8))
        assert cache.nbytes <= cache.max_bytes
    assert len(cache) == 10
    assert cache.get(0) is None and cache.get(49) is not None
    cache.get(40)  # refresh 40, then push 10 more: 40 survives, 41 does not
    for i in range(50, 59):
        cache.put(i, np.zeros(1000, np.uint8))
    assert cache.get(40) is not None and cache.get(41) is None
    cache.put("big", np.zeros(20000, np.uint8))  # larger than the cache: not stored
    assert cache.get("big") is None and cache.nbytes <= cache.max_bytes
    cache.clear()
    assert cache.nbytes == 0 and len(cache) == 0


def test_cache_is_thread_safe() -> None:
    cache = ChunkCache(max_bytes=64 * 1024)
    array, full = _ramp_array((40, 64, 64), (1, 16, 16), cache)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(100):
                z = int(rng.integers(0, 40))
                y, x = (int(v) for v in rng.integers(0, 48, size=2))
                np.testing.assert_array_equal(array[z, y:y + 16, x:x + 16],
                                              full[z, y:y + 16, x:x + 16])
                assert cache.nbytes <= cache.max_bytes
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_large_selections_stay_lazy_and_compose() -> None:
    """napari slices ``level[:, tile]`` before picking a plane; that must not compute
    every plane (it does this for multiscale data in 2D)."""
    from napari_engine.data.lazy_array import LazySelection

    calls: list[tuple[int, ...]] = []

    def compute(index: tuple[int, ...]) -> np.ndarray:
        calls.append(index)
        return np.full((1, 256, 256), index[0], dtype=np.uint16)

    big = ChunkedArray((100_000, 1024, 1024), np.uint16, (1, 256, 256), compute, key="lazy-test")
    tile = big[:, 256:768, 0:512]
    assert isinstance(tile, LazySelection) and tile.shape == (100_000, 512, 512)
    assert calls == []
    plane = np.asarray(tile[1234])
    assert plane.shape == (512, 512) and (plane == 1234).all()
    assert len(calls) == 4  # 2 x 2 chunks of one plane
    assert np.asarray(tile[5:7, ::2, 3]).shape == (2, 256)


def test_level_offsets_say_where_a_file_puts_a_level_beyond_napari() -> None:
    shapes = [(8, 64, 64), (8, 32, 32), (8, 16, 16)]
    scales = [(1.0, 0.5, 0.5), (1.0, 1.0, 1.0), (1.0, 2.0, 2.0)]
    # block means, translated to the centre of their blocks: where napari draws them
    centred = [(3.0, 0.0, 0.0), (3.0, 0.25, 0.25), (3.0, 0.75, 0.75)]
    assert level_offsets(shapes, scales, centred) == [None, None, None]
    # strided levels without translations: (f - 1) / 2 finest voxels earlier
    plain = [(3.0, 0.0, 0.0)] * 3
    assert level_offsets(shapes, scales, plain) == [None, (0.0, -0.5, -0.5),
                                                    (0.0, -1.5, -1.5)]


def test_a_chunked_array_refuses_writes_saying_why() -> None:
    array = ChunkedArray((4, 4), np.uint8, (2, 2), lambda i: np.zeros((2, 2), np.uint8),
                         key="read-only", cache=ChunkCache(1 << 20))
    with pytest.raises(TypeError, match="read from its source as it is shown"):
        array[0, 0] = 1
