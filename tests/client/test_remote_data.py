"""``RemoteArray``'s logic over an in-memory "server" (the real server: test_proxy)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from napari_engine.client.remote_data import RemoteArray
from napari_engine.protocol.regions import Region, region_slices


class Store:
    """What a server would do with reads and writes, and what crossed."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.reads: list[Region] = []
        self.writes: list[Region] = []

    def read(self, level: int, region: Region) -> np.ndarray:
        assert level == 0
        self.reads.append(region)
        return self.data[region_slices(region, self.data.shape, self.data.itemsize)].copy()

    def write(self, region: Region, values: np.ndarray) -> None:
        self.writes.append(region)
        assert values.dtype == self.data.dtype
        self.data[region_slices(region, self.data.shape, self.data.itemsize)] = values


def _remote(data: np.ndarray, writable: bool = True) -> tuple[RemoteArray, Store]:
    store = Store(data)
    return RemoteArray(data.shape, data.dtype, store.read,
                       write=store.write if writable else None, name="cells"), store


def test_a_read_fetches_only_its_region() -> None:
    data = np.arange(10 * 20 * 30, dtype=np.uint16).reshape(10, 20, 30)
    remote, store = _remote(data)
    assert (remote.shape, remote.dtype, remote.ndim, len(remote)) == (
        data.shape, data.dtype, 3, 10)
    np.testing.assert_array_equal(remote[3, 5:9, ::-4], data[3, 5:9, ::-4])
    assert store.reads == [[(3, 4, 1), (5, 9, 1), (1, 30, 4)]]
    assert remote[2, 3, 4] == data[2, 3, 4]
    np.testing.assert_array_equal(remote[data > 5990], data[data > 5990])  # whole read
    np.testing.assert_array_equal(np.asarray(remote, dtype=float), data.astype(float))
    assert np.array_equal(remote, data) and (data == remote).all()
    reads = len(store.reads)
    assert remote[5:5].shape == (0, 20, 30) and len(store.reads) == reads  # empty: no read


def test_a_read_over_the_cap_says_to_read_in_parts() -> None:
    read_calls: list[Any] = []
    huge = RemoteArray((10**6, 10**6), np.uint16, lambda *a: read_calls.append(a), name="x")
    with pytest.raises(MemoryError, match="index a region"):
        np.asarray(huge)
    assert read_calls == []


def test_writes_send_a_box_or_the_box_of_what_changed() -> None:
    data = np.zeros((4, 50, 60), np.uint8)
    remote, store = _remote(data)
    remote[1, 10:20, 5:8] = 3
    assert store.writes == [[(1, 2, 1), (10, 20, 1), (5, 8, 1)]]
    mask = np.zeros(data.shape, bool)
    mask[2, 40:42, 30] = mask[2, 41, 33] = True
    remote[mask] = 9
    assert store.writes[-1] == [(2, 3, 1), (40, 42, 1), (30, 34, 1)]
    expected = np.zeros_like(data)
    expected[1, 10:20, 5:8] = 3
    expected[mask] = 9
    np.testing.assert_array_equal(data, expected)
    remote[::2, 0, 0] = 1  # a stepped box: the whole read, then what changed
    assert data[0, 0, 0] == data[2, 0, 0] == 1 and data[1, 0, 0] == 0


def test_an_image_is_read_only_with_a_clear_error() -> None:
    remote, store = _remote(np.zeros((4, 4), np.uint8), writable=False)
    with pytest.raises(TypeError, match="read-only"):
        remote[0, 0] = 1
    assert store.writes == []
