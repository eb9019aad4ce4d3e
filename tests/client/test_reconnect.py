"""A lost server shows as a state, never a hang; the client reconnects and restores its view."""

from __future__ import annotations

import time

import pytest

import napari_engine
from napari_engine.server.process import ServerProcess
from tests.client.test_model import Mirrored


def test_reconnects_after_a_server_restart_and_restores_the_view() -> None:
    first = ServerProcess(["--token", "t", "--size", "320x240"])
    first.start()
    port = first.url.split(":")[2].split("/")[0]
    local = Mirrored(first.url, reconnect=True)
    states: list[str] = []
    local.connection.on_connection(states.append)
    try:
        local.viewer.scene.camera.zoom = 0.0042
        local.viewer.dims.set_current_step(0, 321)
        local.pump()
        time.sleep(0.3)
        first.stop()
        local.pump(lambda: "disconnected" in states)
        # the model stays usable while the link is down: edits are dropped, not blocked
        t0 = time.perf_counter()
        local.viewer.scene.camera.zoom = 0.0042
        local.viewer.layers[0].opacity = 0.7
        assert time.perf_counter() - t0 < 0.5
        # the same port (a later --port wins over ServerProcess's --port 0)
        second = ServerProcess(["--token", "t", "--size", "320x240", "--port", port])
        second.start()
        try:
            local.pump(lambda: states[-1] == "connected", timeout=30)
            checker = napari_engine.connect(second.url, stream="none")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                local.pump()
                checker.sync()
                if checker.scene.camera.zoom == pytest.approx(0.0042):
                    break
                time.sleep(0.05)
            assert checker.scene.camera.zoom == pytest.approx(0.0042)  # the view came back
            assert checker.dims.current_step[0] == 321
            checker.close()
        finally:
            second.stop()
    finally:
        local.connection.close()
        first.stop()
