"""Who may open a connection: the token, the page a browser came from, and how often an
address may guess; and the token kept out of every log.

Pure rules (no sockets), used by ``network`` at the HTTP upgrade, before any state is
sent. Jupyter's server is the model: a token; browsers' cross-origin requests refused
unless the origin is allowed (a web page elsewhere that learned the URL must not drive
the server with the person's token); repeated wrong tokens slowed down.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: wrong tokens an address may send within ``WINDOW_S`` before it must wait
ALLOWED_FAILURES = 5
WINDOW_S = 60.0
#: how long an address waits after its failures: doubles each time, up to the most
FIRST_WAIT_S = 5.0
MOST_WAIT_S = 300.0
#: addresses remembered at most (the oldest forgotten first)
MAX_ADDRESSES = 4096

_TOKEN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    wait: float = 0.0
    blocked_until: float = 0.0


class TokenThrottle:
    """Wrong tokens per address: after ``ALLOWED_FAILURES`` within ``WINDOW_S`` the
    address is refused (even with the right token, so that a guess learns nothing) for
    a while, longer each time. Loopback addresses are not held back: behind an ssh
    forward every person is 127.0.0.1, and one local process could lock them all out
    (a front's own connections to its workers too); the token (192 random bits unless
    chosen) is what guards loopback."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_address: dict[str, _Failures] = {}

    def blocked(self, address: str) -> float:
        """Seconds ``address`` must still wait (0: it may try)."""
        if is_loopback(address):
            return 0.0
        entry = self._by_address.get(_key(address))
        return 0.0 if entry is None else max(0.0, entry.blocked_until - self._clock())

    def failed(self, address: str) -> None:
        now = self._clock()
        address = _key(address)
        entry = self._by_address.pop(address, None) or _Failures()
        self._by_address[address] = entry  # most recent last
        if len(self._by_address) > MAX_ADDRESSES:
            del self._by_address[next(iter(self._by_address))]
        entry.times = [t for t in entry.times if now - t < WINDOW_S] + [now]
        if len(entry.times) >= ALLOWED_FAILURES:
            entry.wait = min(MOST_WAIT_S, entry.wait * 2 or FIRST_WAIT_S)
            entry.blocked_until = now + entry.wait
            entry.times.clear()

    def succeeded(self, address: str) -> None:
        self._by_address.pop(_key(address), None)


def _key(address: str) -> str:
    """Whom a failure counts against: an IPv4 address, or an IPv6 address's /64 (one
    machine holds a whole /64 and could try each of its addresses in turn)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str],
                   own_names: Iterable[str] = ("localhost", "127.0.0.1", "::1")) -> bool:
    """Whether a connection that says it comes from ``origin`` (a browser's ``Origin``
    header; None: not a browser, a script or napari's window) may open: no origin, the
    server's own page (``host``, the ``Host`` header, naming one of the server's own
    names: a page whose DNS name was rebound to this address has its own name in both),
    or one allowed (``--allow-origin``; ``*`` allows all)."""
    if origin is None:
        return True
    allowed = set(allowed)
    if "*" in allowed or origin in allowed:
        return True
    if not host or urlsplit(origin).netloc != host:
        return False
    name = urlsplit(f"//{host}").hostname or ""
    return name in {n.strip("[]").lower() for n in own_names}


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redact(text: str) -> str:
    """``text`` with any ``token=...`` replaced."""
    return _TOKEN.sub(r"\1<redacted>", text)


class RedactTokens(logging.Filter):
    """Keeps tokens out of log records (websockets logs request lines at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:  # a traceback names URLs too
            text = logging.Formatter().formatException(record.exc_info)
            if "token=" in text.lower():
                record.exc_text = redact(text)
        return True


def redact_logs() -> None:
    """Install ``RedactTokens`` on the root logger's handlers: every record reaches
    them (a filter on a named logger sees only the records logged on it, not on its
    children, such as ``websockets.server``)."""
    token_filter = RedactTokens()
    for handler in logging.getLogger().handlers:
        handler.addFilter(token_filter)
