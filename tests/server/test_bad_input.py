"""Bad input gets a clear error and loses nothing: the session and the server carry on."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from napari_engine.protocol import PROTOCOL_VERSION, encode_binary
from napari_engine.server.process import ServerProcess
from tests.conftest import ServerFactory
from tests.server.wire import RawClient


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--token", "t", "--size", "320x240"]) as proc:
        yield proc


@pytest.fixture
def client(server: ServerProcess) -> Iterator[RawClient]:
    c = RawClient(server.url)
    yield c
    c.close()


def _still_works(client: RawClient, server: ServerProcess) -> None:
    frame = client.command("screenshot", cid=10**9)
    assert frame["type"] == "frame" and frame["reply_to"] == 10**9
    assert server.alive()


BAD_MESSAGES: list[tuple[str, Any, str]] = [
    ("not json", "{{{", "malformed"),
    ("json array", "[1, 2, 3]", "malformed"),
    ("no type", '{"op": "camera.set"}', "malformed"),
    ("unknown type", {"type": "eval", "code": "import os"}, "unknown_type"),
    ("unknown op", {"type": "command", "id": 1, "op": "__import__", "args": {}}, "unknown_op"),
    ("attribute path", {"type": "command", "id": 1, "op": "layer.set",
                        "args": {"layer": 1, "props": {"_private": 1}}}, "invalid"),
    ("bad value", {"type": "command", "id": 1, "op": "camera.set", "args": {"zoom": "big"}},
     "invalid"),
    ("oversized text", '{"type": "ping", "pad": "' + "x" * (1 << 20) + '"}', "too_large"),
    ("bad binary magic", b"XX" + struct.pack(">BBI", 1, 0, 2) + b"{}", "malformed"),
    ("truncated binary", b"NE\x01", "malformed"),
    ("second hello", {"type": "hello", "protocol": PROTOCOL_VERSION}, "state"),
    ("unknown layer", {"type": "command", "id": 1, "op": "layer.set",
                       "args": {"layer": 4242, "props": {"visible": False}}}, "not_found"),
    ("napari refuses", {"type": "command", "id": 1, "op": "layer.set",
                        "args": {"layer": 1, "props": {"colormap": "no-such-map"}}}, "invalid"),
    ("bad file", {"type": "command", "id": 1, "op": "layer.add_image",
                  "args": {"path": "/nonexistent.zarr"}}, "not_found"),
    ("payload size mismatch", encode_binary(
        {"type": "command", "id": 1, "op": "layer.add_image",
         "args": {"shape": [10, 10], "dtype": "uint16"}}, b"\0" * 7), "invalid"),
]


@pytest.mark.parametrize(("name", "message", "code"), BAD_MESSAGES,
                         ids=[m[0] for m in BAD_MESSAGES])
def test_bad_message_gets_error_and_session_goes_on(client: RawClient, server: ServerProcess,
                                                    name: str, message: Any, code: str) -> None:
    client.send(message)
    error = client.expect("error")
    assert error["code"] == code, error
    assert error["message"] and "Traceback" not in error["message"]
    if isinstance(message, dict) and "id" in message:
        assert error["id"] == message["id"]
    _still_works(client, server)


def test_command_before_hello_is_refused(server: ServerProcess) -> None:
    client = RawClient(server.url, hello=False)
    client.send({"type": "command", "id": 1, "op": "sync", "args": {}})
    assert client.expect("error")["code"] == "state"
    client.send({"type": "hello", "protocol": PROTOCOL_VERSION, "stream": "none"})
    client.expect("welcome")
    _still_works(client, server)
    client.close()


def test_wrong_protocol_version_is_refused(server: ServerProcess) -> None:
    client = RawClient(server.url, hello=False)
    client.send({"type": "hello", "protocol": 999})
    error = client.expect("error")
    assert error["code"] == "version" and "999" in error["message"]
    client.close()


def test_vanished_clients_do_not_hurt(server: ServerProcess) -> None:
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    for _ in range(3):
        # a client that streams, then drops its TCP connection without a close frame
        gone = RawClient(server.url, stream="jpeg")
        gone.send({"type": "command", "id": 1, "op": "camera.set", "args": {"zoom": 2.0}})
        gone.ws.socket.shutdown(socket.SHUT_RDWR)
        gone.ws.socket.close()
    # a half-open TCP connection that never finishes its handshake
    raw = socket.create_connection((host, int(port)))
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    survivor = RawClient(server.url)
    _still_works(survivor, server)
    survivor.close()
    raw.close()


def test_server_survives_a_flood(start_server: ServerFactory) -> None:
    server = start_server("--size", "320x240")
    client = RawClient(server.url)
    for i in range(2000):
        client.send({"type": "command", "id": i + 1, "op": "camera.set",
                     "args": {"center": [float(i % 50), 10.0]}})
    _still_works(client, server)
    client.close()
