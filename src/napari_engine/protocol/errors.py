"""Protocol errors: one exception type with a machine-readable code.

A ProtocolError never ends a session by itself: the server answers it with an
``error`` message (code + one-line text) and keeps going. Only the transport decides
to close a connection (for example when the peer vanished).
"""

from __future__ import annotations

from enum import StrEnum


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

    def to_message(self) -> dict[str, object]:
        """The ``error`` message that tells the peer what went wrong."""
        msg: dict[str, object] = {"type": "error", "code": str(self.code), "message": self.message}
        if self.request_id is not None:
            msg["id"] = self.request_id
        return msg
