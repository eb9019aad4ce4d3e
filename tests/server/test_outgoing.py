"""A client's outgoing queue (``network.Connection``): state patches merge while they
wait last in the queue, and a client that does not read is dropped at once, once."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from napari_engine.protocol import StatePatch
from napari_engine.server import network
from napari_engine.server.network import Connection


class _Transport:
    def __init__(self) -> None:
        self.aborted = 0

    def abort(self) -> None:
        self.aborted += 1


def _connection() -> tuple[Connection, Any]:
    ws = SimpleNamespace(transport=_Transport())
    return Connection(ws, asyncio.new_event_loop()), ws  # type: ignore[arg-type]


def _queued(conn: Connection) -> list[Any]:
    return list(conn.outgoing._queue)  # type: ignore[attr-defined]


def test_waiting_state_patches_merge_into_the_latest() -> None:
    conn, _ws = _connection()
    conn.put_state(StatePatch(1, 3, {"camera": {"zoom": 1}, "dims": {"ndim": 2}}))
    conn.put_state(StatePatch(2, 4, {"camera": {"zoom": 2}}))
    conn.put_state(StatePatch(3, 4, {"layers": []}))
    (only,) = _queued(conn)
    assert only.message == StatePatch(3, 4, {"camera": {"zoom": 2}, "dims": {"ndim": 2},
                                             "layers": []})
    conn.put("reply")  # a reply after it: the next patch queues behind the reply
    conn.put_state(StatePatch(4, 5, {"camera": {"zoom": 3}}))
    assert len(_queued(conn)) == 3


def test_a_client_that_does_not_read_is_dropped_once(caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.setattr(network, "MAX_OUTGOING", 4)
    conn, ws = _connection()
    with caplog.at_level(logging.WARNING):
        for i in range(50):
            conn.put(f"message {i}")
    assert ws.transport.aborted == 1 and conn.dropped
    assert _queued(conn) == [] and conn.queued_bytes == 0
    assert sum("not reading" in r.getMessage() for r in caplog.records) == 1
