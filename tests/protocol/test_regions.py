"""Regions of a layer's data: numpy's basic indexing as the box to fetch and the
indexing after, checked against numpy itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from napari_engine.protocol import ProtocolError
from napari_engine.protocol.regions import (
    MAX_REGION_BYTES,
    bounding_region,
    plan_read,
    region_slices,
    validate_region,
)

ARRAY = np.arange(4 * 5 * 6).reshape(4, 5, 6)

KEYS: list[Any] = [
    0, -1, (1, 2), (1, 2, 3), (-4, -5, -6), slice(None), (slice(1, 3), 4),
    (Ellipsis, 2), (2, Ellipsis), (None, 1), (1, None, slice(2, 5)),
    (slice(None, None, -1),), (slice(3, 0, -2), slice(None), slice(5, None, -3)),
    (slice(10, 20),), (slice(2, 2), 0), (Ellipsis,), (0, Ellipsis, None),
    (slice(-100, 100, 4), slice(1, None, 2), -2),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_a_basic_index_reads_its_box_and_gives_what_numpy_gives(key: Any) -> None:
    plan = plan_read(key, ARRAY.shape)
    assert plan is not None
    box = ARRAY[region_slices(plan.region, ARRAY.shape, ARRAY.itemsize)]
    assert box.size <= ARRAY.size
    np.testing.assert_array_equal(box[plan.after], ARRAY[key])
    assert all(step >= 1 and start <= stop for start, stop, step in plan.region)


@pytest.mark.parametrize("key", [[0, 2], np.array([1, 3]), ARRAY > 5, (slice(None), [1])],
                         ids=["list", "array", "mask", "mixed"])
def test_advanced_indexing_is_left_to_a_whole_read(key: Any) -> None:
    assert plan_read(key, ARRAY.shape) is None


@pytest.mark.parametrize("key", [4, (0, 5), (0, 0, -7), (0, 0, 0, 0), (Ellipsis, Ellipsis)])
def test_out_of_range_indices_are_numpys_index_errors(key: Any) -> None:
    with pytest.raises(IndexError):
        ARRAY[key]
    with pytest.raises(IndexError):
        plan_read(key, ARRAY.shape)


def test_the_server_checks_a_region_against_the_data_and_the_cap() -> None:
    with pytest.raises(ValueError, match="ends at 7"):
        region_slices([(0, 1, 1), (0, 7, 1), (0, 6, 1)], ARRAY.shape, 8)
    with pytest.raises(ValueError, match="axes"):
        region_slices([(0, 1, 1)], ARRAY.shape, 8)
    side = int((MAX_REGION_BYTES // 2) ** 0.5) + 1  # just over the cap in uint16
    with pytest.raises(ValueError, match="read it in parts"):
        region_slices([(0, side, 1), (0, side, 1)], (side, side), 2)


@pytest.mark.parametrize("region", [[], [[0, 1]], [[2, 1, 1]], [[0, 1, 0]], [["a", 1, 1]],
                                    [[0, 1, 1]] * 33, "x"])
def test_malformed_regions_are_protocol_errors(region: Any) -> None:
    with pytest.raises(ProtocolError):
        validate_region(region, "layer.read")


def test_a_written_region_takes_unit_steps() -> None:
    with pytest.raises(ProtocolError, match="steps of 1"):
        validate_region([[0, 4, 2]], "layer.write", unit_steps=True)


def test_the_bounding_region_of_a_change() -> None:
    changed = np.zeros((4, 5, 6), bool)
    assert bounding_region(changed) is None
    changed[1, 2, 3] = changed[2, 4, 1] = True
    assert bounding_region(changed) == [(1, 3, 1), (2, 5, 1), (1, 4, 1)]
