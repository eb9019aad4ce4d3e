"""Chunks computed on a Dask cluster (``--dask-scheduler``) when one machine is not enough.

A ``ChunkedArray``'s chunk function (an OME-Zarr level's reader, with its store; the
built-in sample's generator) is sent to the cluster once per function and kept by each
worker process (``_kept``), so a chunk costs one small task: the function's token and the
chunk's index, answered with the decoded chunk. Reading and decoding (zarr's codecs) or
generating happen on the workers; the server only assembles what comes back. The
workers must reach the same data: the same store URL (object stores, HTTP) or the same
path (a shared file system) and an environment with napari-engine installed.

A chunk function that cannot be sent (a TIFF read through an open file handle) is
computed in the server process, as without a cluster. If the cluster goes away (its
scheduler unreachable, a worker lost with the task, no answer in ``ANSWER_TIMEOUT_S``),
chunks are computed in the server process and a warning says so: a frame never waits on
a cluster that is gone. Errors of the data itself (HTTP 500, a corrupt chunk) are raised
as the workers raised them.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ChunkFunction = Callable[[tuple[int, ...]], np.ndarray]

#: the environment variable Dask itself reads for its scheduler's address
ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
#: how long connecting to the scheduler may take
CONNECT_TIMEOUT_S = 10.0
#: a chunk not answered within this is computed here instead (the cluster is stuck)
ANSWER_TIMEOUT_S = 30.0
#: how often the workers' thread count is asked for
THREADS_TTL_S = 5.0
#: after the cluster failed a chunk (gone, stuck), chunks are computed here this long
LOCAL_FOR_S = 30.0
#: the most chunk functions a worker process keeps (an OME-Zarr level each, two per
#: sample level)
KEPT_FUNCTIONS = 512
#: a chunk function sent larger than this is computed here (it carries data, not a reader)
MAX_SENT_BYTES = 1 << 20


class ClusterError(Exception):
    """The cluster could not be reached or used."""


class Cluster:
    """A connection to a Dask scheduler that computes chunks on its workers."""

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
        try:
            from distributed import Client
            from distributed.comm.addressing import get_address_host_port
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise ClusterError("Dask distributed is not installed") from exc
        try:  # a malformed address is told at once, not after the connection's timeout
            get_address_host_port(address)
        except ValueError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        try:
            self.client: Any = Client(  # type: ignore[no-untyped-call]
                address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        self.address = address
        #: each chunk function sent: its token and pickled bytes (None: not sendable)
        self._sent: weakref.WeakKeyDictionary[Any, tuple[str, bytes] | None] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self._lost_warned = False
        #: chunks are computed here until then (the cluster failed a chunk lately)
        self._local_until = 0.0
        self._threads = self._ask_threads()
        self._closed = threading.Event()
        threading.Thread(target=self._count_threads, name="dask-threads",
                         daemon=True).start()

    @property
    def threads(self) -> int:
        """The workers' threads: how many chunks the cluster computes at once (asked of
        the scheduler every ``THREADS_TTL_S`` on a thread of its own: a loader or the
        engine never waits on the scheduler for it)."""
        return self._threads

    def _ask_threads(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # the scheduler is gone: the server computes, as without one
            return 1

    def _count_threads(self) -> None:
        while not self._closed.wait(THREADS_TTL_S):
            self._threads = self._ask_threads()

    def compute(self, function: ChunkFunction, index: tuple[int, ...]) -> np.ndarray:
        """Chunk ``index`` of ``function``, computed on a worker (or here, see above)."""
        sent = self._sendable(function)
        if sent is None or time.monotonic() < self._local_until:
            return function(index)
        if self.client.status != "running":
            self._warn_lost(f"its scheduler is {self.client.status}")
            return function(index)
        from distributed.client import FutureCancelledError

        token, payload = sent
        future: Any = self.client.submit(_compute_kept, token, payload, index, pure=False)
        try:
            return np.asarray(future.result(timeout=ANSWER_TIMEOUT_S))
        except (FutureCancelledError, concurrent.futures.CancelledError, TimeoutError,
                OSError, _killed_worker()) as exc:
            future.cancel()
            self._warn_lost(exc)
            return function(index)

    def ran_on_workers(self) -> dict[str, int]:
        """Chunks each worker computed (by worker address): what the cluster did."""
        return dict(self.client.run(_computed_here))

    def close(self) -> None:
        self._closed.set()
        self.client.close()

    def _sendable(self, function: ChunkFunction) -> tuple[str, bytes] | None:
        with self._lock:
            try:
                return self._sent[function]
            except KeyError:
                pass
            except TypeError:  # not weakly referable: cannot be remembered, not sent
                return None
        import cloudpickle

        try:
            payload = cloudpickle.dumps(function)
            sent: tuple[str, bytes] | None = (uuid.uuid4().hex, payload)
            if len(payload) > MAX_SENT_BYTES:
                log.info("chunks of %r are computed here: %d bytes to send", function,
                         len(payload))
                sent = None
        except Exception as exc:  # an open file, a lock: it stays in this process
            log.info("chunks of %r are computed here: %s", function, exc)
            sent = None
        with self._lock:
            self._sent[function] = sent
        return sent

    def _warn_lost(self, why: BaseException | str) -> None:
        # the next chunks do not wait on it: computed here for a while, then tried again
        self._local_until = time.monotonic() + LOCAL_FOR_S
        if not self._lost_warned:  # once: the chunks keep coming, from here
            self._lost_warned = True
            reason = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
            log.warning("the Dask cluster at %s did not compute a chunk (%s); "
                        "computing here", self.address, reason)


def _killed_worker() -> type[Exception]:
    from distributed.scheduler import KilledWorker

    return KilledWorker


# -- the process-wide cluster (the server's --dask-scheduler) ---------------------------
_active: Cluster | None = None


def connect(address: str) -> Cluster:
    """Compute every ``ChunkedArray``'s chunks on the cluster at ``address`` from now on."""
    global _active
    cluster = Cluster(address)
    if _active is not None:
        _active.close()
    _active = cluster
    return cluster


def disconnect() -> None:
    """Compute chunks in this process again."""
    global _active
    cluster, _active = _active, None
    if cluster is not None:
        cluster.close()


def active() -> Cluster | None:
    return _active


def address_from(option: str | None) -> str | None:
    """The scheduler's address: the option, else ``DASK_SCHEDULER_ADDRESS``, else None."""
    return option or os.environ.get(ADDRESS_VARIABLE) or None


def compute(function: ChunkFunction, index: tuple[int, ...]) -> np.ndarray:
    """Chunk ``index`` of ``function``: on the cluster if there is one, else here."""
    cluster = _active
    return function(index) if cluster is None else cluster.compute(function, index)


# -- on a worker --------------------------------------------------------------------------
_kept: OrderedDict[str, ChunkFunction] = OrderedDict()
_kept_lock = threading.Lock()
_computed = 0


def _compute_kept(token: str, payload: bytes, index: tuple[int, ...]) -> np.ndarray:
    """Runs on a worker: the chunk, from the function unpickled once per process (a zarr
    store opened once keeps its connections)."""
    global _computed
    with _kept_lock:
        function = _kept.get(token)
        if function is None:
            import cloudpickle

            function = cloudpickle.loads(payload)
            _kept[token] = function
            if len(_kept) > KEPT_FUNCTIONS:
                _kept.popitem(last=False)
        else:
            _kept.move_to_end(token)
    chunk = function(index)
    with _kept_lock:
        _computed += 1
    return chunk


def _computed_here() -> int:
    return _computed
