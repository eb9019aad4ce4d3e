"""What navigation predicts (``server.loading.predicted``, ``box_at``, and what the
stage's prefetch asks for): pure, no GL."""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray, link_levels
from napari_engine.data.loader import ChunkLoader, ReadContext
from napari_engine.server.loading import (
    PREFETCH_PLANES,
    ChunkLoading,
    box_at,
    chunks_of,
    predicted,
)

SHAPE = (100, 512, 512)


def test_a_z_scroll_loads_the_planes_ahead_in_its_direction() -> None:
    view = ((40, 0, 0), (41, 256, 256))
    up = predicted(SHAPE, view, ((39, 0, 0), (40, 256, 256)))
    planes = [box[0][0] for box in up if box[1][1:] == (256, 256) and box[0][1:] == (0, 0)]
    assert planes[:PREFETCH_PLANES] == list(range(41, 41 + PREFETCH_PLANES))
    down = predicted(SHAPE, view, ((41, 0, 0), (42, 256, 256)))
    assert [box[0][0] for box in down][:3] == [39, 38, 37]
    still = predicted(SHAPE, view, None)
    assert [box[0][0] for box in still][:4] == [41, 39, 42, 38]  # both ways, nearest first


def test_planes_stop_at_the_ends() -> None:
    boxes = predicted(SHAPE, ((99, 0, 0), (100, 64, 64)), ((98, 0, 0), (99, 64, 64)))
    assert all(0 <= box[0][0] < 100 for box in boxes)


def test_a_pan_loads_a_band_on_the_side_it_goes() -> None:
    view = ((10, 100, 100), (11, 200, 300))
    right = predicted(SHAPE, view, ((10, 100, 60), (11, 200, 260)))
    bands = [box for box in right if box[0][0] == 10 and box[1][0] == 11]
    assert bands == [((10, 100, 300), (11, 200, 350))]  # a quarter of the width ahead
    still = predicted(SHAPE, view, view)
    sides = {(box[0][1:], box[1][1:]) for box in still if box[1][0] - box[0][0] == 1
             and box[0][0] == 10}
    assert ((200, 100), (225, 300)) in sides and ((75, 100), (100, 300)) in sides


def test_a_box_maps_onto_a_coarser_level() -> None:
    def level(shape: tuple[int, ...]) -> ChunkedArray:
        return ChunkedArray(shape, np.uint8, (1, 64, 64), lambda i: np.zeros((1, 64, 64)),
                            ("l", shape), ChunkCache(1 << 10))

    fine, coarse = level((100, 512, 512)), level((100, 256, 256))
    link_levels([fine, coarse])
    assert box_at(fine, coarse, (40, 100, 101), (41, 300, 303)) == ((40, 50, 50),
                                                                     (41, 150, 152))
    assert list(chunks_of(coarse, (40, 50, 50), (41, 150, 152))) == [
        (40, y, x) for y in range(3) for x in range(3)]


class _Asked(ChunkLoader):
    """A loader that only records what it is asked for (pure prediction logic)."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.asked: list[Any] = []

    def request(self, key: Any, *args: Any, **kwargs: Any) -> None:
        self.asked.append(key)


def test_prefetch_asks_the_coarsest_level_ahead_too() -> None:
    """A picture waits for the coarsest level (nothing stands in for it), so the planes
    ahead have it asked for, besides the levels just above the one read."""
    levels = [ChunkedArray((64, 2048 >> n, 2048 >> n), np.uint16, (1, 256, 256),
                           lambda i: np.zeros((1, 256, 256), np.uint16), key=("p", n),
                           cache=ChunkCache(1 << 20)) for n in range(6)]
    link_levels(levels)
    asked = _Asked()
    try:
        stage = ChunkLoading(asked, lambda _session: None)
        context = ReadContext(asked, "session", stamp=1)
        context.reads[levels[0]] = [((10, 0, 0), (11, 512, 512))]
        stage._prefetch("session", context)  # type: ignore[arg-type]
    finally:
        asked.close()
    planes = {n: {key[1][0] for key in asked.asked if key[0] == ("p", n)} for n in range(6)}
    assert planes[5] >= {9, 11}  # the coarsest, both ways (no direction yet)
    assert planes[1] and planes[2] and not planes[3] and not planes[4]
