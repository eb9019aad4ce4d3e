"""The client's side of the protocol, without I/O: bytes in, events out, bytes to send.

Like the ``websockets`` and ``h11`` protocol objects, ``ClientCore`` never touches a
socket, a thread or a clock: the connection feeds it each message with its arrival time
(``receive``), takes what it must send (``data_to_send``), and acts on the events it
returns. It keeps the ``StateMirror`` (merging patches with this client's optimistic
changes), answers each streamed frame with an ``ack`` at once (before anyone decodes
it, so the client's own decoding never shows in the server's link estimate), and turns
replies and errors into answers for the commands that asked. Because it is plain code,
the client's protocol logic is tested in memory, message by message.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_engine.client.frames import Frame
from napari_engine.protocol import (
    MAX_SERVER_TEXT_BYTES,
    Ack,
    Command,
    DataReply,
    ErrorCode,
    ErrorMessage,
    FrameHeader,
    Hello,
    Pong,
    ProtocolError,
    Reply,
    StateMirror,
    StatePatch,
    Welcome,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
    parse_server_message,
)
from napari_engine.protocol.ops import operation, validate_command_args


class RemoteError(Exception):
    """The server refused or failed a request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """The connection to the server is gone."""


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Welcomed:
    """The session accepted this client; the mirror holds its full state."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class StateChanged:
    """These sections of the mirrored state changed."""

    sections: frozenset[str]


@dataclass(frozen=True, slots=True)
class Answered:
    """Command ``id`` was answered: its result, a screenshot ``Frame``, the voxels of a
    ``layer.read``, or the error."""

    id: int
    result: dict[str, Any] | Frame | np.ndarray | RemoteError


@dataclass(frozen=True, slots=True)
class Refused:
    """The server refused something that carried no id (or the hello itself, before any
    welcome: then the session never started)."""

    error: RemoteError
    before_welcome: bool


@dataclass(frozen=True, slots=True)
class FrameArrived:
    """A streamed frame (still encoded); its ack is already queued."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Ponged:
    """The answer to our ping ``t``."""

    t: float


Event = Welcomed | StateChanged | Answered | Refused | FrameArrived | Ponged
#: ``local(mirror, command_id)``: record an optimistic change before the command leaves
Local = Callable[[StateMirror, int], None]


class ClientCore:
    """One connection's protocol state. Not thread-safe: the caller serialises calls."""

    def __init__(self, hello: Hello, *, auto_ack: bool = True) -> None:
        self.hello = hello
        self.auto_ack = auto_ack
        self.mirror = StateMirror()
        self.welcome: Welcome | None = None
        #: bytes received, by message type: what crossed the network
        self.traffic: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._outgoing: list[str | bytes] = []

    # -- sending -----------------------------------------------------------------------
    def connect(self) -> None:
        """A new connection (or a reconnect): say hello, wait for a new welcome."""
        self.welcome = None
        self._outgoing = [encode_text(self.hello.to_message())]

    def command(self, op: str, args: dict[str, Any] | None = None, *,
                payload: bytes | None = None, t: float | None = None,
                local: Local | None = None) -> int:
        """Queue a command; returns its id. Arguments are validated first, so a bad value
        raises here instead of travelling; ``local`` records an optimistic change in the
        mirror under the new id before the command is queued."""
        args = args or {}
        validate_command_args(op, args, has_payload=payload is not None)  # raises if bad
        command = self.begin_command(op, args, t=t, local=local)
        self.queue(encode_command(command, payload))
        return command.id or 0

    def begin_command(self, op: str, args: dict[str, Any], *, t: float | None = None,
                      local: Local | None = None) -> Command:
        """The next command, with its id, its optimistic change recorded (arguments
        already validated by the caller): the part of ``command`` that needs the mirror,
        so a shell can encode a large payload without holding the mirror's lock."""
        cid = next(self._ids)
        if local is not None:
            local(self.mirror, cid)
        return Command(operation(op), args, id=cid, t=t)

    def queue(self, data: str | bytes) -> None:
        """Queue an encoded message to send (commands in id order)."""
        self._outgoing.append(data)

    def ack(self, seq: int, received: float | None = None, waited: float | None = None) -> None:
        self.queue(encode_text(Ack(seq, received, waited).to_message()))

    def data_to_send(self) -> list[str | bytes]:
        """Everything queued since the last call, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    # -- receiving ---------------------------------------------------------------------
    def receive(self, data: str | bytes, *, now: float, waited: float = 0.0) -> list[Event]:
        """One websocket message from the server -> what happened. Raises
        ``ProtocolError`` for a message it cannot read (the caller logs it and goes on)."""
        if isinstance(data, bytes):
            raw, payload = decode_binary(data)
            self._count(str(raw.get("type")), len(data))
            header = parse_server_message(raw)
            if isinstance(header, DataReply):
                return [*self._confirm(header.id), Answered(header.id, _voxels(header, payload))]
            if not isinstance(header, FrameHeader):
                raise _malformed("binary messages from the server are frames and data")
            return self._frame(Frame(header, bytes(payload), now, waited=waited))
        raw = decode_text(data, max_bytes=MAX_SERVER_TEXT_BYTES)
        self._count(str(raw["type"]), len(data))
        return self._control(parse_server_message(raw))

    def _confirm(self, command_id: int) -> list[Event]:
        """Our commands up to ``command_id`` are answered: their optimistic values give
        way to the server's (which differ where it refused or clamped one)."""
        if self.mirror.confirm(command_id):
            return [StateChanged(frozenset(self.mirror.state))]
        return []

    def _count(self, kind: str, size: int) -> None:
        self.traffic[kind] = self.traffic.get(kind, 0) + size

    def _frame(self, frame: Frame) -> list[Event]:
        if frame.header.reply_to is not None:
            return [Answered(frame.header.reply_to, frame)]
        if self.auto_ack:
            self.ack(frame.header.seq, frame.received, frame.waited)
        return [FrameArrived(frame)]

    def _control(self, message: Any) -> list[Event]:
        if isinstance(message, Welcome):
            self.welcome = message
            self.mirror.reset(message.state, message.version)
            return [Welcomed(message)]
        if isinstance(message, StatePatch):
            changed = self.mirror.apply_server(message.patch, message.version, message.applied)
            return [StateChanged(frozenset(changed))] if changed else []
        if isinstance(message, Reply):
            # the batch's state patch came first: the command's outcome is in the mirror
            return [*self._confirm(message.id), Answered(message.id, message.result)]
        if isinstance(message, ErrorMessage):
            error = RemoteError(message.code, message.message)
            if message.id is not None:  # drops the refused value too
                return [*self._confirm(message.id), Answered(message.id, error)]
            return [Refused(error, before_welcome=self.welcome is None)]
        if isinstance(message, Pong):
            return [Ponged(message.t)]
        raise _malformed(f"unexpected '{type(message).__name__}' message")


def encode_command(command: Command, payload: bytes | None = None) -> str | bytes:
    """A command as a websocket message (binary when it carries a payload)."""
    message = command.to_message()
    return encode_binary(message, payload) if payload is not None else encode_text(message)


def _voxels(header: DataReply, payload: bytes | memoryview) -> np.ndarray:
    """A ``data`` reply's voxels (a copy: the message buffer is not kept)."""
    try:
        dtype = np.dtype(header.dtype)
        if dtype.kind not in "biuf":
            raise TypeError(dtype)
        return np.frombuffer(payload, dtype).reshape(header.shape).copy()
    except (TypeError, ValueError):
        raise _malformed(f"a data reply of {len(payload)} bytes is not {header.dtype} "
                         f"{list(header.shape)}") from None


def _malformed(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.MALFORMED, message)
