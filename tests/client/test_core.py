"""The sans-I/O client core, message by message, in memory."""

from __future__ import annotations

import pytest

from napari_engine.client.core import (
    Answered,
    ClientCore,
    FrameArrived,
    Refused,
    RemoteError,
    StateChanged,
    Welcomed,
)
from napari_engine.protocol import (
    ErrorCode,
    ErrorMessage,
    FrameHeader,
    Hello,
    ProtocolError,
    decode_text,
    encode_binary,
    encode_text,
)
from tests.client.pair import MemoryConnection, MemoryServer


def _frame(seq: int, reply_to: int | None = None) -> bytes:
    header = FrameHeader(seq=seq, render=seq, version=1, width=2, height=2, encoding="zstd",
                         lossless=True, scale=1.0, view=None, still=False, reply_to=reply_to)
    return encode_binary(header.to_message(), b"payload")


def test_hello_welcome_and_the_mirror() -> None:
    conn = MemoryConnection(MemoryServer())
    assert isinstance(conn.events[0], Welcomed)
    assert conn.core.welcome is not None and conn.core.welcome.session == "s"
    assert [x["name"] for x in conn.core.mirror.state["layers"]] == ["nuclei", "membrane"]


def test_a_frame_is_acknowledged_before_anything_else_happens() -> None:
    core = ClientCore(Hello())
    events = core.receive(_frame(7), now=5.0, waited=0.25)
    assert isinstance(events[0], FrameArrived) and events[0].frame.header.seq == 7
    (ack,) = core.data_to_send()  # queued while receiving: nobody decoded anything yet
    assert decode_text(ack) == {"type": "ack", "seq": 7, "received": 5.0, "waited": 0.25}


def test_no_auto_ack_when_the_client_acks_itself() -> None:
    core = ClientCore(Hello(), auto_ack=False)
    core.receive(_frame(1), now=0.0)
    assert core.data_to_send() == []


def test_a_screenshot_answers_its_command_and_takes_no_ack() -> None:
    core = ClientCore(Hello())
    (event,) = core.receive(_frame(3, reply_to=12), now=0.0)
    assert isinstance(event, Answered) and event.id == 12
    assert core.data_to_send() == []


def test_replies_errors_and_state_changes() -> None:
    server = MemoryServer()
    server.refuse.add(("opacity", 0.25))
    conn = MemoryConnection(server)
    conn.events.clear()
    ok = conn.send_command("layer.set", {"layer": 1, "props": {"opacity": 0.5}},
                           local=lambda m, cid: m.set_local_layer(1, "opacity", 0.5, cid))
    bad = conn.send_command("layer.set", {"layer": 1, "props": {"opacity": 0.25}},
                            local=lambda m, cid: m.set_local_layer(1, "opacity", 0.25, cid))
    assert conn.core.mirror.layer(1)["opacity"] == 0.25  # optimistic, before any answer
    conn.deliver()
    kinds = [(type(e).__name__, getattr(e, "id", None)) for e in conn.events]
    assert ("Answered", ok) in kinds and ("Answered", bad) in kinds
    refused = next(e for e in conn.events if isinstance(e, Answered) and e.id == bad)
    assert isinstance(refused.result, RemoteError) and refused.result.code == "invalid"
    # the refused value gave way to the server's, and the client was told its state moved
    assert conn.core.mirror.layer(1)["opacity"] == 0.5
    assert isinstance(conn.events[-2], StateChanged)


def test_an_error_without_id_before_welcome_is_a_refused_hello() -> None:
    core = ClientCore(Hello())
    error = ErrorMessage(str(ErrorCode.VERSION), "protocol version 9 is not supported")
    (event,) = core.receive(encode_text(error.to_message()), now=0.0)
    assert isinstance(event, Refused) and event.before_welcome


def test_what_the_client_cannot_read_is_a_protocol_error() -> None:
    core = ClientCore(Hello())
    with pytest.raises(ProtocolError):
        core.receive('{"type": "teleport"}', now=0.0)
    with pytest.raises(ProtocolError):
        core.receive(b"not a frame", now=0.0)
    with pytest.raises(ProtocolError):
        core.receive(encode_binary({"type": "pong", "t": 1.0}, b""), now=0.0)


def test_a_bad_command_raises_before_it_travels() -> None:
    core = ClientCore(Hello())
    with pytest.raises(ProtocolError):
        core.command("camera.set", {"zoom": -1.0})
    with pytest.raises(ProtocolError):
        core.command("os.system", {})
    assert core.data_to_send() == []


def test_traffic_is_counted_by_message_type() -> None:
    conn = MemoryConnection(MemoryServer())
    conn.core.receive(_frame(1), now=0.0)
    assert conn.core.traffic["welcome"] > 0 and conn.core.traffic["frame"] > len(b"payload")
