"""Server-to-client messages: typed both ways, and what the client cannot read is a clear
protocol error."""

from __future__ import annotations

from typing import Any

import pytest

from napari_engine.protocol import (
    SERVER_MESSAGES,
    ErrorCode,
    ErrorMessage,
    FrameHeader,
    FrameView,
    Pong,
    ProtocolError,
    Reply,
    StatePatch,
    Tile,
    Timings,
    Welcome,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
    parse_server_message,
)

VIEW = FrameView(ndisplay=2, center=(0.0, 5.5, 6.5), zoom=2.0, angles=(0.0, 0.0, 90.0),
                 current_step=(3, 0, 0))
FRAME = FrameHeader(seq=7, render=3, version=9, width=64, height=48, encoding="tiles",
                    lossless=False, scale=1.0, view=VIEW, still=False,
                    timings=Timings(load_ms=1.25, render_ms=2.5, readback_ms=0.5,
                                    encode_ms=3.0, server_ms=8.0),
                    strips=True, input_t=12.5,
                    tiles=(Tile(0, 0, 64, 48, "jpeg", 0, 100),), shift=(-8, -2))
MESSAGES = [
    Welcome(protocol=1, server="napari-engine", session="s", client_id=4, version=2,
            state={"camera": {"zoom": 1.0}, "layers": []}, operations=("camera.set", "sync")),
    StatePatch(version=3, applied=12, patch={"camera": {"zoom": 2.0}}),
    Reply(id=5, result={"layers": [1]}, version=3),
    ErrorMessage(code="invalid", message="'zoom' must be ...", id=6),
    ErrorMessage(code="malformed", message="not JSON"),
    Pong(t=1.5),
    FRAME,
    FrameHeader(seq=1, render=1, version=1, width=2, height=2, encoding="zstd", lossless=True,
                scale=1.0, view=None, still=True, reply_to=3),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_each_message_survives_the_wire(message: Any) -> None:
    if isinstance(message, FrameHeader):
        header, payload = decode_binary(encode_binary(message.to_message(), b"pixels"))
        assert bytes(payload) == b"pixels"
    else:
        header = decode_text(encode_text(message.to_message()))
    assert parse_server_message(header) == message


def test_the_table_names_every_message_type() -> None:
    assert set(SERVER_MESSAGES) == {"welcome", "state", "reply", "error", "pong", "frame",
                                    "data"}
    for kind, cls in SERVER_MESSAGES.items():
        assert kind == cls.TYPE


def test_optional_frame_fields_stay_off_the_wire() -> None:
    plain = FrameHeader(seq=1, render=1, version=1, width=2, height=2, encoding="jpeg",
                        lossless=False, scale=0.5, view=VIEW, still=False).to_message()
    assert not {"strips", "input_t", "reply_to", "tiles", "shift", "keyframe"} & set(plain)
    assert plain["timings"] == {"load_ms": 0.0, "render_ms": 0.0, "readback_ms": 0.0,
                                "encode_ms": 0.0, "server_ms": 0.0}


def test_the_encoder_adds_to_a_header_without_changing_it() -> None:
    done = FRAME.with_encoding(keyframe=True)
    assert done.keyframe and FRAME.keyframe is None and done.seq == FRAME.seq


@pytest.mark.parametrize("message, code", [
    ({"type": "teleport"}, ErrorCode.UNKNOWN_TYPE),
    ({"type": "state", "patch": {}}, ErrorCode.MALFORMED),  # no version
    ({"type": "reply"}, ErrorCode.MALFORMED),  # no id
    ({"type": "frame", "seq": 1}, ErrorCode.MALFORMED),
    ({**FRAME.to_message(), "view": {"ndisplay": 2}}, ErrorCode.MALFORMED),
    ({**FRAME.to_message(), "tiles": [[0, 0, 1]]}, ErrorCode.MALFORMED),
])
def test_an_unreadable_message_is_a_protocol_error(message: dict[str, Any],
                                                   code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_server_message(message)
    assert info.value.code is code


def test_a_protocol_error_becomes_the_error_message() -> None:
    error = ProtocolError(ErrorCode.NOT_FOUND, "no layer with id 9", request_id=4)
    assert error.to_error() == ErrorMessage("not_found", "no layer with id 9", 4)
    assert error.to_message() == {"type": "error", "code": "not_found",
                                  "message": "no layer with id 9", "id": 4}
