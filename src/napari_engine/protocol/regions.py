"""Regions of a layer's data: what ``layer.read`` fetches and ``layer.write`` replaces.

A region is one ``[start, stop, step]`` per axis of the array, ascending, as the wire
carries it. A client turns numpy's basic indexing (integers, slices with any step,
``...``, ``None``) into the region to fetch and the indexing that makes the fetched box
into what numpy would have returned (``plan_read``); the server checks a region against
the array's real shape and the byte cap before it reads a voxel (``region_slices``).
Pure: no I/O.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_engine.protocol import validate as v

#: The most bytes one ``layer.read`` or ``layer.write`` moves: a 4096 x 4096 plane of
#: 32-bit values. Scripts that want more read it in regions (as from any chunked store).
MAX_REGION_BYTES = 64 << 20

Region = list[tuple[int, int, int]]


def validate_region(value: Any, op: str, *, unit_steps: bool = False) -> Region:
    """The wire's region, checked for form only (the array's shape is the server's)."""
    if not isinstance(value, list) or not 1 <= len(value) <= v.MAX_NDIM:
        raise v.fail(f"{op}: 'region' must be a list of 1 to {v.MAX_NDIM} [start, stop, "
                     "step] triples")
    region: Region = []
    for axis in value:
        if not isinstance(axis, list) or len(axis) != 3:
            raise v.fail(f"{op}: each axis of 'region' is [start, stop, step]")
        start = v.integer(axis[0], "region start")
        stop = v.integer(axis[1], "region stop")
        step = v.integer(axis[2], "region step", lo=1)
        if stop < start:
            raise v.fail(f"{op}: a region's stop comes after its start ({start} > {stop})")
        if unit_steps and step != 1:
            raise v.fail(f"{op}: a region written takes steps of 1")
        region.append((start, stop, step))
    return region


def region_shape(region: Region) -> tuple[int, ...]:
    return tuple(len(range(start, stop, step)) for start, stop, step in region)


def region_slices(region: Region, shape: Sequence[int], itemsize: int) -> tuple[slice, ...]:
    """``region`` as slices of an array of ``shape``; ``ValueError`` (said plainly) when
    it does not fit the array or moves more than ``MAX_REGION_BYTES``."""
    if len(region) != len(shape):
        raise ValueError(f"the region has {len(region)} axes, the data {len(shape)}")
    for axis, ((_start, stop, _step), size) in enumerate(zip(region, shape, strict=True)):
        if stop > size:
            raise ValueError(f"axis {axis}: the region ends at {stop}, the data at {size}")
    nbytes = math.prod(region_shape(region)) * itemsize
    if nbytes > MAX_REGION_BYTES:
        raise ValueError(f"the region is {nbytes / 2**20:.1f} MiB; at most "
                         f"{MAX_REGION_BYTES >> 20} MiB travel at once: read it in parts")
    return tuple(slice(start, stop, step) for start, stop, step in region)


@dataclass(frozen=True)
class ReadPlan:
    """What to fetch for a numpy index, and how to index the fetched box afterwards
    (drop the axes of integer indices, reverse negative steps, add ``None`` axes)."""

    region: Region
    after: tuple[Any, ...]

    @property
    def empty(self) -> bool:
        return any(stop == start for start, stop, _ in self.region)


def _is_index(key: Any) -> bool:
    return isinstance(key, numbers.Integral) and not isinstance(key, bool)


def plan_read(key: Any, shape: Sequence[int]) -> ReadPlan | None:
    """The region behind numpy's basic index ``key`` into an array of ``shape``; None for
    advanced indexing (arrays, lists, masks), which the caller does on a whole read.
    Out-of-range integers raise ``IndexError`` as numpy's do."""
    keys = key if isinstance(key, tuple) else (key,)
    if any(not (_is_index(k) or isinstance(k, slice) or k is None or k is Ellipsis)
           for k in keys):
        return None
    region: Region = []
    after: list[Any] = []
    for k in _expand(keys, len(shape)):
        if k is None:
            after.append(None)
            continue
        axis = len(region)
        box, index = _axis_plan(k, int(shape[axis]), axis)
        region.append(box)
        after.append(index)
    return ReadPlan(region, tuple(after))


def _expand(keys: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    """``keys`` with ``...`` (or the missing trailing axes) as whole slices."""
    if sum(k is Ellipsis for k in keys) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    real = sum(k is not None and k is not Ellipsis for k in keys)
    if real > ndim:
        raise IndexError(f"too many indices: the data has {ndim} dimensions, "
                         f"{real} were indexed")
    fill = (slice(None),) * (ndim - real)
    if Ellipsis in keys:
        at = keys.index(Ellipsis)
        return (*keys[:at], *fill, *keys[at + 1:])
    return (*keys, *fill)


def _axis_plan(key: Any, size: int, axis: int) -> tuple[tuple[int, int, int], Any]:
    """One axis: the ascending range to fetch, and the index into what came."""
    if isinstance(key, slice):
        steps = range(*key.indices(size))
        if not steps:
            return (0, 0, 1), slice(None)
        if steps.step > 0:
            return (steps[0], steps[-1] + 1, steps.step), slice(None)
        return (steps[-1], steps[0] + 1, -steps.step), slice(None, None, -1)
    index = int(key) + size if int(key) < 0 else int(key)
    if not 0 <= index < size:
        raise IndexError(f"index {int(key)} is out of bounds for axis {axis} with size {size}")
    return (index, index + 1, 1), 0


def whole(shape: Sequence[int]) -> Region:
    return [(0, int(size), 1) for size in shape]


def bounding_region(changed: np.ndarray) -> Region | None:
    """The smallest region holding every True of a boolean array (None: none is)."""
    where = np.argwhere(changed)
    if not len(where):
        return None
    lo, hi = where.min(axis=0), where.max(axis=0) + 1
    return [(int(a), int(b), 1) for a, b in zip(lo, hi, strict=True)]
