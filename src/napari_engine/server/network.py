"""The websocket front end: authentication, session routing, and moving bytes.

Runs an asyncio loop on its own thread so that nothing the engine does (rendering,
encoding, reading chunks) can stall it. Each connection has one outgoing FIFO queue; the
engine only puts frames there while the client holds a credit, so the queue stays short.
Incoming commands are handed to the engine with a per-connection limit on how many may
be outstanding: past it, the connection stops reading and TCP pushes back on the client.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import itertools
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from napari_engine.protocol import (
    MAX_BINARY_BYTES,
    Ack,
    Command,
    DataReply,
    ErrorCode,
    FrameHeader,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    ServerMessage,
    StatePatch,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
    parse_client_message,
)
from napari_engine.server.guard import TokenThrottle, origin_allowed
from napari_engine.server.jobs import FrameAck, Job, Join, Leave, RunCommand

log = logging.getLogger(__name__)

DEFAULT_SESSION = "default"
_SESSION_PATH = re.compile(r"^/session/([A-Za-z0-9_.\-]{1,64})/?$")
MAX_OUTSTANDING_COMMANDS = 64
MAX_OUTGOING = 512  # control messages + frames queued for one client before we give up
MAX_OUTGOING_BYTES = 256 << 20


def session_from_path(path: str) -> str | None:
    """``/`` is the default session, ``/session/NAME`` a named one, anything else None."""
    if path in ("", "/"):
        return DEFAULT_SESSION
    match = _SESSION_PATH.match(path)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


@dataclass(slots=True)
class _State:
    """A state patch not sent yet: the next patches merge into it while it waits last
    in the queue (a slow reader gets the latest state, not a backlog of patches)."""

    message: StatePatch
    size: int
    taken: bool = False

    def merge(self, later: StatePatch) -> None:
        self.message = StatePatch(version=later.version, applied=later.applied,
                                  patch={**self.message.patch, **later.patch})


@dataclass(frozen=True, slots=True)
class _Frame:
    data: bytes
    sent: Callable[[float], None] | None  # told when the frame is on the socket


class Connection:
    """One client's websocket, as the engine sees it (a ``ClientSink``)."""

    def __init__(self, ws: ServerConnection, loop: asyncio.AbstractEventLoop) -> None:
        self.ws = ws
        self.loop = loop
        self.outgoing: asyncio.Queue[str | bytes | _Frame | _Close | _State] = asyncio.Queue()
        self.queued_bytes = 0
        self.slots = asyncio.Semaphore(MAX_OUTSTANDING_COMMANDS)
        #: the last item queued (a waiting state patch merges with the next one)
        self._tail: object = None
        #: the connection is being dropped (a client that does not read): nothing more
        #: is queued, and it is said once
        self.dropped = False

    # ClientSink: called from the engine and encoder threads
    def send_control(self, message: ServerMessage) -> None:
        if isinstance(message, StatePatch):
            self.loop.call_soon_threadsafe(self.put_state, message)
            return
        self.loop.call_soon_threadsafe(self.put, encode_text(message.to_message()))

    def send_frame(self, header: FrameHeader, payload: bytes,
                   sent: Callable[[float], None] | None = None) -> None:
        frame = _Frame(encode_binary(header.to_message(), payload), sent)
        self.loop.call_soon_threadsafe(self.put, frame)

    def send_data(self, reply: DataReply) -> None:
        data = encode_binary(reply.to_message(), reply.payload)
        self.loop.call_soon_threadsafe(self.put, data)

    def command_done(self) -> None:
        self.loop.call_soon_threadsafe(self.slots.release)

    def close(self, reason: str) -> None:
        """Close after everything queued so far has been sent."""
        self.loop.call_soon_threadsafe(self.outgoing.put_nowait, _Close(1011, reason))

    def put_state(self, message: StatePatch) -> None:
        """A state patch: merged into the one waiting last in the queue, if any."""
        tail = self._tail
        if isinstance(tail, _State) and not tail.taken and not self.dropped:
            tail.merge(message)
            return
        self.put(_State(message, len(encode_text(message.to_message()))))

    def put(self, item: str | bytes | _Frame | _State) -> None:
        # Frames only go out against credits, but screenshots and replies do not: a client
        # that asks and never reads must not fill the server's memory.
        if self.dropped:
            return
        if self.outgoing.qsize() >= MAX_OUTGOING or self.queued_bytes > MAX_OUTGOING_BYTES:
            self.drop("client too slow")
            return
        self.queued_bytes += _size(item)
        self.outgoing.put_nowait(item)
        self._tail = item

    def drop(self, reason: str) -> None:
        """Close a connection whose client does not read, at once and once: what is
        queued is let go (its socket is full: a polite close would wait behind it)."""
        self.dropped = True
        log.warning("client is not reading; closing its connection (%s)", reason)
        while not self.outgoing.empty():
            self.outgoing.get_nowait()
        self.queued_bytes = 0
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()

    async def sender(self) -> None:
        while True:
            item = await self.outgoing.get()
            if isinstance(item, _Close):
                await self.ws.close(item.code, item.reason)
                return
            if isinstance(item, _State):
                item.taken = True  # nothing merges into it from now on
                data: str | bytes = encode_text(item.message.to_message())
            else:
                data = item.data if isinstance(item, _Frame) else item
            self.queued_bytes -= _size(item)
            await self.ws.send(data)
            if isinstance(item, _Frame) and item.sent is not None:
                # when it left, not when it was queued: on a busy server the two differ,
                # and the link estimate must not take the server's queue for the link
                item.sent(time.perf_counter())


def _size(item: str | bytes | _Frame | _State) -> int:
    if isinstance(item, _State):
        return item.size
    return len(item.data if isinstance(item, _Frame) else item)


class NetworkServer:
    """Websocket server bound to ``host:port``; what clients send goes to ``submit``
    (the scheduler's queue) as jobs."""

    def __init__(self, submit: Callable[[Job], None], host: str, port: int,
                 token: str, *, tls: ssl.SSLContext | None = None,
                 allowed_origins: Iterable[str] = ()) -> None:
        self.submit = submit
        self.host = host
        self.port = port
        self.token = token
        #: serve wss:// (``--certfile``/``--keyfile``); None: ws://
        self.tls = tls
        #: browser pages of other origins that may connect (``--allow-origin``)
        self.allowed_origins = tuple(allowed_origins)
        self._throttle = TokenThrottle()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> int:
        """Start the loop thread; returns the bound port (useful with port 0)."""
        self._thread = threading.Thread(target=self._run, name="napari-engine-net", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        loop.run_forever()
        loop.close()

    async def _open(self) -> None:
        self._server = await serve(self._handler, self.host, self.port,
                                   process_request=self._authorize, ssl=self.tls,
                                   max_size=MAX_BINARY_BYTES, compression=None,
                                   ping_interval=20, ping_timeout=60)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._server is None:
            return
        server = self._server

        async def close() -> None:
            server.close()
            await server.wait_closed()
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- HTTP upgrade: token and path, before any state is sent ----------------------
    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        """The token (an address that keeps guessing waits, longer each time), the page
        a browser came from, and the path; never a word of the token in a log."""
        address = str(connection.remote_address[0]) if connection.remote_address else "?"
        wait = self._throttle.blocked(address)
        if wait > 0:
            log.warning("refused connection from %s: too many wrong tokens", address)
            return connection.respond(http.HTTPStatus.TOO_MANY_REQUESTS,
                                      f"too many wrong tokens; try again in {wait:.0f} s\n")
        url = urlsplit(request.path)
        given = parse_qs(url.query).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            self._throttle.failed(address)
            log.warning("refused connection from %s: %s token", address,
                        "missing" if not given else "wrong")
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
        self._throttle.succeeded(address)
        origin = request.headers.get("Origin")
        own = ("localhost", "127.0.0.1", "::1", self.host)
        if not origin_allowed(origin, request.headers.get("Host"), self.allowed_origins, own):
            log.warning("refused connection from %s: origin %r not allowed", address, origin)
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "this origin may not connect (--allow-origin)\n")
        if session_from_path(url.path) is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND,
                                      "unknown path; use / or /session/NAME\n")
        return None

    # -- one connection ----------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        session = session_from_path(urlsplit(ws.request.path).path if ws.request else "/")
        assert session is not None  # _authorize refused anything else
        client_id = next(self._ids)
        conn = Connection(ws, asyncio.get_running_loop())
        sender = asyncio.create_task(conn.sender())
        joined = False
        log.info("client %d connected to session %r from %s", client_id, session,
                 ws.remote_address)
        try:
            async for raw in ws:
                try:
                    joined = await self._receive(raw, conn, session, client_id, joined)
                except ProtocolError as exc:
                    log.info("client %d: refused message: %s", client_id, exc.message)
                    conn.put(encode_text(exc.to_message()))
        except ConnectionClosed:
            pass
        finally:
            if joined:
                self.submit(Leave(session, client_id))
            sender.cancel()
            log.info("client %d disconnected", client_id)

    async def _receive(self, raw: str | bytes, conn: Connection, session: str, client_id: int,
                       joined: bool) -> bool:
        payload = None
        if isinstance(raw, bytes):
            header, payload = decode_binary(raw)
        else:
            header = decode_text(raw)
        message = parse_client_message(header, payload)
        if isinstance(message, Hello):
            if joined:
                raise ProtocolError(ErrorCode.STATE, "hello was already received")
            self.submit(Join(session, client_id, conn, message))
            return True
        if not joined:
            raise ProtocolError(ErrorCode.STATE, "the first message must be 'hello'")
        if isinstance(message, Command):
            await conn.slots.acquire()
            self.submit(RunCommand(session, client_id, message))
        elif isinstance(message, Ack):
            self.submit(FrameAck(session, client_id, message.seq, message.received,
                                        message.waited))
        elif isinstance(message, Ping):
            conn.put(encode_text(Pong(message.t).to_message()))
        return joined
