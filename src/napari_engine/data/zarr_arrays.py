"""A zarr array (OME-Zarr level, TIFF through tifffile's zarr store) as a ``ChunkedArray``.

Why not dask: a dask array over zarr builds a graph of about 830 bytes per chunk at open
(a petabyte's metadata exhausts memory), and dask has no way to read without waiting.
A ``ChunkedArray`` reads a unit of chunks when asked, through the shared cache and, for a
draw, the loader (``data.loader``).
"""

from __future__ import annotations

import itertools
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


def chunked_zarr(array: Any) -> ChunkedArray:
    """``array`` (a ``zarr.Array``) read lazily, a unit of chunks at a time."""
    dtype = np.dtype(array.dtype)
    shape = tuple(int(s) for s in array.shape)
    shards = getattr(array, "shards", None)
    unit = read_unit(tuple(int(c) for c in array.chunks),
                     tuple(int(s) for s in shards) if shards is not None else None, shape)

    def compute(index: tuple[int, ...]) -> np.ndarray:
        box = tuple(slice(i * u, min((i + 1) * u, s))
                    for i, u, s in zip(index, unit, shape, strict=True))
        return np.asarray(array[box]).astype(dtype, copy=False)

    return ChunkedArray(shape, dtype, unit, compute, ("zarr", next(_opened)),
                        source=("zarr", str(array.store)))
