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


def test_what_a_failed_command_painted_is_put_back() -> None:
    viewer = ViewerModel()
    labels = viewer.add_labels(np.zeros((32, 32), np.uint8))
    labels.paint((4, 4), 1)  # an edit before: kept, and still undoable
    before = labels.data.copy()
    session = SimpleNamespace(viewer=viewer)
    with pytest.raises(RuntimeError), _all_or_nothing(session):  # type: ignore[arg-type]
        labels._begin_stroke()  # a drag, cut off before its mouse release
        labels.paint((20, 20), 2)
        labels.fill((0, 31), 3)
        raise RuntimeError("the command's budget ran out")
    np.testing.assert_array_equal(labels.data, before)
    assert not labels._block_history and not labels._staged_history
    with pytest.raises(RuntimeError), _all_or_nothing(session):  # type: ignore[arg-type]
        labels.paint((10, 10), 4)  # committed at once: an undo item
        labels.undo()
        labels.undo()  # the edit before the command, undone: made again
        raise RuntimeError("failed after the undo")
    np.testing.assert_array_equal(labels.data, before)
    labels._begin_stroke()  # a drag begun by an earlier command ...
    labels.paint((20, 4), 5)
    during = labels.data.copy()
    with pytest.raises(RuntimeError), _all_or_nothing(session):  # type: ignore[arg-type]
        labels.paint((20, 24), 5)
        labels._commit_stroke()  # ... and released by the one that fails
        raise RuntimeError("failed after the release")
    np.testing.assert_array_equal(labels.data, during)
    assert labels._block_history and len(labels._staged_history) == 1
    labels._commit_stroke()
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)
    labels.undo()  # the history is as it was: the first edit undoes
    assert not labels.data.any()


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
