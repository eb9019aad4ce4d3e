"""The server's side of the operation registry: exactly one handler per operation."""

from __future__ import annotations

from napari_engine.protocol import OPERATIONS, Op
from napari_engine.server import commands


def test_every_operation_has_its_handler() -> None:
    assert set(commands.HANDLERS) == set(OPERATIONS) == set(Op)


def test_a_second_handler_for_an_operation_is_refused() -> None:
    try:
        commands.handles(Op.SYNC)(lambda ctx: {})
    except RuntimeError as exc:
        assert "two handlers" in str(exc)
    else:
        raise AssertionError("a second handler was accepted")
