"""Mouse and key events reach napari's own layer bindings on the server: painting
labels, adding and deleting points, drawing shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

import napari_engine
from napari_engine import ProxyViewer
from tests.conftest import ServerFactory

CENTER, ZOOM = 50.0, 2.0


@pytest.fixture
def viewer(start_server: ServerFactory) -> Iterator[ProxyViewer]:
    """A session without the server's sample layers."""
    server = start_server("--size", "400x300")
    with napari_engine.connect(server.url, stream="none") as connected:
        for layer in list(connected.layers):
            connected.layers.remove(layer)
        yield connected


def look(viewer: ProxyViewer) -> None:
    viewer.scene.camera.center = (CENTER, CENTER)
    viewer.scene.camera.zoom = ZOOM


def pos(viewer: ProxyViewer, y: float, x: float) -> list[float]:
    """Canvas pixels of world point (y, x) for the camera ``look`` sets."""
    height, width = viewer.canvas.size
    return [(x - CENTER) * ZOOM + width / 2, (y - CENTER) * ZOOM + height / 2]


def mouse(viewer: ProxyViewer, event: str, at: list[float]) -> None:
    viewer.connection.send_command("input.mouse", {"event": event, "pos": at})


def click(viewer: ProxyViewer, at: list[float]) -> None:
    mouse(viewer, "press", at)
    mouse(viewer, "release", at)


def key(viewer: ProxyViewer, name: str, modifiers: list[str] | None = None) -> None:
    for event in ("press", "release"):
        viewer.connection.send_command("input.key", {"event": event, "key": name,
                                                     "modifiers": modifiers or []})


def status_at(viewer: ProxyViewer, y: float, x: float) -> str:
    """napari's status bar text for world point (y, x), computed on the server."""
    return str(viewer.connection.request("cursor.set", {"position": [y, x]})["status"])


def test_painting_a_label_with_forwarded_mouse_events(viewer: ProxyViewer) -> None:
    labels = viewer.add_labels(np.zeros((100, 100), np.uint8), name="cells")
    look(viewer)
    labels.mode = "paint"
    labels.selected_label = 3
    labels.brush_size = 6
    viewer.sync()
    assert labels.mode == "paint"
    mouse(viewer, "press", pos(viewer, 20, 20))
    for x in range(21, 60, 3):
        mouse(viewer, "move", pos(viewer, 20, x))
    mouse(viewer, "release", pos(viewer, 20, 60))
    viewer.sync()
    assert ": 3" in status_at(viewer, 20.0, 40.0)
    assert ": 3" not in status_at(viewer, 80.0, 80.0)
    shot = viewer.screenshot()
    on_x, on_y = (int(v) for v in pos(viewer, 20, 40))
    off_x, off_y = (int(v) for v in pos(viewer, 80, 80))
    assert shot[on_y, on_x, :3].sum() > shot[off_y, off_x, :3].sum()  # the label is drawn

    # napari's labels key bindings, on the server: a new label after the data's maximum,
    # then undo of the stroke
    labels.selected_label = 1
    key(viewer, "M")
    viewer.sync()
    assert labels.selected_label == 4  # max(data) + 1: only the server has the data
    key(viewer, "Z", ["Control"])
    viewer.sync()
    assert ": 3" not in status_at(viewer, 20.0, 40.0)


def test_adding_and_deleting_points_with_forwarded_input(viewer: ProxyViewer) -> None:
    points = viewer.add_points([[10.0, 10.0]], size=4, face_color="red", name="spots")
    look(viewer)
    points.mode = "add"
    viewer.sync()
    click(viewer, pos(viewer, 30, 70))
    viewer.sync()
    assert len(points.data) == 2
    assert points.data[-1].tolist() == [30.0, 70.0]
    assert points.current_face_color in ("red", "#ff0000ff")
    # select the new point and delete it with napari's key binding, on the server
    points.mode = "select"
    viewer.sync()
    click(viewer, pos(viewer, 30, 70))
    viewer.sync()
    assert set(points.selected_data) == {1}
    key(viewer, "Delete")
    viewer.sync()
    assert len(points.data) == 1


def test_drawing_a_rectangle_with_forwarded_input(viewer: ProxyViewer) -> None:
    shapes = viewer.add_shapes([[[0.0, 0.0], [10.0, 10.0]]], edge_width=1, name="rois")
    assert shapes.nshapes == 1
    look(viewer)
    shapes.mode = "add_rectangle"
    viewer.sync()
    mouse(viewer, "press", pos(viewer, 20, 20))
    for step in range(1, 11):
        mouse(viewer, "move", pos(viewer, 20 + 3 * step, 20 + 4 * step))
    mouse(viewer, "release", pos(viewer, 50, 60))
    viewer.sync()
    assert shapes.nshapes == 2
    assert shapes.shape_type[-1] == "rectangle"
    corners = np.asarray(shapes.data[-1])
    assert corners.min(axis=0) == pytest.approx([20.0, 20.0], abs=1.0)
    assert corners.max(axis=0) == pytest.approx([50.0, 60.0], abs=1.0)


def test_each_client_has_its_own_selection_and_tool(viewer: ProxyViewer) -> None:
    """A colleague in the same session selects another layer and keeps the pan tool:
    this client's selection and paint brush stay its own, and the colleague's clicks
    do not paint; the layers and what is painted are shared."""
    labels = viewer.add_labels(np.zeros((100, 100), np.uint8), name="cells")
    viewer.add_points([[5.0, 5.0]], name="spots")
    look(viewer)
    viewer.layers.selection.active = labels
    labels.mode = "paint"
    labels.selected_label = 3
    labels.brush_size = 6
    viewer.sync()
    colleague = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        assert colleague.layers["cells"].mode == "pan_zoom"  # a new window: napari's own
        colleague.layers.selection.active = colleague.layers["spots"]
        colleague.scene.camera.center, colleague.scene.camera.zoom = (CENTER, CENTER), ZOOM
        colleague.sync()
        viewer.sync()
        assert [x.name for x in viewer.layers.selection] == ["cells"]  # still its own
        assert [x.name for x in colleague.layers.selection] == ["spots"]
        colleague.layers.selection.active = colleague.layers["cells"]
        click(colleague, pos(colleague, 30, 30))  # pans: it has not picked the brush
        colleague.sync()
        viewer.sync()
        assert labels.mode == "paint" and colleague.layers["cells"].mode == "pan_zoom"
        click(viewer, pos(viewer, 60, 60))  # this client's click paints
        viewer.sync()
        colleague.sync()
        painted = np.asarray(colleague.layers["cells"].data)
        assert painted[60, 60] == 3 and painted[30, 30] == 0
        assert [x.name for x in viewer.layers.selection] == ["cells"]
        # the colleague takes its own brush and label: each paints with its own
        theirs = colleague.layers["cells"]
        theirs.mode, theirs.selected_label = "paint", 9
        colleague.sync()
        click(colleague, pos(colleague, 80, 80))
        click(viewer, pos(viewer, 20, 60))
        colleague.sync()
        viewer.sync()
        painted = np.asarray(viewer.layers["cells"].data)
        assert painted[80, 80] == 9 and painted[20, 60] == 3
        assert labels.selected_label == 3 and theirs.selected_label == 9
    finally:
        colleague.close()


def _quiet(frames: list[object], still_for: float = 1.0, at_most: float = 60.0) -> int:
    """How many frames have come once none came for ``still_for`` seconds (a loaded
    machine may still be drawing what came before)."""
    deadline = time.monotonic() + at_most
    while time.monotonic() < deadline:
        count = len(frames)
        time.sleep(still_for)
        if len(frames) == count:
            return count
    raise AssertionError(f"frames kept coming for {at_most} s")


def test_clients_taking_turns_do_not_redraw_the_scene(start_server: ServerFactory) -> None:
    """Two clients with selections of their own take turns (cursor moves): putting each
    one's selection back is no change of the picture, so no frame is drawn for it."""
    from tests.server.wire import recording_client

    server = start_server("--size", "320x240", "--still-delay", "60")
    first = napari_engine.connect(server.url, stream="none")
    second = napari_engine.connect(server.url, stream="none")
    watcher, frames = recording_client(server.url, "jpeg")
    try:
        first.layers.selection.active = first.layers[0]
        second.layers.selection.active = second.layers[1]
        first.sync()
        second.sync()
        before = _quiet(frames)  # the frames of the selection changes, and of loading
        for step in range(10):
            for viewer in (first, second):
                viewer.connection.request("cursor.set", {"position": [0.0, step, step]})
        assert _quiet(frames) == before, "a turn redrew the scene"
        assert [x.name for x in first.layers.selection] == [first.layers[0].name]
        assert [x.name for x in second.layers.selection] == [second.layers[1].name]
    finally:
        for closing in (first, second, watcher):
            closing.close()
