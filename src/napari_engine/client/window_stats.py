"""Where a client window's time goes, stage by stage: counts and seconds.

Cheap enough to keep on always (a lock and two additions per event); the benchmark reads
it (``bench.window_driver``), and it is what says whether a window is slow because of
the network, decoding, uploading pictures to the GPU, drawing, or keeping napari's model
up to date.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: the stages, in the order a frame meets them
STAGES = ("receive", "assemble", "upload", "paint", "model")


class WindowStats:
    """Counts and total seconds per stage; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, tuple[int, float]] = {}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            count, total = self._stages.get(stage, (0, 0.0))
            self._stages[stage] = (count + 1, total + seconds)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def snapshot(self) -> dict[str, tuple[int, float]]:
        with self._lock:
            return dict(self._stages)
