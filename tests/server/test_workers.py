"""Sessions in worker processes (``--workers``): a real front and real workers on
loopback. A worker killed with SIGKILL takes only its sessions down; it is started
again, and its session comes back from the journal with every acknowledged edit."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import psutil

import napari_engine
from napari_engine.client.connection import ConnectionLost
from napari_engine.server.process import ServerProcess
from napari_engine.server.workers import Placement, worker_argv


def test_a_workers_command_line_is_the_fronts_less_its_own_options() -> None:
    argv = ["--host", "0.0.0.0", "--port=9000", "--token", "s", "--workers", "2",
            "--data", "/d/a.zarr", "--certfile", "c.pem", "--journal-dir", "/j",
            "--allow-origin", "https://x", "--size", "64x48"]
    assert worker_argv(argv, "/journal", 8 << 30) == [
        "--data", "/d/a.zarr", "--size", "64x48", "--journal-dir", "/journal",
        "--memory-limit", str(8 << 30)]
    assert worker_argv([*argv, "--memory-limit", "2G"], "/j")[-2:] == ["--memory-limit",
                                                                        "none"]


def _workers(front: ServerProcess) -> list[psutil.Process]:
    return [child for child in psutil.Process(front.pid).children()
            if "napari_engine.server" in " ".join(child.cmdline())]


def test_a_killed_worker_takes_only_its_sessions_and_they_come_back(tmp_path: Path) -> None:
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--workers", "2",
                        "--journal-dir", str(tmp_path / "journal")]) as front:
        first, second = _workers(front)
        a = napari_engine.connect(front.url.replace("/?", "/session/a?"), stream="none")
        b = napari_engine.connect(front.url.replace("/?", "/session/b?"), stream="none")
        try:
            a.add_image(np.full((8, 8), 100, np.uint8), name="kept")
            before = a.screenshot()
            b.add_image(np.full((8, 8), 50, np.uint8), name="other")
            b_before = b.screenshot()
            os.kill(first.pid, signal.SIGKILL)  # session a's worker (the first: fewest)
            np.testing.assert_array_equal(b.screenshot(), b_before)  # b never noticed
            # the script on a reconnects by itself; its next command waits for that (one
            # made before it saw the link go is lost with it, and says so)
            try:
                shot = a.screenshot()
            except ConnectionLost:
                shot = a.screenshot()
            np.testing.assert_array_equal(shot, before)
            assert [layer.name for layer in a.layers] == ["kept"]
        finally:
            a.close()
            b.close()
        again = napari_engine.connect(front.url.replace("/?", "/session/a?"), stream="none")
        try:  # this connection waited for the worker to be started again
            assert [layer.name for layer in again.layers] == ["kept"]
            np.testing.assert_array_equal(again.screenshot(), before)
        finally:
            again.close()
        workers = _workers(front)
        assert len(workers) == 2 and first.pid not in {w.pid for w in workers}
        assert second.pid in {w.pid for w in workers}
        assert front.alive()


def test_a_session_stays_on_its_worker_while_it_may_be_open_there() -> None:
    now = [0.0]
    place = Placement(2, forget_after=70.0, clock=lambda: now[0])
    assert [place.enter(s) for s in ("a", "b", "c")] == [0, 1, 0]
    assert place.enter("a") == 0  # a second client of a
    for s in ("a", "a", "c"):
        place.leave(s)
    now[0] = 69.0
    assert place.enter("a") == 0  # its worker may still have it open
    place.leave("a")
    now[0] = 140.0
    # a and c were closed for idling there: the worker with fewest now takes new ones
    assert (place.hosted(0), place.hosted(1)) == (2, 1)
    assert place.enter("d") == 0
    assert (place.hosted(0), place.hosted(1)) == (1, 1)  # a and c forgotten
    assert place.enter("a") == 0  # from its journal, wherever there is room
    assert place.enter("e") == 1
    assert place.enter("b") == 1  # b's client never left
