"""Mouse events reach napari's own layer bindings on the server: painting a label."""

from __future__ import annotations

import numpy as np
import pytest

import napari_engine
from tests.conftest import ServerFactory


def test_painting_a_label_with_forwarded_mouse_events(start_server: ServerFactory) -> None:
    server = start_server("--size", "400x300")
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        labels = viewer.add_labels(np.zeros((100, 100), np.uint8), name="cells")
        viewer.camera.center = (50.0, 50.0)
        viewer.camera.zoom = 2.0
        labels.mode = "paint"
        labels.selected_label = 3
        labels.brush_size = 6
        viewer.sync()
        assert labels.mode == "paint"

        def canvas_pos(y: float, x: float) -> list[float]:
            width, height = viewer.canvas_size
            return [(x - 50.0) * 2.0 + width / 2, (y - 50.0) * 2.0 + height / 2]

        send = viewer.connection.send_command
        send("input.mouse", {"event": "press", "pos": canvas_pos(20, 20)})
        for x in range(21, 60, 3):
            send("input.mouse", {"event": "move", "pos": canvas_pos(20, x)})
        send("input.mouse", {"event": "release", "pos": canvas_pos(20, 60)})
        viewer.sync()
        painted = viewer.connection.request("cursor.set", {"position": [20.0, 40.0]})
        assert ": 3" in str(painted["status"])
        untouched = viewer.connection.request("cursor.set", {"position": [80.0, 80.0]})
        assert ": 3" not in str(untouched["status"])
        shot = viewer.screenshot()
        on_stroke = shot[int(canvas_pos(20, 40)[1]), int(canvas_pos(20, 40)[0]), :3]
        off_stroke = shot[int(canvas_pos(80, 80)[1]), int(canvas_pos(80, 80)[0]), :3]
        assert on_stroke.sum() > off_stroke.sum()  # the label's colour is drawn

        # napari's labels key bindings, on the server: a new label from the data's
        # maximum, then undo of the stroke
        def key(name: str, modifiers: list[str] | None = None) -> None:
            for event in ("press", "release"):
                send("input.key", {"event": event, "key": name, "modifiers": modifiers or []})

        labels.selected_label = 1
        key("M")
        viewer.sync()
        assert labels.selected_label == 4  # max(data) + 1: only the server has the data
        key("Z", ["Control"])
        viewer.sync()
        undone = viewer.connection.request("cursor.set", {"position": [20.0, 40.0]})
        assert ": 3" not in str(undone["status"])
    finally:
        viewer.close()


def test_adding_and_deleting_points_with_forwarded_input(start_server: ServerFactory) -> None:
    server = start_server("--size", "400x300")
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        points = viewer.add_points([[10.0, 10.0]], size=4, face_color="red", name="spots")
        viewer.camera.center = (50.0, 50.0)
        viewer.camera.zoom = 2.0
        points.mode = "add"
        viewer.sync()
        width, height = viewer.canvas_size
        pos = [(70.0 - 50.0) * 2.0 + width / 2, (30.0 - 50.0) * 2.0 + height / 2]  # y 30, x 70
        for event in ("press", "release"):
            viewer.connection.send_command("input.mouse", {"event": event, "pos": pos})
        viewer.sync()
        assert points.count == 2
        with viewer.connection.lock:
            data = viewer.connection.mirror.layer(points.id)["data"]  # type: ignore[index]
        assert data[-1] == [30.0, 70.0]
        assert points.current_face_color in ("red", "#ff0000ff")
        # select the new point and delete it with napari's key binding, on the server
        points.mode = "select"
        viewer.sync()
        for event in ("press", "release"):
            viewer.connection.send_command("input.mouse", {"event": event, "pos": pos})
        viewer.sync()
        assert points.selected_data == (1,)
        for event in ("press", "release"):
            viewer.connection.send_command("input.key", {"event": event, "key": "Delete"})
        viewer.sync()
        assert points.count == 1
    finally:
        viewer.close()


def test_drawing_a_rectangle_with_forwarded_input(start_server: ServerFactory) -> None:
    server = start_server("--size", "400x300")
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        shapes = viewer.add_shapes([[[0.0, 0.0], [10.0, 10.0]]], edge_width=1, name="rois")
        assert shapes.count == 1
        viewer.camera.center = (50.0, 50.0)
        viewer.camera.zoom = 2.0
        shapes.mode = "add_rectangle"
        viewer.sync()
        width, height = viewer.canvas_size

        def pos(y: float, x: float) -> list[float]:
            return [(x - 50.0) * 2.0 + width / 2, (y - 50.0) * 2.0 + height / 2]

        send = viewer.connection.send_command
        send("input.mouse", {"event": "press", "pos": pos(20, 20)})
        for step in range(1, 11):
            send("input.mouse", {"event": "move", "pos": pos(20 + 3 * step, 20 + 4 * step)})
        send("input.mouse", {"event": "release", "pos": pos(50, 60)})
        viewer.sync()
        assert shapes.count == 2
        with viewer.connection.lock:
            state = viewer.connection.mirror.layer(shapes.id)
        assert state is not None and state["shape_type"][-1] == "rectangle"
        corners = np.asarray(state["data"][-1])
        assert corners.min(axis=0) == pytest.approx([20.0, 20.0], abs=1.0)
        assert corners.max(axis=0) == pytest.approx([50.0, 60.0], abs=1.0)
    finally:
        viewer.close()
