"""Framing of messages on a websocket.

Two kinds of websocket message carry the protocol:

* text: one UTF-8 JSON object with a ``type`` key. All control traffic (hello, commands,
  state patches, replies, errors, pings) is text so it can be read in any browser tool.
* binary: a fixed 8-byte prefix, a JSON header, then a raw payload. Used where bulk bytes
  travel: encoded frames (server to client) and array data for ``layer.add_image``
  (client to server). Keeping the payload out of JSON avoids base64 and copies.

  ``b"NE" | u8 format version | u8 reserved | u32 big-endian header length | header | payload``
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from napari_engine.protocol.errors import ErrorCode, ProtocolError

BINARY_MAGIC = b"NE"
BINARY_FORMAT_VERSION = 1
_PREFIX = struct.Struct(">2sBBI")
#: a binary message's prefix: magic, format version, reserved, header length
BINARY_PREFIX = _PREFIX

#: Largest text message a peer may send (a command is a few hundred bytes).
MAX_TEXT_BYTES = 1 << 20
#: Largest binary message a client may send (array data for add_image).
MAX_BINARY_BYTES = 512 << 20
#: Largest text message a client accepts from its server: a state holding a large points
#: or shapes layer is megabytes of JSON (60,000 points: 3.4 MB), which napari holds
#: without trouble; the 1 MiB limit guards the server from its clients, not the reverse.
MAX_SERVER_TEXT_BYTES = MAX_BINARY_BYTES
#: Largest JSON header inside a binary message.
MAX_HEADER_BYTES = 64 << 10


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays show up in napari state; turn them into plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _sanitize(obj: Any) -> Any:
    """Replace non-finite floats, which JSON cannot carry, by None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitize(v) for v in obj]
    return obj


def encode_text(message: dict[str, Any]) -> str:
    """Serialise one control message to a JSON string (NaN and infinities become null)."""
    try:
        return json.dumps(message, default=_json_default, separators=(",", ":"), allow_nan=False)
    except ValueError:
        plain = json.loads(json.dumps(message, default=_json_default))
        return json.dumps(_sanitize(plain), separators=(",", ":"), allow_nan=False)


def decode_text(data: str | bytes, *, max_bytes: int = MAX_TEXT_BYTES) -> dict[str, Any]:
    """Parse one text message into a dict, refusing anything that is not a JSON object."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE,
                            f"text message of {size} bytes exceeds the {max_bytes}-byte limit")
    try:
        obj = json.loads(data, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"message is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.MALFORMED, f"message nests deeper than {MAX_DEPTH} "
                            "levels") from None
    if _too_deep(obj):
        raise ProtocolError(ErrorCode.MALFORMED, f"message nests deeper than {MAX_DEPTH} "
                            "levels")
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.MALFORMED, "message must be a JSON object")
    if not isinstance(obj.get("type"), str):
        raise ProtocolError(ErrorCode.MALFORMED, "message has no string 'type'")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


#: the integers a message may hold (64-bit): beyond, they mean nothing here, and one
#: past a float's range breaks every finite-number check
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
#: the deepest nesting of arrays and objects a message may have (the deepest the
#: protocol uses is 4: a shapes layer's vertices in a command's arguments)
MAX_DEPTH = 32


def _bounded_int(text: str) -> int:
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise ValueError(f"integer {text[:20]}... is out of range")
    return value


def _too_deep(obj: Any) -> bool:
    """Whether ``obj`` nests more than ``MAX_DEPTH`` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list))
    return False


def encode_binary(header: dict[str, Any], payload: bytes | bytearray | memoryview) -> bytes:
    """Frame a header and a payload as one binary websocket message."""
    head = encode_text(header).encode()
    return b"".join((_PREFIX.pack(BINARY_MAGIC, BINARY_FORMAT_VERSION, 0, len(head)), head,
                     bytes(payload) if not isinstance(payload, bytes) else payload))


def decode_binary(data: bytes, *, max_bytes: int = MAX_BINARY_BYTES,
                  ) -> tuple[dict[str, Any], memoryview]:
    """Split one binary websocket message into its header and a view of its payload."""
    if len(data) > max_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"binary message of {len(data)} bytes "
                            f"exceeds the {max_bytes}-byte limit")
    if len(data) < _PREFIX.size:
        raise ProtocolError(ErrorCode.MALFORMED, "binary message shorter than its prefix")
    magic, version, _reserved, head_len = _PREFIX.unpack_from(data)
    if magic != BINARY_MAGIC:
        raise ProtocolError(ErrorCode.MALFORMED, "binary message does not start with b'NE'")
    if version != BINARY_FORMAT_VERSION:
        raise ProtocolError(ErrorCode.VERSION, f"binary format version {version} is not supported")
    if head_len > MAX_HEADER_BYTES or _PREFIX.size + head_len > len(data):
        raise ProtocolError(ErrorCode.MALFORMED, "binary header length is out of range")
    view = memoryview(data)
    header = decode_text(bytes(view[_PREFIX.size:_PREFIX.size + head_len]))
    return header, view[_PREFIX.size + head_len:]
