"""A raw websocket peer for tests that speak the protocol by hand (bad input included)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from napari_engine.client.connection import Connection, Frame
from napari_engine.protocol import PROTOCOL_VERSION, decode_binary


def recording_client(url: str, stream: str) -> tuple[Connection, list[Frame]]:
    """A real client (open) whose streamed frames, assembled and decoded as a viewer
    would show them, are appended to the returned list."""
    frames: list[Frame] = []
    conn = Connection(url, stream=stream)
    conn.on_frame(frames.append)
    conn.open()
    return conn, frames


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class RawClient:
    def __init__(self, url: str, *, hello: bool = True, **hello_args: Any) -> None:
        # websockets wants its sync connection entered as a context manager; this peer
        # lives across calls and closes itself in close()
        self.ws: ClientConnection = connect(url, max_size=None, compression=None).__enter__()
        self.frames: list[dict[str, Any]] = []
        self.payloads: list[bytes] = []  # of the frames, in order
        self.welcome: dict[str, Any] = {}
        if hello:
            self.send({"type": "hello", "protocol": PROTOCOL_VERSION, "stream": "none",
                       **hello_args})
            self.welcome = self.expect("welcome")

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self.ws.send(json.dumps(message) if isinstance(message, dict) else message)

    def receive(self, timeout: float = 30.0) -> dict[str, Any]:
        raw = self.ws.recv(timeout)
        if isinstance(raw, bytes):
            header, payload = decode_binary(raw)
            header["_bytes"] = len(payload)
            self.frames.append(header)
            self.payloads.append(bytes(payload))
            return header
        return json.loads(raw)  # type: ignore[no-any-return]

    def expect(self, kind: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        """Read until a message of ``kind`` (with the given fields) arrives."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} {match} within {timeout} s")
            msg = self.receive(left)
            if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
                return msg

    def expect_frame(self, timeout: float = 30.0) -> tuple[dict[str, Any], bytes]:
        """The next frame's header and payload."""
        header = self.expect("frame", timeout)
        return header, self.payloads[-1]

    def command(self, op: str, args: dict[str, Any] | None = None, cid: int = 1) -> dict[str, Any]:
        """Send a command and return its reply, error, or (screenshot) frame header."""
        self.send({"type": "command", "id": cid, "op": op, "args": args or {}})
        while True:
            msg = self.receive()
            if msg.get("id") == cid or msg.get("reply_to") == cid:
                return msg

    def close(self) -> None:
        self.ws.close()
