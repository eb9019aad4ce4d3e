"""The procedural sample: pyramid shape, determinism, bounded memory, cross-level consistency."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from napari_engine.data import sample_layers
from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray


@pytest.fixture
def cache() -> ChunkCache:
    return ChunkCache(64 * 1024 * 1024)


@pytest.fixture
def levels(cache: ChunkCache) -> list[list[ChunkedArray]]:
    return [spec.data for spec in sample_layers(cache=cache)]


def test_specs_and_pyramid_shape() -> None:
    specs = sample_layers()
    assert len(specs) >= 2
    assert [s.kwargs["name"] for s in specs] == ["sample nuclei", "sample membrane"]
    for spec in specs:
        kw = spec.kwargs
        assert kw["multiscale"] is True
        assert kw["blending"] == "additive"
        assert kw["axis_labels"] == ("z", "y", "x")
        assert len(kw["scale"]) == 3 and kw["contrast_limits"][1] > kw["contrast_limits"][0]
        data = spec.data
        assert data[0].shape == (2**14, 2**17, 2**17)
        for finer, coarser in itertools.pairwise(data):
            assert coarser.shape == tuple(s // 2 for s in finer.shape)
        assert max(data[-1].shape) <= 256 < max(data[-2].shape)
        assert len(data) == 10
        assert all(level.dtype == np.uint16 and level.ndim == 3 for level in data)
    assert {s.kwargs["colormap"] for s in specs} == {"green", "magenta"}


def test_levels_are_lazy_and_small_reads_are_fast(levels: list[list[ChunkedArray]]) -> None:
    level0 = levels[0][0]
    assert level0.size == 2**48
    start = time.perf_counter()
    region = level0[8000, 65536:65536 + 256, 65536:65536 + 256]
    assert region.shape == (256, 256) and region.dtype == np.uint16
    assert time.perf_counter() - start < 2.0  # one chunk; a few ms in practice
    assert region.std() > 0


@pytest.mark.parametrize("channel", [0, 1])
def test_deterministic_whatever_the_order_or_cache(channel: int, cache: ChunkCache,
                                                   levels: list[list[ChunkedArray]]) -> None:
    pyramid = levels[channel]
    regions = [(0, 5, slice(1000, 1300), slice(2000, 2400)),
               (2, 77, slice(3000, 3100), slice(100, 700)),
               (3, 1, slice(0, 300), slice(0, 300)),
               (5, 100, slice(50, 400), slice(50, 200)),
               (9, 10, slice(None), slice(None))]
    first = [pyramid[lv][z, ys, xs] for lv, z, ys, xs in regions]
    again = [pyramid[lv][z, ys, xs] for lv, z, ys, xs in reversed(regions)][::-1]
    cache.clear()
    fresh = [pyramid[lv][z, ys, xs] for lv, z, ys, xs in reversed(regions)][::-1]
    other = sample_layers(cache=ChunkCache(1 << 20))[channel].data  # tiny cache, evicting
    evicting = [other[lv][z, ys, xs] for lv, z, ys, xs in regions]
    for a, b, c, d in zip(first, again, fresh, evicting, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(a, d)
    # An overlapping read agrees with the earlier one where they overlap.
    lv, z, _, _ = regions[0]
    np.testing.assert_array_equal(pyramid[lv][z, 1100:1200, 2300:2400], first[0][100:200, 300:])


def test_cache_stays_bounded() -> None:
    small = ChunkCache(4 * 1024 * 1024)
    pyramid = sample_layers(cache=small)[0].data
    for i in range(30):
        level = pyramid[4 + i % 5]
        z = (i * 37) % level.shape[0]
        y = (i * 211) % max(level.shape[1] - 600, 1)
        pyramid[4 + i % 5][z, y:y + 600, 0:600]
        assert small.nbytes <= small.max_bytes
    assert small.nbytes > 0


def _block_mean(fine: np.ndarray) -> np.ndarray:
    """(2z, 2y, 2x) -> (z, y, x) means of 2x2x2 blocks."""
    z, y, x = fine.shape
    return fine.reshape(z // 2, 2, y // 2, 2, x // 2, 2).mean(axis=(1, 3, 5))


@pytest.mark.parametrize("channel", [0, 1])
@pytest.mark.parametrize("fine_level", [0, 1, 2, 3, 5])
def test_coarse_levels_look_like_downsampled_fine_levels(
        channel: int, fine_level: int, levels: list[list[ChunkedArray]]) -> None:
    pyramid = levels[channel]
    fine, coarse = pyramid[fine_level], pyramid[fine_level + 1]
    z, y, x, n = coarse.shape[0] // 3, coarse.shape[1] // 3, coarse.shape[2] // 5, 128
    fine_region = fine[2 * z:2 * z + 2, 2 * y:2 * y + 2 * n, 2 * x:2 * x + 2 * n]
    coarse_region = coarse[z:z + 1, y:y + n, x:x + n].astype(np.float64)
    down = _block_mean(fine_region.astype(np.float64))
    assert down.shape == coarse_region.shape
    # Same overall brightness (within 10 %; typically 0-5 %) ...
    assert coarse_region.mean() == pytest.approx(down.mean(), rel=0.10)
    # ... and the same large-scale structure (8x8-block means correlate).
    def blocks(a: np.ndarray) -> np.ndarray:
        return a.reshape(n // 8, 8, n // 8, 8).mean(axis=(1, 3)).ravel()
    b1, b2 = blocks(coarse_region[0]), blocks(down[0])
    assert b1.std() > 5 and b2.std() > 5, "a flat region says nothing about the structure"
    assert np.corrcoef(b1, b2)[0, 1] > 0.5
