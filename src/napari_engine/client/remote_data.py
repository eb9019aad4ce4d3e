"""``layer.data`` of a layer whose voxels are on the server: arrays that fetch on demand.

A script (or a plugin) that reads ``layer.data[10, 200:400, 300:500]`` gets exactly what
napari would return on local data, but only that region crosses the network
(``layer.read``); ``np.asarray(layer.data)`` reads the whole array when it is under the
region cap (``protocol.regions.MAX_REGION_BYTES``) and says to read in parts when it is
not. A labels layer's data can be written (``labels.data[...] = values``,
``layer.write``): the server changes, journals and redraws it. Nothing is cached: the
server's data changes (another client paints), and a read shows it as it is.

Multiscale data is napari's ``MultiScaleData`` over one ``RemoteArray`` a level.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from napari_engine.protocol.regions import (
    MAX_REGION_BYTES,
    Region,
    bounding_region,
    plan_read,
    region_shape,
    whole,
)

#: (level, region) -> the voxels, as the server sent them
Read = Callable[[int, Region], np.ndarray]
#: (region, values): a box of a labels layer replaced on the server
Write = Callable[[Region, np.ndarray], None]


def _check_advanced(key: Any, shape: tuple[int, ...]) -> None:
    """numpy's ``IndexError`` for an index it refuses, before anything is read (a float,
    a boolean mask of another shape)."""
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, float | np.floating):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                             "(`None`) and integer or boolean arrays are valid indices")
    if isinstance(key, np.ndarray) and key.dtype == bool and key.shape != shape[:key.ndim]:
        raise IndexError(f"boolean index did not match the data: shape {key.shape}, data "
                         f"{shape}")


class RemoteArray(np.lib.mixins.NDArrayOperatorsMixin):
    """One level of a layer's data on the server, as a read-mostly numpy-like array
    (numpy's ufuncs and operators read it whole, as ``np.asarray`` does)."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, read: Read, *, level: int = 0,
                 write: Write | None = None, name: str = "") -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.level = level
        self._read = read
        self._write = write
        self._name = name

    # -- what napari and numpy ask of an array -----------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self[index]

    def __repr__(self) -> str:
        return (f"<RemoteArray {self._name!r} level {self.level}: shape {self.shape}, "
                f"{self.dtype}, on the server>")

    def __getitem__(self, key: Any) -> Any:
        plan = plan_read(key, self.shape)
        if plan is None:  # advanced indexing: on the whole array (capped)
            _check_advanced(key, self.shape)
            return self._fetch(whole(self.shape))[key]
        box = (np.zeros(region_shape(plan.region), self.dtype) if plan.empty
               else self._fetch(plan.region))
        return box[plan.after]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self._fetch(whole(self.shape))
        return values if dtype is None else values.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        arrays = tuple(np.asarray(x) if isinstance(x, RemoteArray) else x for x in inputs)
        return getattr(ufunc, method)(*arrays, **kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        """numpy's assignment, done on the server: a box (basic indexing) is sent as it
        will be; anything else (a mask, index arrays) is applied to a whole read, and
        the box of what changed is sent back."""
        if self._write is None:
            raise TypeError(f"{self._name!r}: an image's data on a napari-engine server "
                            "is read-only; labels layers' data can be written")
        plan = plan_read(key, self.shape)
        if plan is not None and all(step == 1 for _start, _stop, step in plan.region):
            if plan.empty:
                return
            box = np.empty(region_shape(plan.region), self.dtype)
            box[plan.after] = value  # numpy's broadcasting and casting rules
            self._write(plan.region, box)
            return
        before = self._fetch(whole(self.shape))
        after = before.copy()
        after[key] = value
        changed = bounding_region(after != before)
        if changed is not None:
            self._write(changed, after[tuple(slice(a, b) for a, b, _ in changed)])

    def _fetch(self, region: Region) -> np.ndarray:
        nbytes = math.prod(region_shape(region)) * self.dtype.itemsize
        if nbytes > MAX_REGION_BYTES:
            raise MemoryError(
                f"{self._name!r}: {nbytes / 2**20:.1f} MiB asked of the server at once; "
                f"at most {MAX_REGION_BYTES >> 20} MiB travel in one read: index a "
                f"region (layer.data[..., y0:y1, x0:x1]) instead")
        return self._read(self.level, region)
