"""Servers forked from the fork server are the servers ``python -m napari_engine.server``
starts: the same picture, exit codes and logs."""

from __future__ import annotations

import signal

import numpy as np
import pytest

import napari_engine
from napari_engine.server.forkserver import ForkServer
from napari_engine.server.process import ServerProcess

ARGS = ["--token", "t", "--size", "96x64", "--journal-dir", "none", "--log-level", "INFO"]


def _picture(server: ServerProcess) -> np.ndarray:
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        return viewer.screenshot()
    finally:
        viewer.close()


def test_a_forked_server_is_a_started_one(monkeypatch: pytest.MonkeyPatch) -> None:
    forkserver = ForkServer()
    try:
        monkeypatch.setattr(ServerProcess, "forkserver", forkserver)
        with ServerProcess(ARGS) as forked:
            forked_picture = _picture(forked)
            assert forked.proc is not None and forked.proc.poll() is None
        assert forked.proc.returncode == 0  # stopped with SIGTERM: a clean exit
        assert "client" in forked.stderr  # its log came through
        monkeypatch.setattr(ServerProcess, "forkserver", None)
        with ServerProcess(ARGS) as started:
            np.testing.assert_array_equal(_picture(started), forked_picture)
        monkeypatch.setattr(ServerProcess, "forkserver", forkserver)
        killed = ServerProcess(ARGS)
        killed.start()
        assert killed.proc is not None
        killed.proc.send_signal(signal.SIGKILL)
        assert killed.proc.wait(10) == -signal.SIGKILL
        with pytest.raises(RuntimeError, match="unrecognized arguments: --no-such"):
            ServerProcess(["--no-such"]).start()
    finally:
        forkserver.close()
