"""The bridge between a napari ViewerModel and a session, in memory: what the model shows,
what edits send, and no echoes, lost edits or stale values."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_engine.client.bridge import ViewerBridge
from napari_engine.client.remote_data import RemoteArray
from tests.client.pair import MemoryConnection, MemoryServer, QueuePoster


def _mirrored(server: MemoryServer | None = None
              ) -> tuple[MemoryServer, MemoryConnection, ViewerModel, QueuePoster]:
    server = server or MemoryServer()
    conn, viewer, poster = MemoryConnection(server), ViewerModel(), QueuePoster()
    ViewerBridge(conn, viewer, poster, strict=True)
    poster.run()
    return server, conn, viewer, poster


def test_the_model_starts_as_the_session_without_voxels() -> None:
    server, _conn, viewer, _poster = _mirrored()
    assert [x.name for x in viewer.layers] == ["nuclei", "membrane"]
    data = viewer.layers[0].data
    assert data.shape == (8, 64, 64) and data.dtype == np.uint16
    assert isinstance(data, RemoteArray)  # the voxels are the server's, read on demand
    assert all(s == 0 for s in viewer.layers[0]._slice.image.raw.strides)  # none held
    assert viewer.dims.current_step[0] == 4
    assert tuple(viewer.canvas.size) == (300, 400)
    assert viewer.layers.selection.active is viewer.layers[1]
    assert server.commands == []  # showing the session sends nothing back


def test_local_edits_go_out_once_and_the_answer_does_not_echo() -> None:
    server, conn, viewer, poster = _mirrored()
    viewer.layers[0].opacity = 0.5
    viewer.layers[0].colormap = "magma"
    viewer.scene.camera.zoom = 3.0
    viewer.dims.set_current_step(0, 6)
    conn.deliver()
    poster.run()
    conn.deliver()
    sent = [(str(c.op), c.args) for c in server.commands]
    colormap = sent[1][1]["props"]["colormap"]  # sent defined: the server may not know it
    assert colormap["name"] == "magma" and len(colormap["colors"]) > 2
    sent[1][1]["props"]["colormap"] = "magma"
    assert sent == [("layer.set", {"layer": 1, "props": {"opacity": 0.5}}),
                    ("layer.set", {"layer": 1, "props": {"colormap": "magma"}}),
                    ("camera.set", {"zoom": 3.0}),
                    ("dims.set", {"current_step": [6, 32, 32]})]
    assert server.state["layers"][0]["colormap"] == "magma"
    assert viewer.layers[0].colormap.name == "magma" and viewer.dims.current_step[0] == 6


def test_a_change_made_elsewhere_reaches_the_model() -> None:
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    other.send_command("layer.set", {"layer": 2, "props": {"visible": False}})
    other.send_command("camera.set", {"zoom": 0.5})
    other.send_command("layer.remove", {"layer": 1})
    other.deliver()
    conn.deliver()
    poster.run()
    assert [x.name for x in viewer.layers] == ["membrane"]
    assert not viewer.layers[0].visible and viewer.scene.camera.zoom == 0.5
    assert [c for c in server.commands if c.op != "layer.set" or c.args["layer"] != 2] != []
    assert len(server.commands) == 3  # only the other client's: no echo from this one


def test_an_edit_made_while_an_older_state_waits_is_not_undone() -> None:
    """The scripting viewer's race: the model thread applies a state that predates an
    edit a script makes at that moment. The edit must survive and reach the server."""
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    other.send_command("camera.set", {"zoom": 2.0})  # changes state: an apply is queued
    other.deliver()
    conn.deliver()
    viewer.dims.set_current_step(0, 7)  # the script's edit, before the apply runs
    poster.run()
    assert viewer.dims.current_step[0] == 7 and viewer.scene.camera.zoom == 2.0
    conn.deliver()
    poster.run()
    assert server.state["dims"]["current_step"][0] == 7


def test_an_edit_on_another_thread_during_an_apply_is_not_undone() -> None:
    """The same race, exactly: the model thread has read the mirror (without the edit)
    when a script on another thread makes its edit; the model thread then writes what it
    read. The edit is a change the mirror did not make, so the apply leaves it alone."""
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    other.send_command("camera.set", {"zoom": 2.0})
    other.deliver()
    conn.deliver()
    read = conn.read

    def read_then_let_the_script_edit(fn: Callable[[dict[str, Any]], Any]) -> Any:
        state = read(fn)
        script = threading.Thread(target=viewer.dims.set_current_step, args=(0, 7))
        script.start()
        script.join(10)
        return state

    conn.read = read_then_let_the_script_edit  # type: ignore[method-assign]
    poster.run()
    conn.read = read  # type: ignore[method-assign]
    assert viewer.dims.current_step[0] == 7 and viewer.scene.camera.zoom == 2.0
    conn.deliver()
    poster.run()
    assert server.state["dims"]["current_step"][0] == 7


def test_a_value_the_server_clamps_comes_back_clamped() -> None:
    server, conn, viewer, poster = _mirrored()
    conn.send_command("dims.set", {"current_step": [99, 32, 32]},  # as a script would ask
                      local=lambda m, cid: m.set_local("dims", "current_step", [99, 32, 32],
                                                       cid))
    conn.deliver()
    poster.run()
    assert server.state["dims"]["current_step"][0] == 7
    assert conn.core.mirror.state["dims"]["current_step"][0] == 7
    assert viewer.dims.current_step[0] == 7


def test_a_value_the_server_refuses_reverts_in_the_model() -> None:
    server = MemoryServer()
    server.refuse.add(("opacity", 0.25))
    server, conn, viewer, poster = _mirrored(server)
    viewer.layers[0].opacity = 0.25
    conn.deliver()
    poster.run()
    assert conn.errors and conn.errors[-1].code == "invalid"
    assert viewer.layers[0].opacity == pytest.approx(1.0)


def test_a_send_that_fails_raises_in_a_script() -> None:
    _server, conn, viewer, _poster = _mirrored()

    def broken(*_args: object, **_kwargs: object) -> int:
        raise ConnectionError("not connected")

    conn.send_command = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        viewer.scene.camera.zoom = 9.0


def test_many_changes_wait_as_one_apply() -> None:
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    for i in range(50):
        other.send_command("camera.set", {"zoom": 1.0 + i})
    other.deliver()
    conn.deliver()  # fifty patches arrived
    assert poster.work.qsize() == 1  # one apply waits, however many changes came
    poster.run()
    assert viewer.scene.camera.zoom == 50.0


def test_a_removed_or_moved_layer_stays_so_until_the_server_answers() -> None:
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    membrane = viewer.layers["membrane"]
    viewer.layers.remove("nuclei")  # sent, not answered yet
    other.send_command("camera.set", {"zoom": 3.0})  # meanwhile another change arrives
    other.deliver()
    conn.receive()  # that patch, while the removal has not left yet
    poster.run()  # an apply from the mirror, before the server heard of the removal
    assert [x.name for x in viewer.layers] == ["membrane"] and viewer.layers[0] is membrane
    conn.deliver()
    poster.run()
    assert [x["name"] for x in server.state["layers"]] == ["membrane"]
    assert [x.name for x in viewer.layers] == ["membrane"] and viewer.layers[0] is membrane


def test_scale_and_translate_follow_the_server_after_creation() -> None:
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    other.send_command("layer.set", {"layer": 1, "props": {"scale": [1.0, 2.0, 2.0],
                                                           "translate": [0.0, 5.0, 5.0]}})
    other.deliver()
    conn.deliver()
    poster.run()
    layer = viewer.layers["nuclei"]
    assert tuple(layer.scale) == (1.0, 2.0, 2.0) and tuple(layer.translate) == (0.0, 5.0, 5.0)


def test_a_colormap_made_elsewhere_arrives_defined_and_does_not_echo() -> None:
    """A colormap napari does not know by name (another client's colours, a file's
    LUT) comes defined: this model makes it, and sends nothing back."""
    server, conn, viewer, poster = _mirrored()
    other = MemoryConnection(server)
    fire = {"name": "ImageJ LUT 0a1b2c", "colors": [[0.0, 0.0, 0.0, 1.0], [1.0, 0.3, 0.0, 1.0],
                                                   [1.0, 1.0, 0.6, 1.0]],
            "controls": [0.0, 0.5, 1.0], "interpolation": "linear"}
    other.send_command("layer.set", {"layer": 1, "props": {"colormap": fire}})
    other.deliver()
    conn.deliver()
    poster.run()
    conn.deliver()
    colormap = viewer.layers[0].colormap
    assert colormap.name == fire["name"]
    np.testing.assert_allclose(colormap.colors, fire["colors"])
    assert server.commands[1:] == []  # only the other client's
    viewer.layers[0].colormap = "magma"  # and back to one napari knows by name
    conn.deliver()
    poster.run()
    conn.deliver()
    assert server.state["layers"][0]["colormap"] == "magma"
