"""Client messages are parsed into typed objects; every bad field is refused clearly."""

from __future__ import annotations

from typing import Any

import pytest

from napari_engine.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Command,
    ErrorCode,
    Hello,
    Ping,
    ProtocolError,
    StreamMode,
    parse_client_message,
)


def _refused(msg: dict[str, Any], code: ErrorCode, payload: bytes | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(msg, payload)
    assert info.value.code is code, info.value.message
    return info.value


def test_hello_defaults_and_options() -> None:
    hello = parse_client_message({"type": "hello", "protocol": PROTOCOL_VERSION})
    assert hello == Hello(protocol=PROTOCOL_VERSION)
    hello = parse_client_message({"type": "hello", "protocol": PROTOCOL_VERSION,
                                  "stream": "lossless", "size": [640, 480],
                                  "max_in_flight": 3, "jpeg_quality": 60})
    assert isinstance(hello, Hello)
    assert (hello.stream, hello.size, hello.max_in_flight, hello.jpeg_quality) == (
        StreamMode.LOSSLESS, (640, 480), 3, 60)


def test_hello_refuses_other_versions_and_bad_options() -> None:
    assert "version" in _refused({"type": "hello", "protocol": 99}, ErrorCode.VERSION).message
    _refused({"type": "hello", "protocol": PROTOCOL_VERSION, "stream": "vhs"}, ErrorCode.INVALID)
    _refused({"type": "hello", "protocol": PROTOCOL_VERSION, "size": [1, 1]}, ErrorCode.INVALID)
    _refused({"type": "hello", "protocol": PROTOCOL_VERSION, "max_in_flight": 0},
             ErrorCode.INVALID)
    _refused({"type": "hello", "protocol": "1"}, ErrorCode.INVALID)


def test_command_is_validated_and_cleaned() -> None:
    cmd = parse_client_message({"type": "command", "id": 3, "op": "camera.set", "t": 1.5,
                                "args": {"zoom": 2, "center": [1, 2]}})
    assert cmd == Command(op="camera.set", args={"zoom": 2.0, "center": [1.0, 2.0]}, id=3, t=1.5)


def test_unknown_op_and_type() -> None:
    err = _refused({"type": "command", "id": 5, "op": "os.system", "args": {}},
                   ErrorCode.UNKNOWN_OP)
    assert err.request_id == 5
    _refused({"type": "launch_missiles"}, ErrorCode.UNKNOWN_TYPE)


def test_bad_command_keeps_its_id_for_the_error_reply() -> None:
    err = _refused({"type": "command", "id": 8, "op": "camera.set", "args": {"zoom": -1}},
                   ErrorCode.INVALID)
    assert err.request_id == 8


@pytest.mark.parametrize("msg", [
    {"type": "command", "op": 3},
    {"type": "command", "op": "camera.set", "args": []},
])
def test_malformed_commands(msg: dict[str, Any]) -> None:
    _refused(msg, ErrorCode.MALFORMED)


def test_ack_and_ping() -> None:
    assert parse_client_message({"type": "ack", "seq": 4}) == Ack(4)
    assert parse_client_message({"type": "ping", "t": 0.25}) == Ping(0.25)
    _refused({"type": "ack", "seq": -1}, ErrorCode.INVALID)
    assert parse_client_message({"type": "ack", "seq": 4, "received": 12.5}) == Ack(4, 12.5)
    assert parse_client_message({"type": "ack", "seq": 4, "received": 1.0, "waited": 0.5}
                                ) == Ack(4, 1.0, 0.5)
    _refused({"type": "ack", "seq": 4, "received": "soon"}, ErrorCode.INVALID)
    _refused({"type": "ack", "seq": 4, "received": float("nan")}, ErrorCode.INVALID)
    _refused({"type": "ping", "t": "now"}, ErrorCode.INVALID)


def test_payload_only_on_commands() -> None:
    _refused({"type": "ping", "t": 1.0}, ErrorCode.MALFORMED, payload=b"x")


def test_commands_that_answer_need_an_id() -> None:
    _refused({"type": "command", "op": "screenshot", "args": {}}, ErrorCode.INVALID)
    assert isinstance(parse_client_message({"type": "command", "op": "camera.set",
                                            "args": {"zoom": 1}}), Command)
