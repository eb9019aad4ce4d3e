"""The data-loading stage beside the scheduler: a frame never waits for data.

Everything the engine thread does for a session runs inside ``serving(session)``: napari
slices in there read what is cached and ask the loader (``data.loader``) for the rest,
coarser levels standing in meanwhile. When a chunk the session waited to see arrives,
the stage submits ``DataReady`` (a wake-up); the engine thread takes what arrived
(``take_arrivals``), and the session slices again and draws what is there now.

What the scheduler asks of it:

- ``waiting(session)``: chunks nothing coarser stands in for are loading (a first look
  at an unseen place): drawing now would show black, so the session's pictures wait,
  for at most ``MAX_HOLD_S``; other sessions draw meanwhile;
- ``pending(session)``: chunks of the session's view are loading: its stills, its
  screenshots and a script's ``sync(loaded=True)`` wait; the layers waiting show
  napari's "loading" (``loading_groups``).

After each context, what navigation predicts is asked for at a lower priority: the
planes ahead of a z-scroll or a time-lapse (in the direction it goes), a band beside the
view on the side a pan goes (all around when the view stands still). Requests the
session's newer reads of the same data did not ask for again are cancelled.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from napari_engine.data.cache import default_cache
from napari_engine.data.lazy_array import ChunkedArray
from napari_engine.data.loader import (
    COARSE,
    PREFETCH,
    VISIBLE,
    Arrivals,
    ChunkLoader,
    ReadContext,
    reading,
)
from napari_engine.server.session import Session

#: how long a session's pictures wait for data nothing stands in for, at most
MAX_HOLD_S = 0.3
#: levels coarser than the one shown that are prefetched too (first: they stand in)
PREFETCH_COARSER = 2
#: planes (of a z-scroll or time-lapse) asked for ahead of the one shown
PREFETCH_PLANES = 8
#: chunks looked at for prefetch after one context, at most (the engine thread's time)
MAX_PREFETCH_CHUNKS = 192

Box = tuple[tuple[int, ...], tuple[int, ...]]


class LoadingStage(Protocol):
    """What the scheduler needs from a data-loading stage."""

    def serving(self, session: Session) -> AbstractContextManager[None]:
        """The block in which the engine thread works for ``session``."""
        ...

    def waiting(self, session: Session) -> bool:
        """Its pictures should not be drawn yet (data nothing stands in for)."""
        ...

    def pending(self, session: Session) -> bool:
        """Data its view shows is still loading."""
        ...

    def loading_groups(self, session: Session) -> set[Hashable]:
        """The pyramids (``ChunkedArray.pyramid``) whose visible chunks are loading."""
        ...

    def take_arrivals(self, session: Session) -> Arrivals | None:
        """What arrived for it since the last call (None: nothing)."""
        ...

    def forget(self, session: Session) -> None:
        """The session closed: drop its requests."""
        ...

    def stats_line(self) -> str | None:
        """How loading went so far, in a line for the log (None: nothing to tell)."""
        ...


class InlineLoading:
    """Reads wait inside napari's draw: nothing is ever pending (tests of the rest)."""

    def serving(self, session: Session) -> AbstractContextManager[None]:
        return nullcontext()

    def waiting(self, session: Session) -> bool:
        return False

    def pending(self, session: Session) -> bool:
        return False

    def loading_groups(self, session: Session) -> set[Hashable]:
        return set()

    def take_arrivals(self, session: Session) -> Arrivals | None:
        return None

    def forget(self, session: Session) -> None:
        return None

    def stats_line(self) -> str | None:
        return None


class ChunkLoading:
    """The stage over a ``ChunkLoader``; ``wake(session)`` runs on a loader thread when
    a chunk the session waits to see is there, or failed."""

    def __init__(self, loader: ChunkLoader, wake: Callable[[Session], None]) -> None:
        self.loader = loader
        loader.on_arrival(lambda requester: wake(requester)
                          if isinstance(requester, Session) else None)
        self._stamps = itertools.count(1)
        #: the boxes napari last read, per (session, array): where navigation goes
        self._last: dict[tuple[Session, ChunkedArray], Box] = {}
        #: since when each session's pictures wait (``waiting``)
        self._held_since: dict[Session, float] = {}

    @contextmanager
    def serving(self, session: Session) -> Iterator[None]:
        context = ReadContext(self.loader, session, next(self._stamps),
                              errors=session.data_errors)
        started = time.monotonic()
        with reading(context):
            yield
        if not context.reads:
            return
        shown = session.chunked_pyramids()
        if shown <= {array.pyramid for array in context.reads}:
            session.sliced_at = max(session.sliced_at, started)
        for key in [k for k in self._last if k[0] is session and k[1].pyramid not in shown]:
            del self._last[key]  # a layer removed, or hidden: its data is let go
        self._prefetch(session, context)
        # what the newest slices of each pyramid did not ask for again is not wanted
        # (clients with their own views read other places of the same data: kept)
        if not any(client.own_look is not None for client in session.clients.values()):
            self.loader.retire(session, context.stamp,
                               {array.pyramid for array in context.reads})

    def waiting(self, session: Session) -> bool:
        if not self.loader.waiting(session, tier=COARSE):
            self._held_since.pop(session, None)
            return False
        since = self._held_since.setdefault(session, time.monotonic())
        return time.monotonic() - since < MAX_HOLD_S

    def pending(self, session: Session) -> bool:
        return bool(self.loader.waiting(session, tier=VISIBLE))

    def loading_groups(self, session: Session) -> set[Hashable]:
        return self.loader.waiting(session, tier=VISIBLE)

    def take_arrivals(self, session: Session) -> Arrivals | None:
        return self.loader.take_arrivals(session)

    def forget(self, session: Session) -> None:
        self.loader.forget(session)
        self._held_since.pop(session, None)
        for key in [k for k in self._last if k[0] is session]:
            del self._last[key]

    def stats_line(self) -> str | None:
        stats = self.loader.stats
        if stats.hits + stats.misses + stats.loaded == 0:
            return None
        rate = stats.hit_rate
        cache = default_cache()
        return (f"chunks: hit rate {'-' if rate is None else f'{rate * 100:.1f}'}% "
                f"({stats.hits} of {stats.hits + stats.misses} visible), loaded "
                f"{stats.loaded} ({stats.loaded_bytes / 2**20:.0f} MiB; prefetched "
                f"{stats.prefetched}), cancelled {stats.cancelled}, failed {stats.failed}; "
                f"cache {cache.nbytes / 2**20:.0f} of {cache.max_bytes / 2**20:.0f} MiB")

    # -- prediction ---------------------------------------------------------------------
    def _prefetch(self, session: Session, context: ReadContext) -> None:
        """What comes next, for each array napari read: at the level it read, and
        before that at the next coarser ones, which stand in while it loads."""
        looked = 0
        for array, boxes in context.reads.items():
            lo = tuple(min(box[0][i] for box in boxes) for i in range(array.ndim))
            hi = tuple(max(box[1][i] for box in boxes) for i in range(array.ndim))
            before = self._last.get((session, array))
            self._last[(session, array)] = (lo, hi)
            boxes_ahead = predicted(array.shape, (lo, hi), before)
            levels = [array]
            while levels[-1].coarser is not None:
                levels.append(levels[-1].coarser)
            # the coarsest (what a picture waits for: nothing stands in for it) and
            # the few levels above the one read
            levels = [*levels[:PREFETCH_COARSER + 1], *levels[PREFETCH_COARSER + 1:][-1:]]
            for depth, level in enumerate(reversed(levels)):
                for distance, (p_lo, p_hi) in enumerate(boxes_ahead):
                    c_lo, c_hi = box_at(array, level, p_lo, p_hi)
                    for index in chunks_of(level, c_lo, c_hi):
                        if looked >= MAX_PREFETCH_CHUNKS:
                            return
                        looked += 1
                        level.ask(index, context, PREFETCH,
                                  depth * len(boxes_ahead) + distance)


def predicted(shape: tuple[int, ...], box: Box, before: Box | None) -> list[Box]:
    """Boxes worth loading before they are asked for, nearest first: along each axis
    napari shows one plane of (z, t), the planes ahead in the direction navigation goes
    (both ways when it stands still); along the axes it shows, a band a quarter of the
    box wide beside it on the side a pan goes (all around when it does not move)."""
    lo, hi = box
    out: list[Box] = []
    for axis, size in enumerate(shape):
        if hi[axis] - lo[axis] != 1 or size == 1:
            continue
        step = 0 if before is None else lo[axis] - before[0][axis]
        ahead = [1] if step > 0 else [-1] if step < 0 else [1, -1]
        for distance in range(1, PREFETCH_PLANES + 1):
            for sign in ahead:
                plane = lo[axis] + sign * distance
                if 0 <= plane < size:
                    out.append((_with(lo, axis, plane), _with(hi, axis, plane + 1)))
    shown = [axis for axis in range(len(shape)) if hi[axis] - lo[axis] > 1]
    moved = {axis: 0 if before is None else lo[axis] - before[0][axis] for axis in shown}
    panning = any(moved.values())
    for axis in shown:
        width, size = hi[axis] - lo[axis], shape[axis]
        if panning and not moved[axis]:
            continue  # a pan sideways: nothing above or below
        band = max(1, width // 4)
        for sign in ([1] if moved[axis] > 0 else [-1] if moved[axis] < 0 else [1, -1]):
            a, b = (hi[axis], min(size, hi[axis] + band)) if sign > 0 else (
                max(0, lo[axis] - band), lo[axis])
            if a < b:
                out.append((_with(lo, axis, a), _with(hi, axis, b)))
    return out


def box_at(fine: ChunkedArray, coarse: ChunkedArray, lo: tuple[int, ...],
           hi: tuple[int, ...]) -> Box:
    """The box of ``coarse`` (a coarser level of the same pyramid) that covers the box
    ``[lo, hi)`` of ``fine``."""
    c_lo = tuple(a * c // f for a, f, c in zip(lo, fine.shape, coarse.shape, strict=True))
    c_hi = tuple(max(a + 1, -(-b * c // f))
                 for a, b, f, c in zip(c_lo, hi, fine.shape, coarse.shape, strict=True))
    return c_lo, c_hi


def chunks_of(array: ChunkedArray, lo: tuple[int, ...], hi: tuple[int, ...]
              ) -> Iterator[tuple[int, ...]]:
    """The chunk indices covering the box ``[lo, hi)``."""
    ranges = [range(a // c, (b - 1) // c + 1)
              for a, b, c in zip(lo, hi, array.chunks, strict=True)]
    return itertools.product(*ranges)


def _with(values: tuple[int, ...], axis: int, value: int) -> tuple[int, ...]:
    return (*values[:axis], value, *values[axis + 1:])
