"""Clients' reads of layer data (``layer.read``), off the engine thread.

A read gathers up to 64 MiB of voxels and waits for every chunk (a script's
``layer.data[...]``): from a remote store it takes as long as the store does, and on the
engine thread every session of the process waited with it (a stuck store: until the
command's time budget, and a call into the store's C code past even that). The engine
checks the request and takes the array; a thread here reads it and hands the answer
back as a job (``ReadDone``), which the engine queues with the client's other replies.
A client has at most ``MAX_READS`` reads under way; one more is refused, not queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.server_messages import ServerMessage
from napari_engine.server.jobs import ReadDone

log = logging.getLogger(__name__)

#: a client's reads under way at once
MAX_READS = 4
#: threads reading for all the clients of a process
THREADS = 4


class BackgroundReads:
    """A pool of threads that read for the engine, and hand each answer back to it."""

    def __init__(self, submit: Callable[[ReadDone], None], threads: int = THREADS) -> None:
        self._submit = submit
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = threads
        self._started: list[threading.Thread] = []
        #: reads under way, by (session, client id): counted on the engine thread only
        self._running: dict[tuple[str, int], int] = {}

    def _serve(self) -> None:
        while (work := self._work.get()) is not None:
            work()

    def start(self, session: str, client_id: int, request_id: int,
              read: Callable[[], ServerMessage]) -> None:
        """Run ``read`` on a thread; its answer (or its error, as request
        ``request_id``'s) goes back to the engine. Raises ``ProtocolError`` when the
        client has ``MAX_READS`` under way."""
        key = (session, client_id)
        if self._running.get(key, 0) >= MAX_READS:
            raise ProtocolError(ErrorCode.FAILED, f"{MAX_READS} reads of this client are "
                                "under way; wait for one to finish")
        self._running[key] = self._running.get(key, 0) + 1

        def run() -> None:
            try:
                reply = read()
            except ProtocolError as exc:
                reply = ProtocolError(exc.code, exc.message, request_id=request_id).to_error()
            except Exception as exc:  # a store's failure, a bug: said to the reader
                log.warning("client %d: layer.read failed: %s", client_id, exc)
                reply = ProtocolError(ErrorCode.FAILED, f"layer.read failed: {exc}".splitlines()[0],
                                      request_id=request_id).to_error()
            self._submit(ReadDone(session, client_id, reply))

        if len(self._started) < self._threads:  # daemons: a read stuck in a store does
            thread = threading.Thread(target=self._serve, daemon=True,  # not hold the
                                      name="napari-engine-read")  # process at its exit
            thread.start()
            self._started.append(thread)
        self._work.put(run)

    def done(self, job: ReadDone) -> None:
        """On the engine thread, as a read's answer arrives."""
        key = (job.session, job.client_id)
        left = self._running.get(key, 1) - 1
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)

    def close(self) -> None:
        """Stop the threads once the reads queued are done (a read stuck in a store does
        not keep the process from exiting: the threads are daemons)."""
        for _ in self._started:
            self._work.put(None)
