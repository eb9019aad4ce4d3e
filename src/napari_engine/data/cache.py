"""A thread-safe LRU cache of computed chunks, bounded by bytes.

Procedural (and other computed) arrays can be far larger than memory; the cache keeps recently
viewed chunks so panning back is free, while evicting old ones so memory stays bounded however
far one navigates. One cache is shared by every level of every sample array, so the bound is
global rather than per level.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from functools import cache

import numpy as np

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


class ChunkCache:
    """Least-recently-used mapping from a hashable key to a numpy array, at most ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is cached (neither a use nor a hit; no lock: a dict's
        membership test is atomic, and prefetch asks it of hundreds of chunks while
        the loader's threads fill the cache)."""
        return key in self._items

    def resize(self, max_bytes: int) -> None:
        """A new bound; evicts down to it."""
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        with self._lock:
            self.max_bytes = max_bytes
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._items:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= int(evicted.nbytes)

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached array for ``key`` (marking it recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: np.ndarray) -> None:
        """Store ``value`` (made read-only, since it is shared) and evict down to the bound."""
        size = int(value.nbytes)
        if size > self.max_bytes:
            return  # would evict everything and still not fit
        value.setflags(write=False)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= int(old.nbytes)
            self._items[key] = value
            self._bytes += size
            self._evict()

    def clear(self) -> None:
        """Drop everything (and reset the hit/miss counters)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = 0
            self.misses = 0


def default_cache_bytes() -> int:
    """A server's cache by default: a quarter of the machine's memory, at most 4 GiB."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return DEFAULT_CACHE_BYTES
    return max(DEFAULT_CACHE_BYTES, min(4 << 30, memory // 4))


@cache
def default_cache() -> ChunkCache:
    """The process-wide cache shared by all sample levels (created on first use, not at import)."""
    return ChunkCache(DEFAULT_CACHE_BYTES)
