"""One background asyncio loop per process for all client connections.

Like zarr's ``sync()``: user code (a script, a notebook, the Qt main thread) never runs
an event loop of its own; it hands coroutines to this thread and, when it must, waits
for the result with a timeout, so a dead network can never hang the caller.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use on a daemon thread."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="napari-engine-client",
                                      daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the shared loop and wait for it (never call from that loop)."""
    loop = get_loop()
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def on_loop_thread() -> bool:
    """Whether the caller is the loop's own thread (which must never wait on it)."""
    return _thread is not None and threading.current_thread() is _thread
