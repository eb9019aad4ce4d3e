"""A client connection to a napari-engine server: the asyncio shell around ``ClientCore``.

The websocket lives on the shared background loop (``loop.py``); this class only moves
bytes between it and the sans-I/O core, sends what the core queues (acks go out the
moment a frame arrives), and hands the core's events on:

* state changes and answers go to listeners and waiting callers on the loop thread
  (listeners must be quick: a GUI posts to its own thread from there);
* streamed frames go to a worker thread that assembles them in order (tiles, H.264) and
  calls the frame listeners there, so decoding never delays the loop, the acks, or any
  other connection. If the worker falls behind by ``MAX_BACKLOG`` frames, the loop stops
  reading (and acknowledging) until it catches up: the server's credits then hold its
  stream back, as they should.

Everything a caller reads about the session goes through the read API (``read``,
``section``, ``layers``, ``layer``), which copies under the connection's lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from napari_engine.client.core import (
    Answered,
    ClientCore,
    ConnectionLost,
    Event,
    FrameArrived,
    Local,
    Refused,
    RemoteError,
    StateChanged,
    Welcomed,
    encode_command,
)
from napari_engine.client.frames import Frame, FrameAssembler, Picture
from napari_engine.client.loop import get_loop, on_loop_thread, run_sync
from napari_engine.client.window_stats import WindowStats
from napari_engine.protocol import (
    MAX_BINARY_BYTES,
    MAX_TEXT_BYTES,
    Hello,
    Op,
    ProtocolError,
    StreamMode,
    ViewMode,
    Welcome,
    validate_command_args,
)
from napari_engine.protocol.codec import BINARY_PREFIX, MAX_HEADER_BYTES

__all__ = ["Connection", "ConnectionLost", "Frame", "RemoteError"]

log = logging.getLogger(__name__)

T = TypeVar("T")
StateListener = Callable[[set[str]], None]
FrameListener = Callable[[Frame], None]
ReplyCallback = Callable[[Any], None]
#: streamed frames waiting for the worker before the loop stops reading
MAX_BACKLOG = 4
ALL_SECTIONS = frozenset({"camera", "dims", "canvas", "layers", "selection"})


class Connection:
    """One websocket connection to a server session."""

    def __init__(self, url: str, *, stream: str = "auto", size: tuple[int, int] | None = None,
                 jpeg_quality: int = 80, max_in_flight: int = 4, client: str = "napari-engine",
                 reconnect: bool = False, show_pictures: bool = False,
                 view: str = "shared", wait_for_link: float = 0.0) -> None:
        self.url = url
        hello = Hello(client=client, stream=StreamMode(stream), jpeg_quality=jpeg_quality,
                      max_in_flight=max_in_flight, size=size, view=ViewMode(view))
        self._core = ClientCore(hello)
        self.reconnect = reconnect
        #: a script's connection (> 0): a command made while the link is down waits this
        #: long for it to come back, and the reconnecting stops after this long; 0 (a
        #: window): tried until it works, and edits made meanwhile are not sent
        self.wait_for_link = wait_for_link
        self._lock = threading.RLock()  # guards the core (the mirror, the outgoing queue)
        self.latest_frame: Frame | None = None
        self.errors: list[RemoteError] = []
        self._waiters: dict[int, ReplyCallback] = {}
        self._welcomed: asyncio.Future[Welcome] | None = None
        self._ws: ClientConnection | None = None
        self._state_listeners: list[StateListener] = []
        self._frame_listeners: list[FrameListener] = []
        self._connection_listeners: list[Callable[[str], None]] = []
        self._reconnecting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._user_closed = False
        #: where the window's time goes (the frame worker's share is recorded here)
        self.stats = WindowStats()
        self._picture_listeners: list[Callable[[Picture], None]] = []
        #: keep ``picture`` from the first frame on (a window that opens later needs it)
        self.show_pictures = show_pictures
        self._worker = _FrameWorker(self._frame_assembled, self._frame_wants, self.stats)
        self._backlog: asyncio.Semaphore | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._send_lock = threading.Lock()
        self.closed = threading.Event()  # closed for good (by the user, or no reconnect)
        self.connected = threading.Event()

    # -- lifecycle -------------------------------------------------------------------
    def open(self, timeout: float = 30.0) -> None:
        run_sync(self._open(), timeout)

    async def _open(self) -> None:
        try:
            self._ws = await connect(self.url, max_size=MAX_BINARY_BYTES, compression=None,
                                     open_timeout=20)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            raise ConnectionRefusedError(f"server refused the connection: HTTP {status} {body}"
                                         ) from None
        loop = asyncio.get_running_loop()
        self._welcomed = loop.create_future()
        self._backlog = asyncio.Semaphore(MAX_BACKLOG)
        self._flush_lock = asyncio.Lock()
        with self._lock:
            self._core.connect()
        self._worker.reset()
        reader = asyncio.create_task(self._read(self._ws))
        try:
            await self._flush()
            await self._welcomed
        except BaseException:
            await self._ws.close()  # refused or cancelled: leave nothing open behind
            reader.cancel()
            raise
        self.connected.set()

    async def _reconnect(self) -> None:
        """Try again and again (backing off to 2 s) until the server answers or the user
        closes; then start over from the server's full state."""
        delay = 0.2
        give_up = (time.monotonic() + self.wait_for_link if self.wait_for_link > 0
                   else float("inf"))
        while not self._user_closed:
            if time.monotonic() >= give_up:
                log.warning("the server did not come back within %g s: closed",
                            self.wait_for_link)
                self.closed.set()
                self._notify(self._connection_listeners, "closed")
                return
            await asyncio.sleep(delay)
            try:  # an attempt ends by the give-up time too (a front may hold it a minute)
                await asyncio.wait_for(self._open(), min(60.0, give_up - time.monotonic()))
            except (OSError, TimeoutError, ConnectionLost, RemoteError,
                    ConnectionRefusedError) as exc:
                log.info("reconnect failed: %s", exc)
                delay = min(2.0, delay * 2)
                continue
            self._notify(self._connection_listeners, "connected")
            self._notify(self._state_listeners, set(ALL_SECTIONS))
            return

    def close(self) -> None:
        self._user_closed = True
        try:
            run_sync(self._close(), 10)
        except Exception:  # already gone: nothing to tidy
            log.debug("close failed", exc_info=True)
        self._worker.stop()
        self.closed.set()
        self.connected.clear()

    async def _close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._ws is not None:
            await self._ws.close()

    # -- listeners -------------------------------------------------------------------
    def on_state(self, listener: StateListener) -> None:
        """``listener(sections)`` when the mirrored state changed (network thread)."""
        self._state_listeners.append(listener)

    def on_frame(self, listener: FrameListener) -> None:
        """``listener(frame)`` for each streamed frame, assembled (frame worker thread;
        each tiles frame then carries its picture, which later frames never change)."""
        self._frame_listeners.append(listener)

    def on_connection(self, listener: Callable[[str], None]) -> None:
        """``listener("disconnected")`` when the link drops and a reconnect begins,
        ``("connected")`` when it succeeds, ``("closed")`` when the link dropped for good
        (a connection that does not reconnect); network thread."""
        self._connection_listeners.append(listener)

    @staticmethod
    def _notify(listeners: list[Callable[[Any], None]], value: Any) -> None:
        # a listener's bug must not stop the reader (frames would go unacknowledged)
        for listener in listeners:
            try:
                listener(value)
            except Exception:
                log.exception("a connection listener failed")

    # -- reading the session's state ---------------------------------------------------
    def read(self, fn: Callable[[dict[str, Any]], T]) -> T:
        """``fn(state)`` under the lock: for reads that must see one consistent state
        (``fn`` must not keep references into it)."""
        with self._lock:
            return fn(self._core.mirror.state)

    def section(self, name: str) -> dict[str, Any]:
        """A copy of one flat section (``camera``, ``dims``, ``canvas``, ``selection``)."""
        return self.read(lambda state: dict(copy.deepcopy(state[name])))

    def layers(self) -> list[dict[str, Any]]:
        """Copies of every layer's state, bottom to top."""
        return self.read(lambda state: copy.deepcopy(state["layers"]))

    def layer(self, layer_id: int) -> dict[str, Any] | None:
        """A copy of one layer's state, or None if it is gone."""
        return self.read(lambda _state: copy.deepcopy(self._core.mirror.layer(layer_id)))

    @property
    def version(self) -> int:
        """The version of the last server state merged."""
        return self.read(lambda _state: self._core.mirror.version)

    def local_edits(self) -> int:
        """How many optimistic changes this client ever made (see ``StateMirror``)."""
        return self.read(lambda _state: self._core.mirror.local_edits)

    def pending(self) -> int:
        """How many of this client's changes the server has not confirmed yet."""
        return self.read(lambda _state: self._core.mirror.pending())

    @property
    def welcome(self) -> Welcome | None:
        return self._core.welcome

    @property
    def traffic(self) -> dict[str, int]:
        """Bytes received, by message type ("frame" for frames): what crossed."""
        return dict(self._core.traffic)

    # -- sending ---------------------------------------------------------------------
    def send_command(self, op: str, args: dict[str, Any] | None = None, *,
                     payload: bytes | None = None, t: float | None = None,
                     on_reply: ReplyCallback | None = None, local: Local | None = None) -> int:
        """Queue a command without waiting; returns its id.

        A bad value raises here instead of travelling. ``local(mirror, id)`` records an
        optimistic change in the mirror before the command leaves (so no answer can
        overtake it). ``on_reply`` is called on the network thread with the reply's
        result, or the RemoteError. Commands leave in id order.
        """
        args = args or {}
        validate_command_args(op, args, has_payload=payload is not None)  # raises if bad
        self._await_link()
        with self._send_lock:  # commands are queued in id order
            with self._lock:
                if self.closed.is_set() or not self.connected.is_set():
                    raise ConnectionLost("not connected to the server")
                command = self._core.begin_command(op, args, t=t)
                cid = command.id or 0
            # encoded without the lock the network thread takes for every message (an
            # array payload can be hundreds of megabytes)
            data = encode_command(command, payload)
            _check_size(op, data, payload)  # the server could not say which command it was
            with self._lock:  # nothing is answered before it is queued
                if local is not None:
                    local(self._core.mirror, cid)
                if on_reply is not None:
                    self._waiters[cid] = on_reply
                self._core.queue(data)
        get_loop().call_soon_threadsafe(self._flush_soon)
        return cid

    def _await_link(self) -> None:
        """A script's command made while its connection reconnects (a restarted
        server or worker) waits for it (``wait_for_link``)."""
        if (self.wait_for_link <= 0 or self.connected.is_set() or self.closed.is_set()
                or on_loop_thread()):
            return
        deadline = time.monotonic() + self.wait_for_link
        while not self.connected.wait(0.05):
            if self.closed.is_set() or time.monotonic() >= deadline:
                return  # refused below, as any command on a closed connection

    def request(self, op: str, args: dict[str, Any] | None = None, *,
                payload: bytes | None = None, timeout: float = 60.0) -> Any:
        """Send a command and wait for its reply (a result dict, or a Frame for
        ``screenshot``); raises RemoteError if the server refuses it."""
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.send_command(op, args, payload=payload, on_reply=answer.set_result)
        try:
            result = answer.result(timeout)
        except TimeoutError:
            raise TimeoutError(f"no reply to {op} within {timeout} s") from None
        if isinstance(result, BaseException):
            raise result
        return result

    @property
    def view(self) -> ViewMode:
        """Whose camera and dims this connection looks through."""
        return self._core.hello.view

    def set_view(self, view: str, *, wait: bool = True) -> None:
        """Look through the session's camera and dims ("shared") or keep one's own
        ("own", starting where the session's are); a reconnect keeps the choice.
        ``wait``: until the server has applied it (a script), or not (a window)."""
        mode = ViewMode(view)
        args = {"own": mode is ViewMode.OWN}
        if wait:
            self.request(Op.VIEW_OWN, args)
        else:
            self.send_command(Op.VIEW_OWN, args)
        with self._lock:  # sent: a reconnect asks for it from the start
            self._core.hello = dataclasses.replace(self._core.hello, view=mode)

    def _flush_soon(self) -> None:
        task = asyncio.ensure_future(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        """Send what the core queued, in order: one flush at a time (a send may wait for
        the socket, and a second flush must not overtake the rest of the first)."""
        assert self._flush_lock is not None
        async with self._flush_lock:
            with self._lock:
                outgoing = self._core.data_to_send()
            ws = self._ws
            for data in outgoing:
                if ws is None:
                    return
                try:
                    await ws.send(data)
                except ConnectionClosed:
                    log.debug("not sent: the connection closed")  # the reader reconnects
                    return

    # -- receiving -------------------------------------------------------------------
    async def _read(self, ws: ClientConnection) -> None:
        try:
            idle_since = time.perf_counter()
            async for raw in ws:
                now = time.perf_counter()
                try:
                    with self._lock:
                        events = self._core.receive(raw, now=now, waited=now - idle_since)
                except ProtocolError as exc:
                    log.warning("bad message from server: %s", exc.message)
                    events = []
                await self._flush()  # acks first: nothing below may delay them
                for event in events:
                    await self._dispatch(event)
                idle_since = time.perf_counter()
        except ConnectionClosed:
            pass
        finally:
            self._connection_ended(ws)

    async def _dispatch(self, event: Event) -> None:
        if isinstance(event, FrameArrived):
            assert self._backlog is not None
            await self._backlog.acquire()
            self._worker.put(event.frame, self._backlog)
        elif isinstance(event, StateChanged):
            self._notify(self._state_listeners, set(event.sections))
        elif isinstance(event, Answered):
            with self._lock:
                callback = self._waiters.pop(event.id, None)
            if callback is not None:
                self._notify([callback], event.result)
            elif isinstance(event.result, RemoteError):
                self._failed(event.result)  # nobody waits for it: it must not vanish
        elif isinstance(event, Welcomed):
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_result(event.welcome)
        elif isinstance(event, Refused):
            self._refused(event)

    @property
    def picture(self) -> Picture:
        """The latest picture the streamed frames make, for a window to take changes
        from (kept up to date once someone calls ``on_picture``)."""
        return self._worker.picture

    def on_picture(self, listener: Callable[[Picture], None]) -> None:
        """``listener(picture)`` (frame worker thread) whenever ``picture`` changed: a
        window then takes what changed, as often as it paints."""
        self._picture_listeners.append(listener)

    def request_picture(self) -> None:
        """Fill ``picture`` now, from a screenshot of the current view (a window opened
        on a connection that kept no picture), then keep it up to date."""
        self.show_pictures = True
        self.send_command("screenshot", on_reply=self._seed)

    def _seed(self, result: Any) -> None:
        if isinstance(result, Frame):
            self._worker.seed(result)

    def _frame_wants(self) -> tuple[bool, bool]:
        """Frame worker thread: whether someone keeps each frame's picture, and whether
        a window shows the picture."""
        return bool(self._frame_listeners), self.show_pictures or bool(self._picture_listeners)

    def _frame_assembled(self, frame: Frame) -> None:
        """Frame worker thread: a streamed frame is ready to show."""
        self.latest_frame = frame
        self._notify(self._frame_listeners, frame)
        self._notify(self._picture_listeners, self.picture)

    def _refused(self, event: Refused) -> None:
        welcome = self._welcomed
        if event.before_welcome and welcome is not None and not welcome.done():
            welcome.set_exception(event.error)  # refused before the session started
            return
        self._failed(event.error)

    def _failed(self, error: RemoteError) -> None:
        log.warning("server error: %s", error)
        self.errors.append(error)

    def _connection_ended(self, ws: ClientConnection) -> None:
        if ws is not self._ws:
            return  # an older connection's reader, after a reconnect
        self.connected.clear()
        gone = ConnectionLost("connection to the server closed")
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        self._notify(list(waiters.values()), gone)
        if self._welcomed is not None and not self._welcomed.done():
            self._welcomed.set_exception(gone)
        retrying = self._reconnecting is not None and not self._reconnecting.done()
        if retrying:
            return  # a failed attempt inside _reconnect ends up here too
        lost = not self._user_closed and self._core.welcome is not None  # not on purpose
        if lost and self.reconnect:
            self._notify(self._connection_listeners, "disconnected")
            self._reconnecting = asyncio.ensure_future(self._reconnect())
            return
        self.closed.set()
        if lost:
            self._notify(self._connection_listeners, "closed")


class _FrameWorker:
    """Assembles one connection's streamed frames in order on a thread of its own."""

    def __init__(self, deliver: FrameListener, wants: Callable[[], tuple[bool, bool]],
                 stats: WindowStats) -> None:
        self._deliver_to = deliver
        self._wants = wants
        self._stats = stats
        self._assembler = FrameAssembler()
        self.picture = self._assembler.picture
        self._queue: queue.SimpleQueue[
            tuple[Frame, asyncio.Semaphore] | tuple[str, Frame] | str | None] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None

    def put(self, frame: Frame, backlog: asyncio.Semaphore) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="napari-engine-frames")
            self._thread.start()
        self._queue.put((frame, backlog))

    def reset(self) -> None:
        """A new connection: the next frames start a new picture and video stream."""
        self._queue.put("reset")

    def seed(self, frame: Frame) -> None:
        """A whole frame (a screenshot) for the picture, in order with the stream."""
        self._queue.put(("seed", frame))

    def stop(self) -> None:
        """After the frames already queued (their listeners see them)."""
        self._queue.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def _run(self) -> None:
        loop = get_loop()
        while (item := self._queue.get()) is not None:
            if item == "reset":
                self._assembler.reset()
                continue
            assert not isinstance(item, str)
            if isinstance(item[0], str):
                self._seeded(item[1])
                continue
            frame, backlog = item
            assert isinstance(frame, Frame) and isinstance(backlog, asyncio.Semaphore)
            try:
                self._deliver(frame)
            finally:
                loop.call_soon_threadsafe(backlog.release)

    def _seeded(self, frame: Frame) -> None:
        try:
            self.picture.record_whole(frame.decode(), frame.header)
        except Exception as exc:
            log.warning("no picture from the screenshot: %s", exc)
            return
        self._deliver_to(frame)

    def _deliver(self, frame: Frame) -> None:
        start = time.perf_counter()
        self._stats.add("receive", start - frame.received)
        keep, show = self._wants()
        try:
            frame = self._assembler.assemble(frame, keep=keep, show=show)
            self._stats.add("assemble", time.perf_counter() - start)
        except Exception as exc:  # a frame we cannot use must not end the stream
            log.warning("dropped frame %s (%s): %s", frame.header.seq, frame.header.encoding,
                        exc)
            return
        self._deliver_to(frame)


def _check_size(op: str, data: str | bytes, payload: bytes | None) -> None:
    """Refuse here a command over the protocol's message limits: the server refuses such
    a message unread, so its answer could not name the command, and a request would
    wait for a reply that never comes. (Text messages are ASCII: ``encode_text``.)"""
    if payload is not None:
        header = len(data) - len(payload) - BINARY_PREFIX.size
        if header > MAX_HEADER_BYTES:
            raise ValueError(f"{op}: the command's arguments are {header} bytes, over the "
                             f"protocol's {MAX_HEADER_BYTES}-byte limit for a binary "
                             "message's header")
    limit = MAX_TEXT_BYTES if payload is None else MAX_BINARY_BYTES
    if len(data) > limit:
        raise ValueError(f"{op}: the command is {len(data)} bytes, over the protocol's "
                         f"{limit}-byte limit for one message; send it in parts")
