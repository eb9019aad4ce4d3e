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


@pytest.mark.parametrize("message", [
    Hello(client="napari_engine.connect", stream=StreamMode.TILES, jpeg_quality=70,
          max_in_flight=8, size=(640, 480)),
    Hello(),
    Command(op="camera.set", args={"zoom": 2.0}, id=9, t=1.25),
    Command(op="sync", args={}, id=2),
    Ack(4, received=12.5, waited=0.25),
    Ack(5),
    Ping(0.5),
], ids=lambda m: type(m).__name__)
def test_what_a_client_builds_is_what_the_server_parses(message: Any) -> None:
    assert parse_client_message(message.to_message()) == message


def test_hello_names_the_client_and_bounds_it() -> None:
    hello = parse_client_message({"type": "hello", "protocol": PROTOCOL_VERSION,
                                  "client": "my-script"})
    assert isinstance(hello, Hello) and hello.client == "my-script"
    assert "'client'" in _refused({"type": "hello", "protocol": PROTOCOL_VERSION,
                                   "client": "x" * 201}, ErrorCode.INVALID).message
    assert "'client'" in _refused({"type": "hello", "protocol": PROTOCOL_VERSION,
                                   "client": 7}, ErrorCode.INVALID).message
    for bad, key in (({"jpeg_quality": 0}, "'jpeg_quality'"),
                     ({"jpeg_quality": 101}, "'jpeg_quality'"),
                     ({"max_in_flight": 9}, "'max_in_flight'"),
                     ({"size": [8193, 100]}, "'size'"),
                     ({"size": [100, 100, 3]}, "'size'"),
                     ({"size": [100.0, 100]}, "'size'")):
        message = {"type": "hello", "protocol": PROTOCOL_VERSION, **bad}
        assert key in _refused(message, ErrorCode.INVALID).message
    edge = parse_client_message({"type": "hello", "protocol": PROTOCOL_VERSION,
                                 "size": [16, 8192], "jpeg_quality": 1, "max_in_flight": 1})
    assert isinstance(edge, Hello) and edge.size == (16, 8192)


def test_command_ids_and_timestamps_are_checked() -> None:
    assert _refused({"type": "command", "id": -1, "op": "sync"}, ErrorCode.INVALID)
    assert _refused({"type": "command", "id": 2**53 + 1, "op": "sync"}, ErrorCode.INVALID)
    err = _refused({"type": "command", "id": 3, "op": "camera.set", "args": {"zoom": 1},
                    "t": "now"}, ErrorCode.INVALID)
    assert err.request_id == 3 and "'t'" in err.message
    cmd = parse_client_message({"type": "command", "id": None, "op": "camera.set",
                                "args": {"zoom": 1}})
    assert isinstance(cmd, Command) and cmd.id is None and cmd.t is None
