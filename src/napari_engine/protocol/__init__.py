"""The napari-engine wire protocol: pure, with no I/O, no napari, no Qt, no GL.

Everything that crosses the network is defined here: the message types in both
directions (``client_messages``, ``server_messages``), how they are framed on a
websocket (``codec``), the named operations a client may ask for (``ops``), the layer
properties that travel (``properties``), frame flow control (``flow``), and the client's
mirror of the server state (``mirror``). The server and the clients only move bytes;
this package decides what the bytes mean.
"""

from napari_engine.protocol.client_messages import (
    CLIENT_MESSAGES,
    PROTOCOL_VERSION,
    Ack,
    ClientMessage,
    Command,
    Hello,
    Ping,
    StreamMode,
    ViewMode,
    parse_client_message,
)
from napari_engine.protocol.codec import (
    BINARY_MAGIC,
    MAX_BINARY_BYTES,
    MAX_SERVER_TEXT_BYTES,
    MAX_TEXT_BYTES,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
)
from napari_engine.protocol.errors import ErrorCode, ErrorMessage, ProtocolError
from napari_engine.protocol.flow import FrameCredits
from napari_engine.protocol.mirror import StateMirror
from napari_engine.protocol.ops import OPERATIONS, Op, OpSpec, validate_command_args
from napari_engine.protocol.properties import LAYER_PROPERTIES, LayerKind, LayerProperty, Wire
from napari_engine.protocol.server_messages import (
    SERVER_MESSAGES,
    DataReply,
    FrameHeader,
    FrameView,
    Pong,
    Reply,
    ServerMessage,
    StatePatch,
    Tile,
    Timings,
    Welcome,
    parse_server_message,
)

__all__ = [
    "BINARY_MAGIC",
    "CLIENT_MESSAGES",
    "LAYER_PROPERTIES",
    "MAX_BINARY_BYTES",
    "MAX_SERVER_TEXT_BYTES",
    "MAX_TEXT_BYTES",
    "OPERATIONS",
    "PROTOCOL_VERSION",
    "SERVER_MESSAGES",
    "Ack",
    "ClientMessage",
    "Command",
    "DataReply",
    "ErrorCode",
    "ErrorMessage",
    "FrameCredits",
    "FrameHeader",
    "FrameView",
    "Hello",
    "LayerKind",
    "LayerProperty",
    "Op",
    "OpSpec",
    "Ping",
    "Pong",
    "ProtocolError",
    "Reply",
    "ServerMessage",
    "StateMirror",
    "StatePatch",
    "StreamMode",
    "Tile",
    "Timings",
    "ViewMode",
    "Welcome",
    "Wire",
    "decode_binary",
    "decode_text",
    "encode_binary",
    "encode_text",
    "parse_client_message",
    "parse_server_message",
    "validate_command_args",
]
