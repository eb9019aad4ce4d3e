"""Server-to-client messages: frozen dataclasses, built by the server with
``to_message()`` and read by clients with ``parse_server_message()``.

The client trusts its server more than the server trusts a client, but a message it
cannot read must still be a clear ``ProtocolError``, never a ``KeyError`` deep inside a
window; so parsing checks that every required field is there, and nothing more.

* ``welcome``: the answer to ``hello``: the session, the client's id, the full state.
* ``state``: the sections of the state that changed (see ``mirror``).
* ``reply``: a command succeeded, with its result.
* ``error``: a message was refused (``errors.ErrorMessage``).
* ``pong``: the answer to ``ping``.
* ``frame``: the JSON header of a binary frame message (``FrameHeader``).
* ``data``: the JSON header of a binary message answering ``layer.read`` with voxels
  (``DataReply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, NamedTuple, Self

from napari_engine.protocol.errors import ErrorCode, ErrorMessage, ProtocolError


def _need(msg: dict[str, Any], key: str, kind: str) -> Any:
    if key not in msg:
        raise ProtocolError(ErrorCode.MALFORMED, f"'{kind}' message without '{key}'")
    return msg[key]


def _plain_fields(obj: Any) -> dict[str, Any]:
    """The dataclass's fields, without those left at None."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)
            if getattr(obj, f.name) is not None}


@dataclass(frozen=True, slots=True)
class Welcome:
    """The answer to ``hello``."""

    TYPE: ClassVar[str] = "welcome"
    protocol: int
    server: str
    session: str
    client_id: int
    version: int
    state: dict[str, Any]
    operations: tuple[str, ...]

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_plain_fields(self), "operations": list(self.operations)}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        values = {f.name: _need(msg, f.name, cls.TYPE) for f in fields(cls)}
        return cls(**{**values, "operations": tuple(values["operations"])})


@dataclass(frozen=True, slots=True)
class StatePatch:
    """The sections that changed; ``applied``: the id of the last command *from this
    client* the server had applied when it took the snapshot."""

    TYPE: ClassVar[str] = "state"
    version: int
    applied: int
    patch: dict[str, Any]

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_plain_fields(self)}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(version=_need(msg, "version", cls.TYPE), applied=msg.get("applied", -1),
                   patch=_need(msg, "patch", cls.TYPE))


@dataclass(frozen=True, slots=True)
class Reply:
    """Command ``id`` succeeded; the state patches sent before show its outcome."""

    TYPE: ClassVar[str] = "reply"
    id: int
    result: dict[str, Any]
    version: int

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_plain_fields(self)}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(id=_need(msg, "id", cls.TYPE), result=msg.get("result") or {},
                   version=msg.get("version", -1))


@dataclass(frozen=True, slots=True)
class DataReply:
    """Command ``id`` (a ``layer.read``) succeeded: its voxels, ``shape`` and ``dtype``
    in C order, are the binary message's payload (``payload``, not in the header)."""

    TYPE: ClassVar[str] = "data"
    id: int
    shape: tuple[int, ...]
    dtype: str
    version: int
    payload: bytes = b""

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "shape": list(self.shape),
                "dtype": self.dtype, "version": self.version}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        shape = _need(msg, "shape", cls.TYPE)
        return cls(id=_need(msg, "id", cls.TYPE), shape=tuple(int(s) for s in shape),
                   dtype=str(_need(msg, "dtype", cls.TYPE)), version=msg.get("version", -1))


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to ``ping``."""

    TYPE: ClassVar[str] = "pong"
    t: float

    def to_message(self) -> dict[str, Any]:
        return {"type": self.TYPE, "t": self.t}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(t=_need(msg, "t", cls.TYPE))


@dataclass(frozen=True, slots=True)
class FrameView:
    """The camera and dims a frame was drawn with: where it sits in the world, so a
    client can move and scale it locally (late warp) until the next one arrives."""

    ndisplay: int
    center: tuple[float, ...]
    zoom: float
    angles: tuple[float, ...]
    current_step: tuple[int, ...]

    def to_message(self) -> dict[str, Any]:
        return {"ndisplay": self.ndisplay, "center": list(self.center), "zoom": self.zoom,
                "angles": list(self.angles), "current_step": list(self.current_step)}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(ndisplay=int(_need(msg, "ndisplay", "view")),
                   center=tuple(float(x) for x in _need(msg, "center", "view")),
                   zoom=float(_need(msg, "zoom", "view")),
                   angles=tuple(float(x) for x in _need(msg, "angles", "view")),
                   current_step=tuple(int(x) for x in _need(msg, "current_step", "view")))


@dataclass(frozen=True, slots=True)
class Timings:
    """Where a frame's server time went, in milliseconds (the benchmark reports them)."""

    load_ms: float = 0.0  # napari's draw hooks: camera, multiscale level, data slicing
    render_ms: float = 0.0  # the GL draw, to glFinish
    readback_ms: float = 0.0
    encode_ms: float = 0.0
    server_ms: float = 0.0  # from the start of the draw to the hand-off to the network

    def to_message(self) -> dict[str, float]:
        return {f.name: round(getattr(self, f.name), 3) for f in fields(self)}

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(**{f.name: float(msg.get(f.name, 0.0)) for f in fields(cls)})


class Tile(NamedTuple):
    """One tile of a ``tiles`` frame: its box, encoding and bytes in the payload."""

    x: int
    y: int
    w: int
    h: int
    encoding: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The JSON header of a binary ``frame`` message; the payload is the encoded image."""

    TYPE: ClassVar[str] = "frame"
    seq: int
    render: int
    version: int
    width: int
    height: int
    encoding: str  # jpeg | zstd | png | tiles | h264
    lossless: bool
    scale: float  # below 1: drawn at reduced resolution; stretch to the canvas
    view: FrameView | None
    still: bool
    timings: Timings = field(default_factory=Timings)
    strips: bool = False  # a pan drawn as strips over the moved last frame
    input_t: float | None = None  # the latest command timestamp it reflects (sent once)
    reply_to: int | None = None  # the screenshot command it answers
    tiles: tuple[Tile, ...] | None = None  # encoding "tiles": what the payload holds
    shift: tuple[int, int] | None = None  # tiles: move the shown picture first
    keyframe: bool | None = None  # h264: the first frame of a (re)started stream

    def to_message(self) -> dict[str, Any]:
        msg = {"type": self.TYPE, **_plain_fields(self), "timings": self.timings.to_message()}
        if self.view is not None:
            msg["view"] = self.view.to_message()
        if not self.strips:
            del msg["strips"]
        if self.tiles is not None:
            msg["tiles"] = [list(t) for t in self.tiles]
        if self.shift is not None:
            msg["shift"] = list(self.shift)
        return msg

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        view = msg.get("view")
        tiles = msg.get("tiles")
        shift = msg.get("shift")
        required = {name: _need(msg, name, cls.TYPE) for name in (
            "seq", "render", "version", "width", "height", "encoding", "lossless", "scale",
            "still")}
        return cls(**required, view=FrameView.parse(view) if view else None,
                   timings=Timings.parse(msg.get("timings") or {}),
                   strips=bool(msg.get("strips", False)), input_t=msg.get("input_t"),
                   reply_to=msg.get("reply_to"),
                   tiles=None if tiles is None else tuple(Tile(*t) for t in tiles),
                   shift=None if shift is None else (int(shift[0]), int(shift[1])),
                   keyframe=msg.get("keyframe"))

    def with_encoding(self, **changes: Any) -> FrameHeader:
        """A copy with what the encoder adds (timings, tiles, shift, keyframe)."""
        return replace(self, **changes)


ServerMessage = Welcome | StatePatch | Reply | ErrorMessage | Pong | FrameHeader | DataReply

#: Every server message type, by its ``type`` string.
SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    cls.TYPE: cls for cls in (Welcome, StatePatch, Reply, ErrorMessage, Pong, FrameHeader,
                              DataReply)}


def parse_server_message(msg: dict[str, Any]) -> ServerMessage:
    """A decoded server message as its typed object (``ProtocolError`` if unknown or
    incomplete)."""
    cls = SERVER_MESSAGES.get(msg["type"])
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type '{msg['type']}'")
    try:
        return cls.parse(msg)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"bad '{msg['type']}' message: {exc}"
                            ) from None
