"""The napari-engine wire protocol: pure, with no I/O, no napari, no Qt, no GL.

Everything that crosses the network is defined here: the message types, how they are
framed on a websocket, how they are validated, the named operations a client may ask
for, frame flow control, and the client's mirror of the server state. The server and
the clients only move bytes; this package decides what the bytes mean.
"""

from napari_engine.protocol.codec import (
    BINARY_MAGIC,
    MAX_BINARY_BYTES,
    MAX_TEXT_BYTES,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
)
from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.flow import FrameCredits
from napari_engine.protocol.messages import (
    PROTOCOL_VERSION,
    Ack,
    ClientMessage,
    Command,
    Hello,
    Ping,
    StreamMode,
    parse_client_message,
)
from napari_engine.protocol.mirror import StateMirror
from napari_engine.protocol.ops import OPERATIONS, validate_command_args

__all__ = [
    "BINARY_MAGIC",
    "MAX_BINARY_BYTES",
    "MAX_TEXT_BYTES",
    "OPERATIONS",
    "PROTOCOL_VERSION",
    "Ack",
    "ClientMessage",
    "Command",
    "ErrorCode",
    "FrameCredits",
    "Hello",
    "Ping",
    "ProtocolError",
    "StateMirror",
    "StreamMode",
    "decode_binary",
    "decode_text",
    "encode_binary",
    "encode_text",
    "parse_client_message",
    "validate_command_args",
]
