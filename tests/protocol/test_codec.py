"""The wire framing: text and binary messages round-trip; anything else is refused."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from napari_engine.protocol import (
    ErrorCode,
    ProtocolError,
    decode_binary,
    decode_text,
    encode_binary,
    encode_text,
)


def test_text_round_trip_with_numpy_values() -> None:
    msg = {"type": "state", "patch": {"zoom": np.float32(2.5), "center": np.array([1.0, 2.0]),
                                      "order": (0, 1)}}
    assert decode_text(encode_text(msg)) == {"type": "state",
                                             "patch": {"zoom": 2.5, "center": [1.0, 2.0],
                                                       "order": [0, 1]}}


def test_non_finite_floats_become_null() -> None:
    out = decode_text(encode_text({"type": "x", "v": [math.nan, math.inf, 1.0]}))
    assert out["v"] == [None, None, 1.0]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"no_type": 1}', '{"type": 3}',
                                 '{"type": "x", "v": NaN}', b"\xff\xfe"])
def test_malformed_text_is_refused(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_text(raw)
    assert info.value.code is ErrorCode.MALFORMED


def test_oversized_text_is_refused() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_text('{"type": "x", "pad": "' + "a" * 2000 + '"}', max_bytes=1000)
    assert info.value.code is ErrorCode.TOO_LARGE


def test_binary_round_trip() -> None:
    payload = bytes(range(256)) * 10
    header, view = decode_binary(encode_binary({"type": "frame", "seq": 7}, payload))
    assert header == {"type": "frame", "seq": 7}
    assert bytes(view) == payload


@pytest.mark.parametrize("raw", [
    b"NE",  # shorter than the prefix
    b"XX" + struct.pack(">BBI", 1, 0, 2) + b"{}",  # wrong magic
    b"NE" + struct.pack(">BBI", 1, 0, 1000) + b"{}",  # header length past the end
    b"NE" + struct.pack(">BBI", 1, 0, 2) + b"[]",  # header not an object
])
def test_malformed_binary_is_refused(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_binary(raw)
    assert info.value.code is ErrorCode.MALFORMED


def test_binary_version_is_checked() -> None:
    raw = b"NE" + struct.pack(">BBI", 9, 0, 13) + b'{"type":"x"}' + b" "
    with pytest.raises(ProtocolError) as info:
        decode_binary(raw[:-1])
    assert info.value.code is ErrorCode.VERSION


def test_oversized_binary_is_refused() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_binary(encode_binary({"type": "x"}, b"0" * 100), max_bytes=50)
    assert info.value.code is ErrorCode.TOO_LARGE


def test_error_message_carries_request_id() -> None:
    err = ProtocolError(ErrorCode.INVALID, "bad zoom", request_id=4)
    assert err.to_message() == {"type": "error", "code": "invalid", "message": "bad zoom", "id": 4}


def test_binary_limits_and_versions() -> None:
    good = encode_binary({"type": "frame"}, b"x" * 10)
    with pytest.raises(ProtocolError) as info:
        decode_binary(good, max_bytes=len(good) - 1)
    assert info.value.code is ErrorCode.TOO_LARGE
    assert decode_binary(good, max_bytes=len(good))[0] == {"type": "frame"}
    other_version = b"NE" + struct.pack(">BBI", 2, 0, 2) + b"{}"
    with pytest.raises(ProtocolError) as info:
        decode_binary(other_version)
    assert info.value.code is ErrorCode.VERSION
    big_header = b"NE" + struct.pack(">BBI", 1, 0, 64 * 1024 + 1) + b"{}" * 40000
    with pytest.raises(ProtocolError) as info:
        decode_binary(big_header)
    assert info.value.code is ErrorCode.MALFORMED
    assert good[:2] == b"NE" and good[2] == 1  # magic, then the format version


def test_text_size_limit_is_inclusive_and_counts_bytes() -> None:
    message = '{"type": "x", "s": "' + "é" * 10 + '"}'  # 2 bytes per é
    size = len(message.encode())
    assert decode_text(message, max_bytes=size)["s"] == "é" * 10
    with pytest.raises(ProtocolError):
        decode_text(message, max_bytes=size - 1)


def test_sets_and_unknown_objects() -> None:
    assert sorted(decode_text(encode_text({"type": "x", "s": {3, 1}}))["s"]) == [1, 3]
    with pytest.raises(TypeError):
        encode_text({"type": "x", "v": object()})
    compact = encode_text({"type": "x", "v": [1, 2]})
    assert compact == '{"type":"x","v":[1,2]}'
