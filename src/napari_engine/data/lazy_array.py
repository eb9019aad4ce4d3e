"""A minimal lazy, chunked, read-only array computed on demand.

Why not dask: the sample's finest level has millions of chunks per plane, and building a dask
graph over them takes far longer than computing the few chunks a view needs. This class only
does what napari needs from an array: ``shape``/``dtype``/``ndim``/``size``/``len``, basic
indexing (ints, slices, Ellipsis) and ``__array__`` for small arrays.

Indexing returns a numpy array when the selection is small, and a lazy ``LazySelection``
when it is not, as dask does: napari's multiscale slicing first takes every plane of the
visible tile (``data[:, y0:y1, x0:x1]``) and only then picks the plane it shows, which
must not compute 16384 planes.
Chunks come from a caller-supplied function and are kept in a shared, bounded
:class:`~napari_engine.data.cache.ChunkCache`.

Inside a reading context (``data.loader.reading``: napari slicing for a session's draw)
a read never waits: a chunk not cached yet is asked of the loader, and its region stands
in from the next coarser level of the pyramid (``link_levels``), or that level's coarser
one, down to the coarsest (zeros where even that is still loading). Outside one, reads
compute what they need and wait.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from napari_engine.data import cluster, loader
from napari_engine.data.cache import ChunkCache, default_cache

ChunkFunction = Callable[[tuple[int, ...]], np.ndarray]
"""Computes the chunk with the given chunk-grid index (edge chunks are clipped to the shape)."""

MAX_MATERIALIZE_BYTES = 1 << 30
"""Refuse to build a numpy array larger than this: a request that big is a bug, not a view."""

LAZY_SELECTION_BYTES = 4 << 20
"""Selections larger than this stay lazy until indexed further or turned into an array."""


def _normalize_key(key: Any, shape: tuple[int, ...]) -> list[int | slice]:
    """Turn an index into one int-or-slice per axis (Ellipsis expanded, missing axes filled)."""
    items = list(key) if isinstance(key, tuple) else [key]
    n_ellipsis = sum(item is Ellipsis for item in items)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_ellipsis:
        at = next(i for i, item in enumerate(items) if item is Ellipsis)
        fill = len(shape) - (len(items) - 1)
        items[at : at + 1] = [slice(None)] * max(fill, 0)
    if len(items) > len(shape):
        raise IndexError(f"too many indices: array is {len(shape)}-dimensional")
    items += [slice(None)] * (len(shape) - len(items))
    out: list[int | slice] = []
    for axis, (item, size) in enumerate(zip(items, shape, strict=True)):
        if isinstance(item, slice):
            out.append(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            index = int(item)
            if not -size <= index < size:
                raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
            out.append(index % size)
        else:
            raise TypeError(f"unsupported index {item!r}: only ints, slices and '...' are allowed")
    return out


class ChunkedArray:
    """A read-only N-d array whose chunks are computed by ``compute_chunk`` and cached.

    ``key`` identifies this array within the shared cache (two arrays with equal keys must
    produce equal chunks).
    """

    def __init__(
        self,
        shape: Sequence[int],
        dtype: np.dtype[Any] | type,
        chunks: Sequence[int],
        compute_chunk: ChunkFunction,
        key: Hashable,
        cache: ChunkCache | None = None,
        source: Hashable = None,
        concurrency: int | None = None,
    ) -> None:
        if len(shape) != len(chunks):
            raise ValueError("shape and chunks must have the same length")
        self._shape = tuple(int(s) for s in shape)
        self._dtype = np.dtype(dtype)
        self._chunks = tuple(int(c) for c in chunks)
        self._compute_chunk = compute_chunk
        self._key = key
        self._cache = cache if cache is not None else default_cache()
        #: where the chunks come from (a store): the loader shares its workers fairly
        #: among sources
        self.source = source if source is not None else key
        #: the most chunks of its source computed at once (None: as the loader shares;
        #: a computed source: the machine's cores)
        self.concurrency = concurrency
        #: the next coarser level of its pyramid (``link_levels``), and its own level
        self.coarser: ChunkedArray | None = None
        self.level = 0
        #: where the file puts this level beyond where napari draws it (napari centres a
        #: level's voxel on the finest voxels it covers), in finest-level voxels per
        #: axis; None: where napari draws it (``level_offsets``)
        self.offset: tuple[float, ...] | None = None
        #: the pyramid it is a level of (its finest level's key): what the loader's
        #: requests are grouped by, per layer
        self.pyramid: Hashable = key

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return int(np.prod(self._shape, dtype=object))

    @property
    def nbytes(self) -> int:
        return self.size * self._dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape (one chunk's extent per axis)."""
        return self._chunks

    @property
    def cache(self) -> ChunkCache:
        return self._cache

    def chunk_key(self, index: tuple[int, ...]) -> Hashable:
        """The cache's key of chunk ``index``."""
        return (self._key, index)

    def ask(self, index: tuple[int, ...], context: loader.ReadContext, tier: int,
            rank: int) -> bool:
        """Ask the loader for chunk ``index`` unless it is cached or failed lately
        (prefetch); whether it asked."""
        cache_key = self.chunk_key(index)
        if cache_key in self._cache or context.loader.error_of(cache_key) is not None:
            return False
        self._request(index, context, tier, rank)
        return True

    def loaded_or_asked(self, context: loader.ReadContext, tier: int) -> bool:
        """Whether every chunk of the array is cached; those that are not are asked for
        (a level napari is about to draw whole: 3D)."""
        ready = True
        grid = [range(-(-n // c)) for n, c in zip(self._shape, self._chunks, strict=True)]
        for index in itertools.product(*grid):
            if self.chunk_key(index) not in self._cache:
                ready = False
                self.ask(index, context, tier, -self.level)
        return ready

    def _request(self, index: tuple[int, ...], context: loader.ReadContext, tier: int,
                 rank: int) -> None:
        context.loader.request(
            self.chunk_key(index), self.source,
            functools.partial(cluster.compute, self._compute_chunk, index),
            lambda computed: self._keep(index, computed), context.requester, context.stamp,
            tier, rank, group=self.pyramid, limit=self._limit())

    def _limit(self) -> int | None:
        """The most of its chunks loaded at once: a computed source's cores, or on a
        cluster twice the cluster's threads (one computing, one on its way)."""
        on = cluster.active()
        return self.concurrency if on is None else 2 * on.threads

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(shape={self._shape}, dtype={self._dtype}, chunks={self._chunks})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self.read(_normalize_key(..., self._shape))
        return out if dtype is None else out.astype(dtype, copy=False)

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError("this layer's data is read from its source as it is shown and "
                        "cannot be changed (napari paints arrays held in memory)")

    def __getitem__(self, key: Any) -> np.ndarray | LazySelection:
        items = _normalize_key(key, self._shape)
        sizes = [len(range(*item.indices(n))) for item, n in zip(items, self._shape, strict=True)
                 if isinstance(item, slice)]
        if int(np.prod(sizes, dtype=np.int64)) * self._dtype.itemsize > LAZY_SELECTION_BYTES:
            return LazySelection(self, [item if isinstance(item, int)
                                        else range(*item.indices(n))
                                        for item, n in zip(items, self._shape, strict=True)])
        return self.read(items)

    def read(self, items: list[int | slice]) -> np.ndarray:
        """Compute the selection ``items`` (one int or slice per axis) as a numpy array."""
        lo: list[int] = []
        hi: list[int] = []
        local: list[int | slice] = []
        for item, size in zip(items, self._shape, strict=True):
            if isinstance(item, int):
                lo.append(item)
                hi.append(item + 1)
                local.append(0)
                continue
            positions = range(*item.indices(size))
            if len(positions) == 0:
                lo.append(0)
                hi.append(0)
                local.append(slice(0, 0))
                continue
            first, last = min(positions[0], positions[-1]), max(positions[0], positions[-1])
            lo.append(first)
            hi.append(last + 1)
            step = positions.step
            start = positions[0] - first
            stop: int | None = positions[-1] - first + (1 if step > 0 else -1)
            if stop is not None and stop < 0:
                stop = None
            local.append(slice(start, stop, step))
        block = self.read_box(lo, hi)
        return block[tuple(local)]

    def read_box(self, lo: list[int], hi: list[int], direct: bool = True) -> np.ndarray:
        """The dense box ``[lo, hi)`` assembled from (cached or computed) chunks; in a
        reading context, from what is cached, coarser levels standing in for the rest
        (``direct``: napari asked for this box, not a finer level's stand-in)."""
        box = tuple(h - low for low, h in zip(lo, hi, strict=True))
        nbytes = int(np.prod(box, dtype=np.int64)) * self._dtype.itemsize
        if nbytes > MAX_MATERIALIZE_BYTES:
            raise MemoryError(
                f"refusing to materialize {nbytes / 2**30:.1f} GiB from a lazy array of shape "
                f"{self._shape}; index a smaller region"
            )
        context = loader.current()
        out = np.empty(box, dtype=self._dtype) if context is None else np.zeros(box, self._dtype)
        if 0 in box:
            return out
        if context is not None and direct:
            if self.pyramid not in context.seen:  # errors of its last slice are history
                context.seen.add(self.pyramid)
                context.errors.pop(self.pyramid, None)
            context.reads.setdefault(self, []).append((tuple(lo), tuple(hi)))
        ranges = [range(low // c, (h - 1) // c + 1)
                  for low, h, c in zip(lo, hi, self._chunks, strict=True)]
        missing: list[tuple[slice, ...]] = []
        for index in itertools.product(*ranges):
            src: list[slice] = []
            dst: list[slice] = []
            for i, low, h, c in zip(index, lo, hi, self._chunks, strict=True):
                start = i * c
                a, b = max(low, start), min(h, start + c)
                src.append(slice(a - start, b - start))
                dst.append(slice(a - low, b - low))
            if context is None:
                out[tuple(dst)] = self._chunk(index)[tuple(src)]
                continue
            chunk = self._cached_or_asked(index, context, direct)
            if chunk is not None:
                out[tuple(dst)] = chunk[tuple(src)]
            else:
                missing.append(tuple(dst))
        if missing and self.coarser is not None:
            self._stand_in_for(out, lo, missing)
        return out

    def _stand_in_for(self, out: np.ndarray, lo: list[int],
                      missing: list[tuple[slice, ...]]) -> None:
        """Fill the ``missing`` boxes of ``out`` (which starts at ``lo``) from one
        stand-in for the box around them all."""
        first = [min(d[axis].start for d in missing) for axis in range(self.ndim)]
        last = [max(d[axis].stop for d in missing) for axis in range(self.ndim)]
        block = self._stand_in([a + low for a, low in zip(first, lo, strict=True)],
                               [b + low for b, low in zip(last, lo, strict=True)])
        for box in missing:
            out[box] = block[tuple(slice(d.start - a, d.stop - a)
                                   for d, a in zip(box, first, strict=True))]

    def _chunk(self, index: tuple[int, ...]) -> np.ndarray:
        """One chunk from the cache, computing (and caching) it on a miss."""
        chunk = self._cache.get(self.chunk_key(index))
        if chunk is None:
            chunk = cluster.compute(self._compute_chunk, index)
            self._keep(index, chunk)
        return chunk

    def _keep(self, index: tuple[int, ...], chunk: np.ndarray) -> None:
        """Check a computed chunk and cache it."""
        expected = tuple(
            min(c, s - i * c) for i, c, s in zip(index, self._chunks, self._shape, strict=True)
        )
        if chunk.shape != expected or chunk.dtype != self._dtype:
            raise ValueError(
                f"chunk {index} has shape {chunk.shape} {chunk.dtype}, expected {expected} "
                f"{self._dtype}"
            )
        self._cache.put(self.chunk_key(index), chunk)

    def _cached_or_asked(self, index: tuple[int, ...], context: loader.ReadContext,
                         direct: bool) -> np.ndarray | None:
        """The chunk if cached; else None, and the loader is asked for it (coarse
        levels first: they stand in for finer ones; the coarsest at once, since
        nothing stands in for it)."""
        cache_key = self.chunk_key(index)
        chunk = self._cache.get(cache_key)
        if direct:  # the hit rate counts what napari asked for
            if chunk is None:
                context.loader.stats.misses += 1
            else:
                context.loader.stats.hits += 1
        if chunk is not None:
            return chunk
        error = context.loader.error_of(cache_key)
        if error is not None:
            context.errors[self.pyramid] = error
            return None
        context.asked += 1
        self._request(index, context, loader.COARSE if self.coarser is None
                      else loader.VISIBLE, -self.level)
        return None

    def _stand_in(self, lo: list[int], hi: list[int]) -> np.ndarray:
        """The box ``[lo, hi)`` of this level from the coarser one, each voxel the
        coarser voxel it lies in (nearest)."""
        coarser = self.coarser
        assert coarser is not None
        positions = [_nearest(a, b, fine, coarse)
                     for a, b, fine, coarse in zip(lo, hi, self._shape, coarser.shape,
                                                   strict=True)]
        c_lo = [int(p[0]) for p in positions]
        c_hi = [int(p[-1]) + 1 for p in positions]
        block = coarser.read_box(c_lo, c_hi, direct=False)
        for axis, (p, first) in enumerate(zip(positions, c_lo, strict=True)):
            if len(p) != block.shape[axis] or p[-1] - p[0] + 1 != len(p):
                block = np.take(block, p - first, axis=axis)  # stretched along it
        return block

    def take(self, axis: int, index: int) -> ChunkedArray:
        """The array at ``index`` along ``axis`` (an OME-Zarr's channel), that axis
        gone: lazy too, its chunks computed from this array's."""
        if not 0 <= index < self._shape[axis]:
            raise IndexError(f"index {index} is out of bounds for axis {axis}")
        step = self._chunks[axis]
        parent = self._compute_chunk  # not self: the function alone goes to a cluster

        def compute(chunk: tuple[int, ...]) -> np.ndarray:
            whole = parent((*chunk[:axis], index // step, *chunk[axis:]))
            return np.take(whole, index % step, axis=axis)

        def drop(values: tuple[int, ...]) -> tuple[int, ...]:
            return values[:axis] + values[axis + 1:]

        taken = ChunkedArray(drop(self._shape), self._dtype, drop(self._chunks), compute,
                             (self._key, "take", axis, index), self._cache, self.source,
                             self.concurrency)
        if self.offset is not None:
            taken.offset = self.offset[:axis] + self.offset[axis + 1:]
        return taken


class LazySelection:
    """A not-yet-computed selection of a ``ChunkedArray``: one int or range per base axis.

    Indexing it composes with the selection and goes back to the base array, so
    ``level[:, y0:y1, x0:x1][z]`` computes only plane ``z`` of the tile.
    """

    def __init__(self, base: ChunkedArray, selection: list[int | range]) -> None:
        self._base = base
        self._selection = selection
        self._axes = [i for i, item in enumerate(selection) if isinstance(item, range)]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self._selection[i]) for i in self._axes)  # type: ignore[arg-type]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._base.dtype

    @property
    def ndim(self) -> int:
        return len(self._axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=object))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazySelection(shape={self.shape}, dtype={self.dtype}, of {self._base!r})"

    def _base_key(self, key: Any) -> tuple[int | slice, ...]:
        items = _normalize_key(key, self.shape)
        composed: list[int | range] = list(self._selection)
        for axis, item in zip(self._axes, items, strict=True):
            current = composed[axis]
            assert isinstance(current, range)
            composed[axis] = current[item]
        return tuple(_as_slice(item) for item in composed)

    def __getitem__(self, key: Any) -> np.ndarray | LazySelection:
        return self._base[self._base_key(key)]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self._base.read(list(self._base_key(...)))
        return out if dtype is None else out.astype(dtype, copy=False)


@functools.lru_cache(maxsize=4096)
def _nearest(a: int, b: int, fine: int, coarse: int) -> np.ndarray:
    """For positions ``a`` to ``b`` of an axis of ``fine`` voxels, the voxel of an axis
    of ``coarse`` voxels each lies in (cached: a scroll asks for the same again)."""
    positions = np.minimum(((np.arange(a, b) + 0.5) * (coarse / fine)).astype(np.int64),
                           coarse - 1)
    positions.setflags(write=False)
    return positions


def level_offsets(shapes: Sequence[Sequence[int]], scales: Sequence[Sequence[float]],
                  translations: Sequence[Sequence[float]]) -> list[tuple[float, ...] | None]:
    """Each level's ``offset``: how far (in finest-level voxels) the file places it from
    where napari draws it. napari draws voxel ``j`` of a level ``f`` times coarser at
    finest voxel ``f * j + (f - 1) / 2`` (the centre of the block it averages); a file
    says ``(t_k - t_0) / s_0 + f * j`` (its translation ``t_k``; ``s_0`` the finest
    level's scale). Block averages written with their translations (ngff-zarr) are where
    napari draws them (None); a strided level (every other voxel, ome-zarr-py's
    "nearest") written without translations sits ``(f - 1) / 2`` voxels earlier."""
    out: list[tuple[float, ...] | None] = []
    for shape, translate in zip(shapes, translations, strict=True):
        offset = tuple(
            (t - t0) / s0 - (n0 / n - 1) / 2 if s0 and n else 0.0
            for t, t0, s0, n, n0 in zip(translate, translations[0], scales[0], shape,
                                        shapes[0], strict=True))
        out.append(offset if any(abs(v) > 1e-6 for v in offset) else None)
    return out


def link_levels(levels: Sequence[Any]) -> None:
    """Tell each ``ChunkedArray`` level of a pyramid (finest first) its coarser
    neighbour, which stands in for its chunks while they load."""
    finest = levels[0] if levels else None
    for number, (fine, coarse) in enumerate(itertools.zip_longest(levels, levels[1:])):
        if isinstance(fine, ChunkedArray) and isinstance(finest, ChunkedArray):
            fine.level = number
            fine.coarser = coarse if isinstance(coarse, ChunkedArray) else None
            fine.pyramid = finest.pyramid


def _as_slice(item: int | range) -> int | slice:
    if isinstance(item, int):
        return item
    stop: int | None = item.stop
    if item.step < 0 and item.stop < 0:
        stop = None  # a negative stop would count from the end
    return slice(item.start, stop, item.step)
