"""A zarr array (OME-Zarr level, TIFF through tifffile's zarr store) as a ``ChunkedArray``.

Why not dask: a dask array over zarr builds a graph of about 830 bytes per chunk at open
(a petabyte's metadata exhausts memory), and dask has no way to read without waiting.
A ``ChunkedArray`` reads a unit of chunks when asked, through the shared cache and, for a
draw, the loader (``data.loader``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_engine.data.lazy_array import ChunkedArray

#: the smallest read along each of the last two axes, in voxels (tiny chunks, or a
#: sharded array's inner chunks, are read several at once, within one shard)
MIN_READ_YX = 256

_opened = itertools.count()


def read_unit(chunks: tuple[int, ...], shards: tuple[int, ...] | None,
              shape: tuple[int, ...]) -> tuple[int, ...]:
    """The box read at once: the chunk, grown along y and x to ``MIN_READ_YX`` voxels
    but never past its shard, nor the array."""
    unit = list(chunks)
    for axis in range(max(0, len(unit) - 2), len(unit)):
        grown = unit[axis] * max(1, -(-MIN_READ_YX // unit[axis]))
        unit[axis] = min(grown, shards[axis]) if shards is not None else grown
    return tuple(min(u, max(1, s)) for u, s in zip(unit, shape, strict=True))


class _Units:
    """Reads a unit of chunks of a zarr array (a ``ChunkedArray``'s chunk function).

    Sent to a Dask cluster (``data.cluster``) it carries the array (its store: a URL, a
    path), or, given ``reopen``, only that: an array over an open file (a TIFF) is opened
    again where it is read."""

    def __init__(self, array: Any, unit: tuple[int, ...],
                 reopen: Callable[[], Any] | None = None) -> None:
        self._array = array
        self.unit = unit
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.reopen = reopen

    def __call__(self, index: tuple[int, ...]) -> np.ndarray:
        if self._array is None:
            assert self.reopen is not None
            self._array = self.reopen()
        box = tuple(slice(i * u, min((i + 1) * u, s))
                    for i, u, s in zip(index, self.unit, self.shape, strict=True))
        return np.asarray(self._array[box]).astype(self.dtype, copy=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.reopen is not None:
            state["_array"] = None
        return state


def chunked_zarr(array: Any, reopen: Callable[[], Any] | None = None) -> ChunkedArray:
    """``array`` (a ``zarr.Array``) read lazily, a unit of chunks at a time; ``reopen()``
    opens the same array again (elsewhere: a cluster's worker), when ``array`` cannot
    travel."""
    shape = tuple(int(s) for s in array.shape)
    shards = getattr(array, "shards", None)
    unit = read_unit(tuple(int(c) for c in array.chunks),
                     tuple(int(s) for s in shards) if shards is not None else None, shape)
    return ChunkedArray(shape, array.dtype, unit, _Units(array, unit, reopen),
                        ("zarr", next(_opened)), source=("zarr", str(array.store)))
