"""Client-to-server messages: their types, and parsing that validates every field.

Server-to-client messages are plain dicts built by the server (see docs/protocol.md);
the client trusts its server, while the server trusts no client, so only the client
direction gets typed, validated parsing here.

The message types a client may send:

* ``hello``: first message; protocol version, stream preferences, canvas size.
* ``command``: a named operation with arguments (see ``ops``), optionally an ``id`` the
  server answers with ``reply`` or ``error``, and a client timestamp ``t`` the server
  echoes in the first frame that reflects the command (input-to-frame latency).
* ``ack``: the client has shown frame ``seq``; returns one flow-control credit.
* ``ping``: the server answers ``pong`` with the same ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.ops import validate_command_args

PROTOCOL_VERSION = 1

#: How many frames a client may have unacknowledged, unless it asks for fewer/more.
DEFAULT_MAX_IN_FLIGHT = 2
MAX_IN_FLIGHT_LIMIT = 8
MIN_CANVAS, MAX_CANVAS = 16, 8192


class StreamMode(StrEnum):
    """How the server encodes the frames it streams to one client."""

    AUTO = "auto"  # tiles (H.264 on a thin link) while moving, a still once the scene rests
    JPEG = "jpeg"  # always JPEG, never a lossless still
    LOSSLESS = "lossless"  # always lossless (tests, fidelity checks)
    TILES = "tiles"  # only the tiles that changed since the client's picture; a still at rest
    VIDEO = "video"  # H.264 while moving (whatever the link), a still once the scene rests
    NONE = "none"  # no streamed frames; only frames asked for with ``screenshot``


@dataclass(frozen=True, slots=True)
class Hello:
    protocol: int
    client: str = "unknown"
    stream: StreamMode = StreamMode.AUTO
    jpeg_quality: int = 80
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    size: tuple[int, int] | None = None  # (width, height) of the client's canvas


@dataclass(frozen=True, slots=True)
class Command:
    op: str
    args: dict[str, Any]
    id: int | None = None
    t: float | None = None
    payload: bytes | memoryview | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    #: when the frame ``seq`` arrived, in seconds of the client's own clock (only the
    #: differences between acks are used: how fast frames arrived, not when)
    received: float | None = None
    #: seconds the client waited for it after handling the previous message (0: the
    #: frame was already there, so its arrival time says nothing about the link)
    waited: float | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    t: float


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


def _request_id(msg: dict[str, Any]) -> int | None:
    if "id" not in msg or msg["id"] is None:
        return None
    return _int(msg, "id", lo=0, hi=2**53)


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
    size = None
    if msg.get("size") is not None:
        raw = msg["size"]
        if (not isinstance(raw, list) or len(raw) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool)
                           and MIN_CANVAS <= v <= MAX_CANVAS for v in raw)):
            raise ProtocolError(ErrorCode.INVALID,
                                f"'size' must be [width, height] in [{MIN_CANVAS}, {MAX_CANVAS}]")
        size = (raw[0], raw[1])
    return Hello(
        protocol=protocol,
        client=client,
        stream=stream,
        jpeg_quality=_int(msg, "jpeg_quality", lo=1, hi=100, default=80),
        max_in_flight=_int(msg, "max_in_flight", lo=1, hi=MAX_IN_FLIGHT_LIMIT,
                           default=DEFAULT_MAX_IN_FLIGHT),
        size=size,
    )


def parse_command(msg: dict[str, Any], payload: bytes | memoryview | None = None) -> Command:
    request_id = _request_id(msg)
    op = msg.get("op")
    args = msg.get("args", {})
    try:
        if not isinstance(op, str):
            raise ProtocolError(ErrorCode.MALFORMED, "command has no string 'op'")
        if not isinstance(args, dict):
            raise ProtocolError(ErrorCode.MALFORMED, "command 'args' must be an object")
        t = _finite(msg, "t") if msg.get("t") is not None else None
        if op in ("screenshot", "sync") and request_id is None:
            raise ProtocolError(ErrorCode.INVALID, f"'{op}' needs an 'id' to answer to")
        clean = validate_command_args(op, args, has_payload=payload is not None)
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
    if payload is not None and kind != "command":
        raise ProtocolError(ErrorCode.MALFORMED, f"'{kind}' messages carry no binary payload")
    if kind == "hello":
        return parse_hello(msg)
    if kind == "command":
        return parse_command(msg, payload)
    if kind == "ack":
        received = _finite(msg, "received") if "received" in msg else None
        waited = _finite(msg, "waited") if "waited" in msg else None
        return Ack(seq=_int(msg, "seq", lo=0, hi=2**53), received=received, waited=waited)
    if kind == "ping":
        return Ping(t=_finite(msg, "t"))
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type '{kind}'")
