"""A client connection to a napari-engine server, usable from any thread.

The websocket lives on the shared background loop (``loop.py``). Incoming state patches
are merged into a ``StateMirror``; incoming streamed frames are acknowledged at once
(the scripting client keeps only the latest, undecoded) so the server's flow control
never starves; replies wake up whoever waits for them. Listeners registered with
``on_state``/``on_frame`` are called on the network thread and must be quick (a GUI
posts to its own thread from there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from napari_engine.client.loop import get_loop, run_sync
from napari_engine.encode import Encoding, decode_frame
from napari_engine.encode.tiles import apply_update
from napari_engine.encode.video import VideoDecoder
from napari_engine.protocol import (
    MAX_BINARY_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    StateMirror,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
    validate_command_args,
)

log = logging.getLogger(__name__)


class RemoteError(Exception):
    """The server refused or failed a request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """The connection to the server is gone."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as received: the header and the still-encoded payload."""

    header: dict[str, Any]
    payload: bytes
    received: float  # time.perf_counter() on arrival
    image: np.ndarray | None = None  # the assembled picture, for tile updates
    #: how long this connection waited for the frame after handling the message before
    #: (0: it was already there, so ``received`` says when the client got to it, not
    #: when the network delivered it)
    waited: float = 0.0

    def decode(self) -> np.ndarray:
        if self.image is not None:
            return self.image
        h = self.header
        return decode_frame(self.payload, Encoding(h["encoding"]), h["width"], h["height"])


StateListener = Callable[[set[str]], None]
FrameListener = Callable[[Frame], None]


class Connection:
    """One websocket connection to a server session."""

    def __init__(self, url: str, *, stream: str = "auto", size: tuple[int, int] | None = None,
                 jpeg_quality: int = 80, max_in_flight: int = 4, client: str = "napari-engine",
                 auto_ack: bool = True, reconnect: bool = False) -> None:
        self.url = url
        self.hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION,
                                      "client": client, "stream": stream,
                                      "jpeg_quality": jpeg_quality, "max_in_flight": max_in_flight}
        if size is not None:
            self.hello["size"] = list(size)
        self.auto_ack = auto_ack
        self.reconnect = reconnect
        self.mirror = StateMirror()
        self.lock = threading.RLock()  # guards the mirror
        self.welcome: dict[str, Any] = {}
        self.latest_frame: Frame | None = None
        self._tiles_canvas: np.ndarray | None = None
        self._video: VideoDecoder | None = None
        #: bytes received, by message type ("frame" for binary frames): what crossed
        self.traffic: dict[str, int] = {}
        self.errors: list[RemoteError] = []
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._state_listeners: list[StateListener] = []
        self._frame_listeners: list[FrameListener] = []
        self._connection_listeners: list[Callable[[str], None]] = []
        self._reconnecting: asyncio.Task[None] | None = None
        self._user_closed = False
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
        welcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[-1] = welcome
        self._reader = asyncio.create_task(self._read())
        try:
            await self._ws.send(encode_text(self.hello))
            self.welcome = await welcome
        except BaseException:
            await self._ws.close()  # refused or cancelled: leave nothing open behind
            raise
        self.connected.set()

    async def _reconnect(self) -> None:
        """Try again and again (backing off to 2 s) until the server answers or the user
        closes; then start over from the server's full state."""
        delay = 0.2
        while not self._user_closed:
            await asyncio.sleep(delay)
            try:
                await self._open()
            except (OSError, TimeoutError, ConnectionLost, RemoteError,
                    ConnectionRefusedError) as exc:
                log.info("reconnect failed: %s", exc)
                delay = min(2.0, delay * 2)
                continue
            self._notify_connection("connected")
            self._call_listeners(self._state_listeners,
                                 {"camera", "dims", "canvas", "layers", "selection"})
            return

    def close(self) -> None:
        self._user_closed = True
        try:
            run_sync(self._close(), 10)
        except Exception:  # already gone: nothing to tidy
            log.debug("close failed", exc_info=True)
        self.closed.set()
        self.connected.clear()

    async def _close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._ws is not None:
            await self._ws.close()

    # -- listeners -------------------------------------------------------------------
    def on_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def on_frame(self, listener: FrameListener) -> None:
        self._frame_listeners.append(listener)

    def on_connection(self, listener: Callable[[str], None]) -> None:
        """``listener("disconnected")`` when the link drops, ``("connected")`` when a
        reconnect succeeds (network thread)."""
        self._connection_listeners.append(listener)

    def _notify_connection(self, state: str) -> None:
        self._call_listeners(self._connection_listeners, state)

    @staticmethod
    def _call_listeners(listeners: list[Callable[[Any], None]], value: Any) -> None:
        # a listener's bug must not stop the reader (frames would go unacknowledged)
        for listener in listeners:
            try:
                listener(value)
            except Exception:
                log.exception("a connection listener failed")

    # -- sending ---------------------------------------------------------------------
    def send_command(self, op: str, args: dict[str, Any] | None = None, *,
                     payload: bytes | None = None, t: float | None = None,
                     on_reply: Callable[[Any], None] | None = None,
                     local: Callable[[StateMirror, int], None] | None = None) -> int:
        """Queue a command without waiting; returns its id.

        Arguments are validated here first, so a bad value raises in the caller instead
        of travelling. ``local(mirror, id)`` records an optimistic change in the mirror
        before the command leaves (so no answer can overtake it). ``on_reply`` is called
        on the network thread with the reply's result, or the RemoteError. Ids are taken
        and messages queued under one lock, so they reach the server in id order.
        """
        args = args or {}
        validate_command_args(op, args, has_payload=payload is not None)
        with self._send_lock:
            if self.closed.is_set() or not self.connected.is_set():
                raise ConnectionLost("not connected to the server")
            cid = next(self._ids)
            if local is not None:
                with self.lock:
                    local(self.mirror, cid)
            msg: dict[str, Any] = {"type": "command", "id": cid, "op": op, "args": args}
            if t is not None:
                msg["t"] = t
            data = encode_binary(msg, payload) if payload is not None else encode_text(msg)
            get_loop().call_soon_threadsafe(self._send_soon, data, cid, on_reply)
        return cid

    def _send_soon(self, data: str | bytes, cid: int,
                   on_reply: Callable[[Any], None] | None) -> None:
        if on_reply is not None:  # registered before the command can be answered
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiters[cid] = future
            future.add_done_callback(
                lambda f: None if f.cancelled() else on_reply(f.exception() or f.result()))
            if not self.connected.is_set():
                future.set_exception(ConnectionLost("not connected to the server"))
                return
        if self._ws is not None:
            task = asyncio.ensure_future(self._send(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, data: str | bytes) -> None:
        assert self._ws is not None
        try:
            await self._ws.send(data)
        except ConnectionClosed:
            log.debug("not sent: the connection closed")  # the reader reconnects or ends

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

    # -- receiving -------------------------------------------------------------------
    async def _read(self) -> None:
        assert self._ws is not None
        try:
            idle_since = time.perf_counter()
            async for raw in self._ws:
                try:
                    if isinstance(raw, bytes):
                        now = time.perf_counter()
                        header, payload = decode_binary(raw)
                        self._count(str(header.get("type")), len(raw))
                        await self._on_frame(Frame(header, bytes(payload), now,
                                                   waited=now - idle_since))
                    else:
                        msg = decode_text(raw)
                        self._count(msg["type"], len(raw))
                        self._on_message(msg)
                except ProtocolError as exc:
                    log.warning("bad message from server: %s", exc.message)
                idle_since = time.perf_counter()
        except ConnectionClosed:
            pass
        finally:
            self.connected.clear()
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(ConnectionLost("connection to the server closed"))
            self._waiters.clear()
            retrying = self._reconnecting is not None and not self._reconnecting.done()
            if self.reconnect and not self._user_closed and self.welcome:
                if not retrying:  # a failed attempt inside _reconnect ends up here too
                    self._notify_connection("disconnected")
                    self._reconnecting = asyncio.ensure_future(self._reconnect())
            else:
                self.closed.set()

    def _count(self, kind: str, size: int) -> None:
        self.traffic[kind] = self.traffic.get(kind, 0) + size

    def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "welcome":
            self._tiles_canvas = None  # a new connection starts from a full picture
            self._video = None  # and a new video stream from a keyframe
            with self.lock:
                self.mirror.reset(msg["state"], msg["version"])
            self._resolve(-1, msg)
        elif kind == "state":
            with self.lock:
                changed = self.mirror.apply_server(msg["patch"], msg["version"],
                                                   msg.get("applied", -1))
            self._call_listeners(self._state_listeners, changed)
        elif kind == "reply":
            with self.lock:  # the batch's state patch came first: local values are in it
                self.mirror.confirm(msg["id"])
            self._resolve(msg["id"], msg.get("result", {}))
        elif kind == "error":
            err = RemoteError(msg.get("code", "error"), msg.get("message", ""))
            cid = msg.get("id")
            if cid is not None:
                with self.lock:
                    self.mirror.confirm(cid)  # drops the refused value too
                future = self._waiters.pop(cid, None)
                if future is not None and not future.done():
                    future.set_exception(err)
                    return
            welcome = self._waiters.pop(-1, None)
            if welcome is not None and not welcome.done():
                welcome.set_exception(err)  # refused before the session started
                return
            log.warning("server error: %s", err)
            self.errors.append(err)

    def _resolve(self, key: int, value: Any) -> None:
        future = self._waiters.pop(key, None)
        if future is not None and not future.done():
            future.set_result(value)

    async def _on_frame(self, frame: Frame) -> None:
        reply_to = frame.header.get("reply_to")
        if reply_to is not None:
            self._resolve(reply_to, frame)
            return
        encoding = frame.header.get("encoding")
        try:
            if encoding == "tiles":
                frame = self._assemble(frame)
            elif encoding == "h264":
                frame = self._decode_video(frame)
        except Exception as exc:  # a frame we cannot use must not end the connection
            log.warning("dropped frame %s (%s): %s", frame.header.get("seq"), encoding, exc)
        else:
            self.latest_frame = frame
            self._call_listeners(self._frame_listeners, frame)
        if self.auto_ack:
            await self.ack(frame.header["seq"], frame.received, frame.waited)

    def _assemble(self, frame: Frame) -> Frame:
        """Paint a tile update into this connection's copy of the picture."""
        h = frame.header
        shape = (h["height"], h["width"], 4)
        if self._tiles_canvas is None or self._tiles_canvas.shape != shape:
            self._tiles_canvas = np.zeros(shape, np.uint8)
        self._tiles_canvas = apply_update(self._tiles_canvas, h["tiles"], frame.payload,
                                          h.get("shift"))
        return Frame(h, frame.payload, frame.received, image=self._tiles_canvas.copy(),
                     waited=frame.waited)

    def _decode_video(self, frame: Frame) -> Frame:
        """H.264 frames decode on top of the previous ones: one decoder per connection."""
        if self._video is None:
            self._video = VideoDecoder()
        h = frame.header
        image = self._video.decode(frame.payload, h["width"], h["height"])
        return Frame(h, frame.payload, frame.received, image=image, waited=frame.waited)

    async def ack(self, seq: int, received: float | None = None,
                  waited: float | None = None) -> None:
        """Acknowledge frames up to ``seq``; ``received`` (this process's clock) and
        ``waited`` tell the server how fast frames arrive, which paces its stream."""
        if self._ws is not None:
            message: dict[str, Any] = {"type": "ack", "seq": seq}
            if received is not None:
                message["received"] = received
            if waited is not None:
                message["waited"] = round(waited, 6)
            try:
                await self._ws.send(encode_text(message))
            except ConnectionClosed:
                log.debug("ack not sent: the connection closed")
