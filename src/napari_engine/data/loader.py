"""Chunks loaded off the drawing thread: a bounded pool, in priority order, cancellable.

napari slices inside its draw, on the one thread that draws every session. A
``ChunkedArray`` read inside ``reading(context)`` never waits for a chunk: what is
cached is used, a missing chunk is asked of this loader and stands in from the best
coarser level already cached (``lazy_array``), and the requester (a session) is told
when a chunk it was waiting for arrives, to slice and draw again. Outside a reading
context (a script's ``layer.data[...]``, a save, a histogram) reads are exact and wait.

Requests are ordered as Neuroglancer orders them: visible data first (coarse levels
before fine ones, since they stand in for it), then what navigation predicts
(``prefetch``), nearest first. A requester's requests that its newer reads did not ask
for again are cancelled (``retire``); one source (a store) never takes more than its
share of the workers, so a slow store does not hold back another's chunks. Chunks that
failed are remembered for a while (an error the requester shows) and then retried.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: tiers of a request, best first
COARSE, VISIBLE, PREFETCH = 0, 1, 2
#: a failed chunk is not asked for again before this many seconds
RETRY_AFTER_S = 5.0
#: the most failed chunks remembered (their errors)
MAX_ERRORS = 4096

Notify = Callable[[Hashable], None]
"""Told (on a loader thread) the requester whose awaited chunk is done: a wake-up only;
what arrived is taken with ``take_arrivals`` on the requester's own thread."""


@dataclass
class Arrivals:
    """What arrived for a requester since it last asked: when the latest did, and the
    errors of those that failed, by group."""

    at: float
    errors: dict[Hashable, str] = field(default_factory=dict)


@dataclass
class _Task:
    """One chunk to load and who wants it (requester -> its stamp and tier)."""

    key: Hashable
    source: Hashable
    #: the most workers its source may have at once (None: the loader's share)
    limit: int | None
    #: what it belongs to (a pyramid: a layer's data), for telling which are loading
    group: Hashable
    compute: Callable[[], np.ndarray]
    store: Callable[[np.ndarray], None]
    seq: int
    wanted: dict[Hashable, tuple[int, int, int]] = field(default_factory=dict)
    running: bool = False

    def priority(self) -> tuple[int, int, int]:
        """(tier, rank within it, order asked): the best of its requesters'."""
        return min((tier, rank, self.seq) for _stamp, tier, rank in self.wanted.values())

    def visible_for(self, requester: Hashable) -> bool:
        entry = self.wanted.get(requester)
        return entry is not None and entry[1] < PREFETCH


@dataclass
class LoaderStats:
    """Counts since the loader started."""

    #: chunk lookups of visible data that found the chunk cached / did not
    hits: int = 0
    misses: int = 0
    loaded: int = 0
    loaded_bytes: int = 0
    prefetched: int = 0
    cancelled: int = 0
    failed: int = 0

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return None if total == 0 else self.hits / total


class ChunkLoader:
    """A pool of ``workers`` threads loading chunks; at most ``per_source`` of them on
    one source at once."""

    def __init__(self, workers: int = 8, per_source: int = 6) -> None:
        if workers < 1 or per_source < 1:
            raise ValueError("workers and per_source must be >= 1")
        self.per_source = per_source
        self.stats = LoaderStats()
        self._tasks: dict[Hashable, _Task] = {}
        self._running_by_source: dict[Hashable, int] = {}
        self._errors: dict[Hashable, tuple[float, str]] = {}
        self._arrivals: dict[Hashable, Arrivals] = {}
        self._notify: Notify | None = None
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"chunk-loader-{i}",
                                          daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def on_arrival(self, notify: Notify) -> None:
        """``notify(requester)`` runs (on a loader thread) when a chunk a requester was
        waiting to see has arrived, or failed."""
        self._notify = notify

    def take_arrivals(self, requester: Hashable) -> Arrivals | None:
        """What arrived for ``requester`` since the last call (None: nothing). A chunk
        stops counting as loading (``waiting``) only once its arrival is here."""
        with self._lock:
            return self._arrivals.pop(requester, None)

    # -- asking ------------------------------------------------------------------------
    def request(self, key: Hashable, source: Hashable, compute: Callable[[], np.ndarray],
                store: Callable[[np.ndarray], None], requester: Hashable, stamp: int,
                tier: int, rank: int = 0, group: Hashable = None,
                limit: int | None = None) -> None:
        """Load chunk ``key`` (``compute`` it, then ``store`` it) for ``requester``,
        unless it is loading already (then the better of the two priorities wins)."""
        with self._lock:
            if self._closed:
                return
            task = self._tasks.get(key)
            if task is None:
                task = _Task(key, source, limit, group, compute, store, next(self._seq))
                self._tasks[key] = task
                self._wake.notify()
            old = task.wanted.get(requester)
            best = (tier, rank) if old is None or old[0] != stamp else min(
                (tier, rank), old[1:])  # asked twice in one context: the better
            task.wanted[requester] = (stamp, *best)

    def error_of(self, key: Hashable) -> str | None:
        """The error of a chunk that failed lately (it is not asked for again yet)."""
        with self._lock:
            failed = self._errors.get(key)
            if failed is None:
                return None
            if time.monotonic() - failed[0] > RETRY_AFTER_S:
                del self._errors[key]
                return None
            return failed[1]

    def retire(self, requester: Hashable, stamp: int,
               groups: set[Hashable] | None = None) -> None:
        """The requester no longer wants what it asked for (of ``groups``; None: of
        all) before ``stamp`` and did not ask for again since: those requests are
        dropped (a chunk nobody wants any more is not loaded; one loading already
        finishes and is cached)."""
        with self._lock:
            for key, task in list(self._tasks.items()):
                entry = task.wanted.get(requester)
                if (entry is not None and entry[0] < stamp
                        and (groups is None or task.group in groups)):
                    del task.wanted[requester]
                    if not task.wanted and not task.running:
                        del self._tasks[key]
                        self.stats.cancelled += 1

    def forget(self, requester: Hashable) -> None:
        """The requester is gone: drop everything it asked for."""
        self.retire(requester, stamp=1 << 62)
        with self._lock:
            self._arrivals.pop(requester, None)

    # -- what is going on --------------------------------------------------------------
    def waiting(self, requester: Hashable, tier: int = PREFETCH - 1) -> set[Hashable]:
        """The groups of the chunks the requester waits for at ``tier`` or better."""
        with self._lock:
            return {task.group for task in self._tasks.values()
                    if (entry := task.wanted.get(requester)) is not None
                    and entry[1] <= tier}

    def busy(self) -> int:
        """Chunks asked for and not loaded yet."""
        with self._lock:
            return len(self._tasks)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._tasks.clear()
            self._wake.notify_all()

    # -- the workers -------------------------------------------------------------------
    def _next(self) -> _Task | None:
        """The best task whose source has a free worker (None: none; called locked)."""
        best: _Task | None = None
        best_priority: tuple[int, int, int] | None = None
        for task in self._tasks.values():
            share = self.per_source if task.limit is None else min(task.limit, self.per_source)
            if task.running or self._running_by_source.get(task.source, 0) >= share:
                continue
            priority = task.priority()
            if best_priority is None or priority < best_priority:
                best, best_priority = task, priority
        return best

    def _work(self) -> None:
        while True:
            with self._lock:
                task = self._next()
                while task is None and not self._closed:
                    self._wake.wait()
                    task = self._next()
                if self._closed or task is None:
                    return
                task.running = True
                self._running_by_source[task.source] = (
                    self._running_by_source.get(task.source, 0) + 1)
            self._load(task)

    def _load(self, task: _Task) -> None:
        error: str | None = None
        try:
            chunk = task.compute()
            task.store(chunk)
        except Exception as exc:  # a store's error: the requester shows it
            error = f"{type(exc).__name__}: {exc}"
            log.warning("chunk %r failed: %s", task.key, error)
        with self._lock:  # its arrival is recorded as it stops counting as loading
            waiting = [r for r in task.wanted if task.visible_for(r)]
            now = time.monotonic()
            for requester in waiting:
                arrivals = self._arrivals.setdefault(requester, Arrivals(now))
                arrivals.at = now
                if error is not None:
                    arrivals.errors[task.group] = error
            if error is None:
                self.stats.loaded += 1
                self.stats.loaded_bytes += int(chunk.nbytes)
                self.stats.prefetched += not waiting
            else:
                self.stats.failed += 1
                if len(self._errors) >= MAX_ERRORS:
                    self._errors.pop(next(iter(self._errors)))
                self._errors[task.key] = (now, error)
            self._running_by_source[task.source] -= 1
            self._tasks.pop(task.key, None)
            self._wake.notify_all()  # its source has a free worker again
        notify = self._notify
        if notify is not None:
            for requester in waiting:
                notify(requester)


@dataclass
class ReadContext:
    """Who reads (a requester of ``loader``), and what its reads found."""

    loader: ChunkLoader
    requester: Hashable
    stamp: int
    #: chunks asked for in this context (not loaded)
    asked: int = 0
    #: the boxes napari read, per array (``lazy_array.ChunkedArray``): prefetch's
    #: starting points
    reads: dict[Any, list[tuple[tuple[int, ...], tuple[int, ...]]]] = field(
        default_factory=dict)
    #: errors of chunks the reads met, by pyramid (a requester's own record: a
    #: pyramid's first read in a context clears its entry, as a new slice of it begins)
    errors: dict[Hashable, str] = field(default_factory=dict)
    #: the pyramids read so far
    seen: set[Hashable] = field(default_factory=set)


_CURRENT: contextvars.ContextVar[ReadContext | None] = contextvars.ContextVar(
    "napari_engine_read_context", default=None)


def current() -> ReadContext | None:
    """The reading context of this thread, or None: reads are exact and wait."""
    return _CURRENT.get()


@contextmanager
def reading(context: ReadContext | None) -> Iterator[ReadContext | None]:
    """Reads in this block do not wait for chunks (None: they do, ``exact``)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def exact() -> AbstractContextManager[ReadContext | None]:
    """Reads in this block wait for every chunk (a script's read, a save, a histogram)."""
    return reading(None)
