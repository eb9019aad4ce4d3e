"""Protocol errors: one exception type with a machine-readable code.

A ProtocolError never ends a session by itself: the server answers it with an
``error`` message (code + one-line text) and keeps going. Only the transport decides
to close a connection (for example when the peer vanished).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self


class ErrorCode(StrEnum):
    """Why a message was refused; stable strings that clients may switch on."""

    MALFORMED = "malformed"  # not JSON, not an object, bad binary framing
    TOO_LARGE = "too_large"  # over the size limit for its kind
    UNKNOWN_TYPE = "unknown_type"  # a message type the protocol does not name
    UNKNOWN_OP = "unknown_op"  # a command operation the protocol does not name
    INVALID = "invalid"  # right shape, wrong values
    VERSION = "version"  # incompatible protocol version
    STATE = "state"  # not allowed now (e.g. a command before hello)
    NOT_FOUND = "not_found"  # names a layer or path that does not exist
    FAILED = "failed"  # valid, but napari refused or the operation failed


class ProtocolError(Exception):
    """A message the protocol refuses, with the reason to send back."""

    def __init__(self, code: ErrorCode, message: str, *, request_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def to_error(self) -> ErrorMessage:
        """The ``error`` message that tells the peer what went wrong."""
        return ErrorMessage(code=str(self.code), message=self.message, id=self.request_id)

    def to_message(self) -> dict[str, Any]:
        return self.to_error().to_message()


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """A refused message, on the wire: ``code`` (an ``ErrorCode`` string a client may
    switch on), a one-line ``message``, and the request ``id`` when it had one."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    id: int | None = None

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": self.TYPE, "code": self.code, "message": self.message}
        if self.id is not None:
            msg["id"] = self.id
        return msg

    @classmethod
    def parse(cls, msg: dict[str, Any]) -> Self:
        return cls(code=str(msg.get("code", "error")), message=str(msg.get("message", "")),
                   id=msg.get("id"))
