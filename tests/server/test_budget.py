"""A command past its time budget is interrupted and undone, and the server serves on
(issue 12, item 1): the watchdog on plain threads, then a real server."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import napari_engine
from napari_engine.client.connection import RemoteError
from napari_engine.client.uploads import arrays_payload
from napari_engine.protocol.ops import SHAPE_TYPES
from napari_engine.server.budget import CommandBudget, OverBudget
from napari_engine.server.process import ServerProcess


def _python_loop(seconds: float) -> int:
    """Work in Python bytecode (where an interruption is delivered at once)."""
    end, turns = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        turns += 1
    return turns


def test_a_python_loop_past_its_budget_is_interrupted_soon_after() -> None:
    budget = CommandBudget(0.2, on_stuck=lambda *_: pytest.fail("not stuck"))
    started = time.monotonic()
    with pytest.raises(OverBudget), budget.limit("a loop"):
        _python_loop(10.0)
    assert 0.2 <= time.monotonic() - started < 3.0
    # nothing is left pending for what the thread does next
    _python_loop(0.5)


def test_a_command_within_its_budget_is_not_touched() -> None:
    budget = CommandBudget(5.0, on_stuck=lambda *_: pytest.fail("not stuck"))
    for _ in range(50):
        with budget.limit("a quick one"):
            _python_loop(0.001)
    _python_loop(0.3)


def test_no_budget_means_no_watchdog() -> None:
    budget = CommandBudget(0.0)
    with budget.limit("anything"):
        _python_loop(0.05)
    assert budget._watchdog is None


def test_a_call_no_exception_can_reach_is_reported_stuck() -> None:
    stuck: list[tuple[str, float]] = []
    budget = CommandBudget(0.1, on_stuck=lambda what, s: stuck.append((what, s)),
                           stuck_after=0.3)
    with pytest.raises(OverBudget), budget.limit("a long C call"):
        time.sleep(2.0)  # one C call: the interruption waits for it to return
    assert [what for what, _ in stuck] == ["a long C call"]
    assert stuck[0][1] >= 0.4
    _python_loop(0.3)  # nothing left pending


def test_an_interruption_swallowed_by_the_command_is_raised_again() -> None:
    budget = CommandBudget(0.1, on_stuck=lambda *_: pytest.fail("not stuck"), retry=0.1)
    swallowed = 0
    with pytest.raises(OverBudget), budget.limit("napari catching everything"):
        for _ in range(100):
            try:
                _python_loop(0.2)
            except OverBudget:
                swallowed += 1
                if swallowed > 2:
                    raise
    assert swallowed == 3


def test_an_interruption_landing_as_the_block_ends_still_disarms_it() -> None:
    """One pending interruption may land in the clean-up itself; left armed, the
    watchdog would interrupt whatever the engine did next (another session's frame)."""
    budget = CommandBudget(0.3, on_stuck=lambda *_: pytest.fail("not stuck"))
    real, me, entered = budget._lock, threading.current_thread(), []

    class Landing:
        """The budget's lock, where an interruption lands as the block's clean-up
        takes it the first time."""

        def __enter__(self) -> bool:
            if threading.current_thread() is me:
                entered.append(1)
                if len(entered) == 2:  # 1: arming, 2: disarming
                    raise OverBudget
            return real.__enter__()

        def __exit__(self, *exc: object) -> None:
            real.__exit__(*exc)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    budget._lock = Landing()  # type: ignore[assignment]
    with pytest.raises(OverBudget), budget.limit("a command ending on its deadline"):
        pass
    assert budget._running is None and len(entered) == 3
    _python_loop(1.0)  # past the budget: nothing interrupts the thread's next work


def test_each_thread_budget_stays_its_own() -> None:
    budget = CommandBudget(0.3, on_stuck=lambda *_: pytest.fail("not stuck"))
    errors: list[BaseException] = []

    def quick() -> None:
        try:
            _python_loop(0.6)  # no budget in this thread
        except BaseException as exc:  # pragma: no cover - the failure being checked
            errors.append(exc)

    other = threading.Thread(target=quick)
    other.start()
    with pytest.raises(OverBudget), budget.limit("this thread's"):
        _python_loop(5.0)
    other.join()
    assert errors == []


def test_a_command_over_budget_is_undone_and_the_server_serves_on() -> None:
    # napari takes about 9 s here (Python per shape, 3 s a 9,000): 3x the budget; the
    # session's first command, so nothing before it must fit the budget on a loaded
    # machine, and a budget a small command fits in on a loaded machine too
    squares = [np.array([[i, 0], [i, 5], [i + 3, 5], [i + 3, 0]], float)
               for i in range(27_000)]
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--journal-dir",
                        "none", "--command-budget", "3"]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        other = napari_engine.connect(server.url.replace("/?", "/session/other?"),
                                      stream="none")
        try:
            parts = [np.concatenate(squares), np.full(len(squares), 4, np.int64),
                     np.full(len(squares), SHAPE_TYPES.index("polygon"), np.uint8)]
            args, payload = arrays_payload(parts, "shapes")  # as a client sends many
            with pytest.raises(RemoteError, match=r"time budget .*\(3 s.* undone"):
                viewer.connection.request("layer.add_shapes", args, payload=payload)
            assert viewer.connection.layers() == []
            # too much for one message: said at once, not a wait for a reply that never comes
            with pytest.raises(ValueError, match=r"over the protocol's .* limit"):
                viewer.add_points(np.zeros((900, 2)), features={  # 1.1 MB of notes
                    f"note{i}": ["x" * 250] * 900 for i in range(5)})
            assert list(viewer.layers) == []
            viewer.add_shapes(squares[:3], shape_type="polygon", name="few")
            assert [x["name"] for x in viewer.connection.layers()] == ["few"]
            assert viewer.screenshot().shape[:2] == (48, 64)
            assert other.screenshot().shape[:2] == (48, 64)
        finally:
            viewer.close()
            other.close()
        assert "run past its budget" in server.stderr, server.stderr
