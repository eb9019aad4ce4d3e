"""Sessions in worker processes (``--workers N``): a front process routes connections,
and survives any worker's death.

The front is the server people connect to: it checks the token, the origin and the
guesses (``network``), picks the worker that hosts the session (a session stays on its
worker while it may be open there; a new one goes to the worker
hosting the fewest now: ``Placement``), and relays the websocket
messages both ways, unread. Each worker is a whole server of its own (``python -m
napari_engine.server``, its own napari, GL and engine thread) on a private loopback port
with a token of its own, so one session's work never waits for another's and a crash
takes only its worker's sessions down.

A worker that dies is started again (same options, same journal folder): its clients'
connections are closed with code 1012 ("service restart"), a client that reconnects
(napari's window does) is routed to the new worker, and the session comes back from its
journal, every acknowledged edit with it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from napari_engine.protocol import MAX_BINARY_BYTES
from napari_engine.server.budget import DEFAULT_BUDGET_S, STUCK_AFTER_S, WORKER_VARIABLE
from napari_engine.server.cli import TOKEN_VARIABLE
from napari_engine.server.network import NetworkServer, session_from_path
from napari_engine.server.process import ServerProcess

log = logging.getLogger(__name__)

#: how often the pool looks for dead workers
WATCH_EVERY_S = 0.5
#: the close code a client gets when its session's worker went away (it may reconnect)
RESTARTING = 1012
#: how long a connection to a session whose worker is being started again waits for it
RESTART_WAIT_S = 60.0
#: a session is forgotten by the front this long after its worker should have closed it
#: for idling, beside the command budget: the worker's engine may be behind by a
#: command's whole budget, and more while one is stuck (``budget``), before it sees the
#: last client leave
FORGET_MARGIN_S = 10.0 + STUCK_AFTER_S


@dataclass
class Worker:
    """One worker process and where it listens."""

    index: int
    process: ServerProcess
    token: str
    restarts: int = 0
    started: float = field(default_factory=time.monotonic)
    #: if it dies: not started again before ``next_start`` (``backoff`` after this start)
    backoff: float = 0.0
    next_start: float = 0.0

    @property
    def base(self) -> str:
        """``ws://127.0.0.1:PORT`` of the running process."""
        parts = urlsplit(self.process.url)
        return f"{parts.scheme}://{parts.netloc}"


class Placement:
    """Which worker hosts each session. A session stays on its worker while it may be
    open there: while a client is connected to it, and for ``forget_after`` seconds
    (the workers' ``--session-idle``, and a margin) after the last one left; then it is
    forgotten, and it opens next where the fewest sessions are (from its journal,
    which every worker shares). A new session goes where the fewest are now, not where
    the fewest were ever opened."""

    def __init__(self, workers: int, forget_after: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.workers = workers
        self.forget_after = forget_after
        self._clock = clock
        self._where: dict[str, int] = {}
        self._connected: dict[str, int] = {}
        self._left: dict[str, float] = {}

    def enter(self, session: str) -> int:
        """A connection to ``session``: the index of its worker."""
        self._forget_idle()
        index = self._where.get(session)
        if index is None:
            index = min(range(self.workers), key=lambda i: (self.hosted(i), i))
            self._where[session] = index
        self._connected[session] = self._connected.get(session, 0) + 1
        self._left.pop(session, None)
        return index

    def leave(self, session: str) -> None:
        """A connection to ``session`` closed."""
        count = self._connected.get(session, 0) - 1
        if count > 0:
            self._connected[session] = count
            return
        self._connected.pop(session, None)
        if session in self._where:
            self._left[session] = self._clock()

    def hosted(self, index: int) -> int:
        """The sessions worker ``index`` may have open now."""
        return sum(1 for i in self._where.values() if i == index)

    def _forget_idle(self) -> None:
        now = self._clock()
        for session, left in list(self._left.items()):
            if now - left >= self.forget_after:
                del self._left[session], self._where[session]


class WorkerPool:
    """``count`` worker servers started with ``args``; dead ones started again."""

    def __init__(self, count: int, args: Sequence[str], session_idle: float = 60.0,
                 command_budget: float = DEFAULT_BUDGET_S) -> None:
        if count < 1:
            raise ValueError("a pool needs at least one worker")
        self.args = list(args)
        self.workers = [self._start(index) for index in range(count)]
        #: a margin over the workers' idle timeout: a session is closed there first
        self.placement = Placement(count, session_idle + command_budget + FORGET_MARGIN_S)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-watch",
                                         daemon=True)
        self._watcher.start()

    def _start(self, index: int) -> Worker:
        token = secrets.token_urlsafe(24)  # in its environment: argv is public
        process = ServerProcess([*self.args, "--host", "127.0.0.1", "--workers", "0"],
                                env={TOKEN_VARIABLE: token, WORKER_VARIABLE: "1"},
                                echo=sys.stderr, echo_prefix=f"worker {index}: ")
        process.start()
        log.info("worker %d: pid %d", index, process.pid)
        return Worker(index, process, token)

    def enter(self, session: str) -> Worker:
        """The worker that hosts ``session``, for a new connection to it (``leave``
        when it closes)."""
        with self._lock:
            return self.workers[self.placement.enter(session)]

    def leave(self, session: str) -> None:
        with self._lock:
            self.placement.leave(session)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            for index, worker in enumerate(list(self.workers)):
                if worker.process.alive() or self._stop.is_set():
                    continue
                if time.monotonic() < worker.next_start:
                    continue  # it died soon after its last start: it waits longer
                code = worker.process.proc.poll() if worker.process.proc else None
                log.error("worker %d (pid %d) died (exit %s); starting it again",
                          index, worker.process.pid, code)
                try:
                    new = self._start(index)
                except Exception:
                    log.exception("worker %d could not be started again", index)
                    continue
                new.restarts = worker.restarts + 1
                # a worker that dies again within a minute waits 1, 2, 4 ... 60 s before
                # the next start (a journal that crashes it must not spin the machine)
                quick = time.monotonic() - worker.started < 60.0
                new.backoff = min(60.0, worker.backoff * 2 or 1.0) if quick else 0.0
                new.next_start = time.monotonic() + new.backoff
                with self._lock:
                    self.workers[index] = new

    def stop(self) -> None:
        self._stop.set()
        for worker in self.workers:
            worker.process.stop()


class FrontServer(NetworkServer):
    """The websocket server people connect to, relaying each connection to the worker
    that hosts its session (the door's checks are ``NetworkServer``'s)."""

    def __init__(self, pool: WorkerPool, host: str, port: int, token: str,
                 **door: object) -> None:
        super().__init__(lambda _job: None, host, port, token, **door)  # type: ignore[arg-type]
        self.pool = pool

    async def _handler(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path).path if ws.request else "/"
        session = session_from_path(path)
        assert session is not None  # the door refused anything else
        worker = self.pool.enter(session)
        try:
            await self._serve(ws, session, worker)
        finally:
            self.pool.leave(session)

    async def _serve(self, ws: ServerConnection, session: str, worker: Worker) -> None:
        started = time.monotonic()
        closed: tuple[int | None, str] = (None, "")
        while True:
            url = f"{worker.base}/session/{session}?token={worker.token}"
            try:
                async with connect(url, max_size=MAX_BINARY_BYTES, compression=None,
                                   ping_interval=None, open_timeout=30) as upstream:
                    await _relay(ws, upstream)
                closed = (upstream.close_code, upstream.close_reason or "")
                break
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                log.warning("session %r: worker %d unreachable (%s)", session,
                            worker.index, exc)
                again = await self._restarted(worker, started + RESTART_WAIT_S)
                if again is None:
                    break
                worker = again  # it was being started again: this client waits for it
        if ws.close_code is None:
            code, reason = closed
            current = self.pool.workers[worker.index]
            if code in (None, 1006) or current is not worker or not current.process.alive():
                code, reason = RESTARTING, "the session's worker is restarting"
            log.info("session %r: its worker closed (%s) after %.1f s", session, code,
                     time.monotonic() - started)
            await ws.close(code, reason)  # as the worker said (1012: it may come back)


    async def _restarted(self, worker: Worker, deadline: float) -> Worker | None:
        """The worker started in ``worker``'s place, once it is (None: not by
        ``deadline``)."""
        while time.monotonic() < deadline:
            current = self.pool.workers[worker.index]
            if current is not worker and current.process.alive():
                return current
            await asyncio.sleep(0.1)
        return None


async def _relay(client: ServerConnection, upstream: ClientConnection) -> None:
    """Messages both ways until one side closes; then the other is closed too (a
    client that leaves closes its worker connection; a worker that dies leaves the
    client to ``_handler``)."""
    async def pump(source: ServerConnection | ClientConnection,
                   sink: ServerConnection | ClientConnection) -> None:
        try:
            async for message in source:
                await sink.send(message)
        except ConnectionClosed:
            pass

    down = asyncio.create_task(pump(upstream, client))
    up = asyncio.create_task(pump(client, upstream))
    done, pending = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if up in done:  # the client left
        await upstream.close()


#: the options that are the front's alone (a worker listens on its own loopback port,
#: with its own token, and needs no TLS)
FRONT_ONLY = ("--host", "--port", "--token", "--certfile", "--keyfile", "--allow-origin",
              "--workers", "--memory-limit")


def worker_argv(argv: Sequence[str], journal_dir: str,
                memory_limit: int | None = None) -> list[str]:
    """The command line of a worker: the front's, less its own options, with the
    journal folder named (workers started again must find their sessions' journals)
    and the memory limit the front worked out for each."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in FRONT_ONLY or name == "--journal-dir":
            skip = "=" not in arg
            continue
        out.append(arg)
    return [*out, "--journal-dir", journal_dir, "--memory-limit",
            "none" if memory_limit is None else str(memory_limit)]


def serve_front(argv: Sequence[str], workers: int, journal_dir: str, host: str, port: int,
                token: str, memory_limit: int | None = None, session_idle: float = 60.0,
                command_budget: float = DEFAULT_BUDGET_S, **door: object) -> int:
    """Start the pool and the front; serve until SIGINT or SIGTERM."""
    import signal

    try:
        pool = WorkerPool(workers, worker_argv(argv, journal_dir, memory_limit), session_idle,
                          command_budget)
    except RuntimeError as exc:
        print(f"error: a worker did not start: {exc}", flush=True, file=sys.stderr)
        return 2
    front = FrontServer(pool, host, port, token, **door)
    try:
        bound = front.start()
    except OSError as exc:
        pool.stop()
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    scheme = "wss" if door.get("tls") else "ws"
    shown = f"[{host}]" if ":" in host else host
    print(f"{scheme}://{shown}:{bound}/?token={token}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        front.stop()
        pool.stop()
    return 0
