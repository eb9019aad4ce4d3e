"""Drive a server session like a person does, and record what comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from napari_engine.client.connection import Connection, Frame
from napari_engine.protocol import FrameHeader


@dataclass
class FrameLog:
    """Every streamed frame a client received, with arrival times."""

    frames: list[tuple[float, FrameHeader, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def add(self, frame: Frame) -> None:
        with self.lock:
            self.frames.append((frame.received, frame.header, len(frame.payload)))
            self.arrived.notify_all()

    def since(self, t0: float, t1: float = float("inf")) -> list[tuple[float, FrameHeader, int]]:
        with self.lock:
            return [f for f in self.frames if t0 <= f[0] < t1]

    def wait_for(self, predicate: Callable[[FrameHeader], bool], timeout: float) -> float | None:
        """Wait for a frame whose header satisfies ``predicate``; returns its arrival time."""
        found = self.first(predicate, timeout)
        return None if found is None else found[0]

    def first(self, predicate: Callable[[FrameHeader], bool], timeout: float,
              after: float = float("-inf")) -> tuple[float, FrameHeader, int] | None:
        """Wait for the first frame received at or after ``after`` whose header satisfies
        ``predicate``: (arrival time, header, payload bytes), or None after ``timeout``."""
        deadline = time.perf_counter() + timeout
        with self.lock:
            checked = 0
            while True:
                for frame in self.frames[checked:]:
                    if frame[0] >= after and predicate(frame[1]):
                        return frame
                checked = len(self.frames)
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.arrived.wait(left)


def open_client(url: str, *, size: tuple[int, int], stream: str = "auto",
                quality: int = 80, max_in_flight: int = 4) -> tuple[Connection, FrameLog]:
    conn = Connection(url, stream=stream, size=size, jpeg_quality=quality, client="bench",
                      max_in_flight=max_in_flight)
    log = FrameLog()
    conn.on_frame(log.add)
    conn.open(60)
    return conn, log


def continuous(conn: Connection, duration: float, rate_hz: float,
               make: Callable[[int], tuple[str, dict[str, Any]]]
               ) -> tuple[float, float, int, float | None]:
    """Send ``rate_hz`` commands a second for ``duration`` seconds (as a mouse drag or a
    held scroll does); returns (start, end, commands sent, the last command's ``t``)."""
    period = 1.0 / rate_hz
    start = time.perf_counter()
    i = 0
    last_t = None
    while True:
        now = time.perf_counter()
        if now - start >= duration:
            break
        op, args = make(i)
        last_t = time.perf_counter()
        conn.send_command(op, args, t=last_t)
        i += 1
        time.sleep(max(0.0, start + i * period - time.perf_counter()))
    return start, time.perf_counter(), i, last_t
