"""Every command applies whole or not at all, and nothing a client sends leaves a
session unable to draw (issue 12, item 2): napari's own model for the rollback, a real
server for the rest."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from napari.components import ViewerModel

import napari_engine
from napari_engine.client.connection import RemoteError
from napari_engine.server.commands import _all_or_nothing
from napari_engine.server.process import ServerProcess


def test_a_failed_command_leaves_no_layer_and_no_moved_view() -> None:
    viewer = ViewerModel()
    viewer.add_image(np.zeros((4, 8, 8)), name="kept")
    before = viewer.scene.camera.center, viewer.scene.camera.zoom, viewer.dims.current_step
    with pytest.raises(RuntimeError), _all_or_nothing(SimpleNamespace(viewer=viewer)):  # type: ignore[arg-type]
        viewer.add_points([[1.0, 2.0, 3.0]], name="half-added")
        viewer.scene.camera.zoom = 7.0
        viewer.dims.current_step = (3, 0, 0)
        raise RuntimeError("napari failed after inserting the layer")
    assert [layer.name for layer in viewer.layers] == ["kept"]
    after = viewer.scene.camera.center, viewer.scene.camera.zoom, viewer.dims.current_step
    assert after == before


def test_refused_commands_change_nothing_and_the_session_draws() -> None:
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--journal-dir",
                        "none"]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        other = napari_engine.connect(server.url.replace("/?", "/session/other?"),
                                      stream="none")
        try:
            layer = viewer.add_image(np.arange(64, dtype=np.uint8).reshape(8, 8))
            expected = viewer.screenshot()
            conn = viewer.connection
            layer_id = conn.layers()[0]["id"]
            # two properties: napari takes the first and refuses the second
            with pytest.raises(RemoteError, match="blending"):
                conn.request("layer.set", {"layer": layer_id, "props": {
                    "opacity": 0.25, "blending": "no-such-blending"}})
            assert conn.layers()[0]["opacity"] == 1.0  # put back
            # coordinates past napari's arithmetic, in a payload
            vectors = np.array([[[0.0, 0.0], [np.inf, 1.0]]])
            with pytest.raises(RemoteError, match="vectors must be finite"):
                conn.request("layer.add_vectors", {
                    "arrays": [{"shape": list(vectors.shape), "dtype": "float64"}]},
                    payload=vectors.tobytes())
            assert [x["id"] for x in conn.layers()] == [layer_id]
            np.testing.assert_array_equal(viewer.screenshot(), expected)
            assert other.screenshot().shape[:2] == (48, 64)
            assert layer.opacity == 1.0
        finally:
            viewer.close()
            other.close()


def test_an_undo_step_the_budget_interrupts_is_tried_again() -> None:
    from napari_engine.server.budget import OverBudget
    from napari_engine.server.commands import _undo

    calls: list[int] = []

    def put_back() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OverBudget  # the overrunning command's interruption, raised again
    _undo(put_back, "a property")
    assert len(calls) == 2
