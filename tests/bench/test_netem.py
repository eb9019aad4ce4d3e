"""The userspace link emulator adds the delay and bandwidth it is asked for."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from napari_engine.bench.netem import PRESETS, EmulatedLink, LinkProfile


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _round_trip(port: int, payload: bytes) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        t0 = time.perf_counter()
        sock.sendall(payload)
        got = 0
        while got < len(payload):
            got += len(sock.recv(65536))
        return time.perf_counter() - t0


def test_delay_adds_to_the_round_trip(echo_port: int) -> None:
    link = EmulatedLink("127.0.0.1", echo_port, LinkProfile("test", delay_ms=20.0))
    link.start()
    try:
        rtt = min(_round_trip(link.port, b"x") for _ in range(5))
        assert 0.038 <= rtt <= 0.2
    finally:
        link.stop()


def test_bandwidth_caps_the_throughput(echo_port: int) -> None:
    link = EmulatedLink("127.0.0.1", echo_port, LinkProfile("test", bandwidth_bps=8e6))
    link.start()
    try:
        seconds = _round_trip(link.port, b"y" * 500_000)  # 4 Mbit each way, 8 Mbit/s
        assert seconds >= 0.45
        assert link.bytes_up == 500_000 and link.bytes_down == 500_000
    finally:
        link.stop()


def test_presets_cover_the_issue_links() -> None:
    assert {"loopback", "lan", "wan", "thin"} <= set(PRESETS)
    assert PRESETS["wan"].rtt_ms == 50 and PRESETS["thin"].bandwidth_bps == 10e6
    link = EmulatedLink("127.0.0.1", 9, PRESETS["lan"])
    link.port = 1234
    assert link.url_for("ws://127.0.0.1:8765/?token=t") == "ws://127.0.0.1:1234/?token=t"
