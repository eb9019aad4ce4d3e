"""The scripting viewer in memory: napari's ViewerModel, whose server updates are applied
on the script's own thread when the script next uses it."""

from __future__ import annotations

from typing import Any

from napari_engine.client.viewer import ProxyViewer
from tests.client.pair import MemoryConnection, MemoryServer


def _viewer(server: MemoryServer) -> tuple[ProxyViewer, MemoryConnection]:
    conn = MemoryConnection(server)
    viewer = ProxyViewer(conn)  # type: ignore[arg-type]  # the in-memory SessionLink
    return viewer, conn


def _step_commands(server: MemoryServer) -> list[Any]:
    return [c.args["current_step"][0] for c in server.commands
            if c.op == "dims.set" and "current_step" in c.args]


def test_an_update_waits_for_the_script_and_runs_on_its_thread() -> None:
    server = MemoryServer()
    viewer, conn = _viewer(server)
    other = MemoryConnection(server)
    other.send_command("camera.set", {"zoom": 4.0})
    other.deliver()
    conn.deliver()  # the update has arrived ...
    assert conn.core.mirror.state["camera"]["zoom"] == 4.0
    zoom = object.__getattribute__(viewer, "scene").camera.zoom
    assert zoom != 4.0  # ... but nothing touched the model behind the script's back
    assert viewer.scene.camera.zoom == 4.0  # the script's next use applies it


def test_an_update_never_runs_inside_the_scripts_own_change() -> None:
    """napari reads the viewer while it dispatches a change: an update applied then would
    undo the change (it did: the step went back to the server's in 1 of 4 runs)."""
    server = MemoryServer()
    viewer, conn = _viewer(server)
    other = MemoryConnection(server)
    other.send_command("camera.set", {"zoom": 4.0})
    other.deliver()
    conn.deliver()  # an update waits
    dims = object.__getattribute__(viewer, "dims")
    dims.set_current_step(0, 6)  # the script's change, without touching the viewer first
    conn.deliver()
    assert _step_commands(server) == [6]  # only the script's value went out
    assert viewer.dims.current_step[0] == 6 and server.state["dims"]["current_step"][0] == 6
    assert viewer.scene.camera.zoom == 4.0
