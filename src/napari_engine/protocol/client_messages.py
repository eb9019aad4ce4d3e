"""Client-to-server messages: frozen dataclasses, built by clients with ``to_message()``
and parsed by the server with ``parse_client_message()``, which validates every field
(the server trusts no client).

The message types a client may send:

* ``hello``: first message; protocol version, stream preferences, canvas size.
* ``command``: a named operation with arguments (see ``ops``), optionally an ``id`` the
  server answers with ``reply`` or ``error``, and a client timestamp ``t`` the server
  echoes in the first frame that reflects the command (input-to-frame latency).
* ``ack``: the client has taken frame ``seq``; returns one flow-control credit.
* ``ping``: the server answers ``pong`` with the same ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.ops import OPERATIONS, Op, operation

PROTOCOL_VERSION = 1

#: How many frames a client may have unacknowledged, unless it asks for fewer/more.
DEFAULT_MAX_IN_FLIGHT = 2
MAX_IN_FLIGHT_LIMIT = 8
DEFAULT_JPEG_QUALITY = 80
MIN_CANVAS, MAX_CANVAS = 16, 8192


class StreamMode(StrEnum):
    """How the server encodes the frames it streams to one client."""

    AUTO = "auto"  # tiles (H.264 on a thin link) while moving, a still once the scene rests
    JPEG = "jpeg"  # always JPEG, never a lossless still
    LOSSLESS = "lossless"  # always lossless (tests, fidelity checks)
    TILES = "tiles"  # only the tiles that changed since the client's picture; a still at rest
    VIDEO = "video"  # H.264 while moving (whatever the link), a still once the scene rests
    NONE = "none"  # no streamed frames; only frames asked for with ``screenshot``


class ViewMode(StrEnum):
    """Whose camera and dims a client looks through (its canvas size is always its own)."""

    SHARED = "shared"  # the session's: every shared client sees what the others move to
    OWN = "own"  # its own: it starts where the session is, then moves alone


def _without_none(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message of a connection."""

    TYPE: ClassVar[str] = "hello"
    protocol: int = PROTOCOL_VERSION
    client: str = "unknown"
    stream: StreamMode = StreamMode.AUTO
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    size: tuple[int, int] | None = None  # (width, height) of the client's canvas
    view: ViewMode = ViewMode.SHARED

    def to_message(self) -> dict[str, Any]:
        return _without_none({
            "type": self.TYPE, "protocol": self.protocol, "client": self.client,
            "stream": str(self.stream), "jpeg_quality": self.jpeg_quality,
            "max_in_flight": self.max_in_flight,
            "size": list(self.size) if self.size is not None else None,
            "view": str(self.view)})


@dataclass(frozen=True, slots=True)
class Command:
    """One named operation; its ``args`` are validated for ``op`` when parsed."""

    TYPE: ClassVar[str] = "command"
    op: Op
    args: dict[str, Any]
    id: int | None = None
    t: float | None = None
    payload: bytes | memoryview | None = field(default=None, repr=False)

    def to_message(self) -> dict[str, Any]:
        """The JSON part (a payload travels after it in a binary message)."""
        return _without_none({"type": self.TYPE, "id": self.id, "op": str(self.op),
                              "args": self.args, "t": self.t})


@dataclass(frozen=True, slots=True)
class Ack:
    """The client took frame ``seq`` (and every earlier one)."""

    TYPE: ClassVar[str] = "ack"
    seq: int
    #: when the frame ``seq`` arrived, in seconds of the client's own clock (only the
    #: differences between acks are used: how fast frames arrived, not when)
    received: float | None = None
    #: seconds the client waited for it after handling the previous message (0: the
    #: frame was already there, so its arrival time says nothing about the link)
    waited: float | None = None

    def to_message(self) -> dict[str, Any]:
        return _without_none({"type": self.TYPE, "seq": self.seq, "received": self.received,
                              "waited": None if self.waited is None
                              else round(self.waited, 6)})


@dataclass(frozen=True, slots=True)
class Ping:
    """Answered by ``pong`` with the same ``t``."""

    TYPE: ClassVar[str] = "ping"
    t: float

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, "t": self.t}


ClientMessage = Hello | Command | Ack | Ping


def _int(msg: dict[str, Any], key: str, *, lo: int, hi: int, default: int | None = None) -> int:
    value = msg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(ErrorCode.INVALID, f"'{key}' must be an integer in [{lo}, {hi}]")
    return value


def _finite(msg: dict[str, Any], key: str) -> float:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(ErrorCode.INVALID, f"'{key}' must be a finite number")
    return float(value)


def _optional_finite(msg: dict[str, Any], key: str) -> float | None:
    return _finite(msg, key) if msg.get(key) is not None else None


def _request_id(msg: dict[str, Any]) -> int | None:
    if "id" not in msg or msg["id"] is None:
        return None
    return _int(msg, "id", lo=0, hi=2**53)


def _size(raw: Any) -> tuple[int, int] | None:
    if raw is None:
        return None
    if (not isinstance(raw, list) or len(raw) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool)
                       and MIN_CANVAS <= v <= MAX_CANVAS for v in raw)):
        raise ProtocolError(ErrorCode.INVALID,
                            f"'size' must be [width, height] in [{MIN_CANVAS}, {MAX_CANVAS}]")
    return raw[0], raw[1]


def parse_hello(msg: dict[str, Any]) -> Hello:
    protocol = _int(msg, "protocol", lo=0, hi=2**31)
    if protocol != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.VERSION,
                            f"protocol version {protocol} is not supported; "
                            f"this server speaks version {PROTOCOL_VERSION}")
    client = msg.get("client", "unknown")
    if not isinstance(client, str) or len(client) > 200:
        raise ProtocolError(ErrorCode.INVALID, "'client' must be a string of at most 200 chars")
    try:
        stream = StreamMode(msg.get("stream", StreamMode.AUTO))
    except ValueError:
        modes = ", ".join(m.value for m in StreamMode)
        raise ProtocolError(ErrorCode.INVALID, f"'stream' must be one of: {modes}") from None
    try:
        view = ViewMode(msg.get("view", ViewMode.SHARED))
    except ValueError:
        views = ", ".join(m.value for m in ViewMode)
        raise ProtocolError(ErrorCode.INVALID, f"'view' must be one of: {views}") from None
    return Hello(
        protocol=protocol,
        client=client,
        stream=stream,
        jpeg_quality=_int(msg, "jpeg_quality", lo=1, hi=100, default=DEFAULT_JPEG_QUALITY),
        max_in_flight=_int(msg, "max_in_flight", lo=1, hi=MAX_IN_FLIGHT_LIMIT,
                           default=DEFAULT_MAX_IN_FLIGHT),
        size=_size(msg.get("size")),
        view=view,
    )


def parse_command(msg: dict[str, Any], payload: bytes | memoryview | None = None) -> Command:
    request_id = _request_id(msg)
    name = msg.get("op")
    args = msg.get("args", {})
    try:
        if not isinstance(name, str):
            raise ProtocolError(ErrorCode.MALFORMED, "command has no string 'op'")
        if not isinstance(args, dict):
            raise ProtocolError(ErrorCode.MALFORMED, "command 'args' must be an object")
        t = _optional_finite(msg, "t")
        op = operation(name)
        spec = OPERATIONS[op]
        if spec.needs_id and request_id is None:
            raise ProtocolError(ErrorCode.INVALID, f"'{op}' needs an 'id' to answer to")
        clean = spec.validate(args, payload is not None)
    except ProtocolError as exc:
        exc.request_id = request_id
        raise
    return Command(op=op, args=clean, id=request_id, t=t, payload=payload)


def parse_client_message(msg: dict[str, Any],
                         payload: bytes | memoryview | None = None) -> ClientMessage:
    """Turn one decoded client message into a typed, validated message object.

    Raises ProtocolError (with the request id when the message had one) for anything
    the protocol does not allow; the caller answers with ``error.to_message()``.
    """
    kind = msg["type"]
    if payload is not None and kind != Command.TYPE:
        raise ProtocolError(ErrorCode.MALFORMED, f"'{kind}' messages carry no binary payload")
    if kind == Hello.TYPE:
        return parse_hello(msg)
    if kind == Command.TYPE:
        return parse_command(msg, payload)
    if kind == Ack.TYPE:
        return Ack(seq=_int(msg, "seq", lo=0, hi=2**53),
                   received=_optional_finite(msg, "received"),
                   waited=_optional_finite(msg, "waited"))
    if kind == Ping.TYPE:
        return Ping(t=_finite(msg, "t"))
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type '{kind}'")


#: Every client message type, by its ``type`` string.
CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    cls.TYPE: cls for cls in (Hello, Command, Ack, Ping)}
