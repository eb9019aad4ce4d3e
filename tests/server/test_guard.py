"""The rules at the door (``server.guard``): wrong tokens slowed per address, browsers'
origins, the token kept out of logs. Pure: a fake clock."""

from __future__ import annotations

import logging

import pytest

from napari_engine.server.guard import (
    ALLOWED_FAILURES,
    FIRST_WAIT_S,
    WINDOW_S,
    RedactTokens,
    TokenThrottle,
    is_loopback,
    origin_allowed,
    redact,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_that_keeps_guessing_waits_longer_each_time() -> None:
    clock = Clock()
    throttle = TokenThrottle(clock)
    for _ in range(ALLOWED_FAILURES - 1):
        throttle.failed("10.0.0.9")
    assert throttle.blocked("10.0.0.9") == 0
    throttle.failed("10.0.0.9")
    assert throttle.blocked("10.0.0.9") == pytest.approx(FIRST_WAIT_S)
    assert throttle.blocked("10.0.0.8") == 0  # another address is not held back
    clock.now += FIRST_WAIT_S
    assert throttle.blocked("10.0.0.9") == 0
    for _ in range(ALLOWED_FAILURES):
        throttle.failed("10.0.0.9")
    assert throttle.blocked("10.0.0.9") == pytest.approx(2 * FIRST_WAIT_S)


def test_failures_spread_over_time_and_a_success_are_forgiven() -> None:
    clock = Clock()
    throttle = TokenThrottle(clock)
    for _ in range(3 * ALLOWED_FAILURES):
        throttle.failed("a")
        clock.now += WINDOW_S / (ALLOWED_FAILURES - 1)
    assert throttle.blocked("a") == 0
    for _ in range(ALLOWED_FAILURES - 1):
        throttle.failed("b")
    throttle.succeeded("b")
    throttle.failed("b")
    assert throttle.blocked("b") == 0


def test_origins() -> None:
    assert origin_allowed(None, "127.0.0.1:8765", [])  # a script, napari's window
    assert origin_allowed("http://127.0.0.1:8765", "127.0.0.1:8765", [])  # its own page
    assert not origin_allowed("https://evil.example", "127.0.0.1:8765", [])
    assert not origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8765", [])
    assert origin_allowed("https://lab.example", "h:1", ["https://lab.example"])
    assert origin_allowed("https://any.example", "h:1", ["*"])
    assert not origin_allowed("null", None, [])
    # DNS rebinding: a page of evil.example whose name now points here
    assert not origin_allowed("http://evil.example:8765", "evil.example:8765", [])
    assert origin_allowed("http://lab-node:8765", "lab-node:8765", [], ["lab-node"])


def test_the_token_is_redacted() -> None:
    assert redact("GET /session/a?token=s3cr3t&x=1 HTTP/1.1") == (
        "GET /session/a?token=<redacted>&x=1 HTTP/1.1")
    record = logging.LogRecord("websockets", logging.DEBUG, __file__, 1,
                               "> GET %s", ("/?token=s3cr3t",), None)
    assert RedactTokens().filter(record) and "s3cr3t" not in record.getMessage()


def test_an_ipv6_guesser_is_held_back_by_its_64() -> None:
    throttle = TokenThrottle(Clock())
    for host in range(ALLOWED_FAILURES):
        throttle.failed(f"2001:db8:0:1::{host + 1}")  # one machine, five addresses
    assert throttle.blocked("2001:db8:0:1::99") > 0
    assert throttle.blocked("2001:db8:0:2::1") == 0


def test_a_traceback_is_redacted_too() -> None:
    try:
        raise ConnectionError("ws://127.0.0.1:9/session/a?token=s3cr3t refused")
    except ConnectionError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                   sys.exc_info())
    RedactTokens().filter(record)
    assert "s3cr3t" not in logging.Formatter().format(record)


def test_loopback_is_not_held_back() -> None:
    """Behind an ssh forward everyone is 127.0.0.1: a local process must not lock them
    out (the token guards loopback)."""
    throttle = TokenThrottle(Clock())
    for _ in range(3 * ALLOWED_FAILURES):
        throttle.failed("127.0.0.1")
    assert throttle.blocked("127.0.0.1") == 0


def test_the_door_refuses_a_guessing_address_even_its_right_token() -> None:
    from types import SimpleNamespace

    from napari_engine.server.network import NetworkServer

    door = NetworkServer(lambda _job: None, "0.0.0.0", 0, "right")
    guest = SimpleNamespace(remote_address=("198.51.100.7", 4242),
                            respond=lambda status, _text: int(status))

    def knock(token: str, origin: str | None = None) -> int | None:
        headers = {"Host": "lab:8765", **({"Origin": origin} if origin else {})}
        request = SimpleNamespace(path=f"/?token={token}", headers=headers)
        return door._authorize(guest, request)  # type: ignore[arg-type]

    assert knock("right") is None  # opens
    assert knock("right", "https://evil.example") == 403
    for _ in range(ALLOWED_FAILURES):
        assert knock("guess") == 401
    assert knock("right") == 429


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
