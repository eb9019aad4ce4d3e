"""Only pixels and small state messages cross to the client, never the voxels."""

from __future__ import annotations

import time

import numpy as np
import pytest

import napari_engine
from napari_engine.client.connection import RemoteError
from napari_engine.client.uploads import arrays_payload
from napari_engine.server.process import ServerProcess
from tests.client.test_model import Mirrored
from tests.conftest import ServerFactory


def test_client_receives_frames_and_metadata_only(start_server: ServerFactory) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.1")
    frame_sizes: list[int] = []  # the payload of every streamed frame, as it arrived
    mirrored = Mirrored(server.url, stream="auto",  # the GUI's model, on this thread
                        on_frame=lambda frame: frame_sizes.append(len(frame.payload)))
    conn, viewer = mirrored.connection, mirrored.viewer
    layer = viewer.layers[0]
    level0 = layer.data[0]
    assert level0.size > 10**14  # the petabyte sample
    # browse: zoom to full resolution, pan, scroll through z, change a layer
    viewer.scene.camera.zoom = 4.0
    for i in range(30):
        viewer.scene.camera.center = (0.0, 16384.0 + 20 * i, 16384.0 + 30 * i)
        viewer.dims.set_current_step(0, 8000 + i)
        time.sleep(0.02)
        mirrored.pump()
    layer.contrast_limits = (100, 3000)
    time.sleep(1.0)
    mirrored.pump()
    conn.close()  # after the frames that arrived were handed over
    traffic = conn.traffic
    frames = traffic.pop("frame")
    control = sum(traffic.values())
    # nothing but frames and small state messages: no message type that could carry data
    assert set(traffic) <= {"welcome", "state", "reply", "error", "pong"}
    assert frames > 0 and control < 200_000, traffic
    # every frame is a picture of the 640x480 canvas: never more than its raw pixels
    # (the 30 planes browsed hold 30 x 131072^2 voxels; one raw frame is 1.2 MB)
    assert frame_sizes and max(frame_sizes) <= 640 * 480 * 4
    assert frames <= sum(frame_sizes) + 8 * 1024 * len(frame_sizes)  # and headers under 8 KiB
    # and the client holds no voxels: browsing read none ("data" messages: layer.data)
    assert all(s == 0 for s in layer._slice.image.raw.strides)


def test_a_state_of_megabytes_reaches_every_client() -> None:
    """60,000 points are 3.4 MB of state, which napari holds without trouble: they go
    to the server as one array (as JSON they were refused, over a message's 1 MiB), and
    a client that joins gets them, as does the one that was there (clients refused a
    server's message over 1 MiB too)."""
    points = np.random.default_rng(0).uniform(0, 4096, (60_000, 2))
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--journal-dir",
                        "none"]) as server:
        there = napari_engine.connect(server.url, stream="none")
        try:
            there.add_points(points, name="many", face_color="red", size=3)
            there.sync()
            joining = napari_engine.connect(server.url, stream="none")
            try:
                assert [layer["name"] for layer in there.connection.layers()] == ["many"]
                assert [layer.name for layer in joining.layers] == ["many"]
                np.testing.assert_allclose(joining.layers[0].data, points)
                # one colour for all travelled once, and came back one per point
                assert joining.layers[0].face_color.shape == (60_000, 4)
                np.testing.assert_allclose(joining.layers[0].face_color, [[1, 0, 0, 1]] * 60_000)
                np.testing.assert_allclose(joining.layers[0].size, 3)
            finally:
                joining.close()
        finally:
            there.close()


def test_each_of_many_points_keeps_its_own_size_and_colour() -> None:
    """Each point's own sizes and colours travel as arrays beside the points: 50,000
    points with their own colours were refused (over a message's 1 MiB as JSON), and past
    100,000 points each one's own values were dropped (the server drew default ones)."""
    rng = np.random.default_rng(1)
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--journal-dir",
                        "none"]) as server:
        there = napari_engine.connect(server.url, stream="none")
        try:
            colours = rng.uniform(0, 1, (50_000, 4))
            sizes = rng.uniform(1, 9, 50_000)
            there.add_points(rng.uniform(0, 4096, (50_000, 2)), size=sizes,
                             face_color=colours, name="own")
            joining = napari_engine.connect(server.url, stream="none")
            try:  # the server's values, as its state carries them (up to 100,000 items)
                np.testing.assert_allclose(joining.layers[0].size, sizes)
                np.testing.assert_allclose(joining.layers[0].face_color, colours, atol=0.003)
            finally:
                joining.close()
            # past what the state carries: one large green point among small blue ones,
            # seen in the server's picture
            there.layers.clear()
            count = 110_000
            data = np.zeros((count, 2))
            data[-1], data[0] = (100, 100), (200, 200)
            sizes = np.ones(count)
            sizes[-1] = 60
            colours = np.tile([0.0, 0.0, 1.0, 1.0], (count, 1))
            colours[-1] = (0, 1, 0, 1)
            there.add_points(data, size=sizes, face_color=colours, border_width=0)
            shot = there.screenshot()
            green = (shot[..., 1] > 200) & (shot[..., 0] < 50) & (shot[..., 2] < 50)
            assert green.sum() > 40  # a disc of 60 at zoom 0.18: about 90 pixels
        finally:
            there.close()


def test_many_shapes_reach_the_server_with_their_own_colours() -> None:
    """12,000 rectangles are 1.7 MB of JSON, refused over a message's 1 MiB: they go as
    arrays (vertices, counts, types, each one's own colour), and so does a script's
    ``shapes.data = ...`` of as many."""
    rows, cols = 60, 200
    corners = np.stack(np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij"),
                       -1).reshape(-1, 2).astype(float)
    square = np.array([[0.0, 0.0], [0.9, 0.0], [0.9, 0.9], [0.0, 0.9]])
    boxes = [corner + square for corner in corners]
    colours = np.where((corners[:, 1] < cols / 2)[:, None], [1.0, 0, 0, 1], [0, 1.0, 0, 1])
    with ServerProcess(["--token", "t", "--size", "64x48", "--empty", "--journal-dir",
                        "none"]) as server:
        there = napari_engine.connect(server.url, stream="none")
        try:
            shapes = there.add_shapes(boxes, shape_type="rectangle", face_color=colours,
                                      edge_width=0)
            assert there.connection.layers()[0]["count"] == rows * cols
            shot = there.screenshot()[..., :3].astype(int)
            left, right = shot[:, : shot.shape[1] // 2], shot[:, shot.shape[1] // 2:]
            assert ((left[..., 0] > 150) & (left[..., 1] < 80)).sum() > 100  # red boxes
            assert ((right[..., 1] > 150) & (right[..., 0] < 80)).sum() > 100  # green ones
            shapes.data = boxes[: rows * cols // 2]
            there.sync()
            assert there.connection.layers()[0]["count"] == rows * cols // 2
            vertices = np.zeros((8, 2))
            for counts, types, why in (([4, 3], [0, 0], "add up to 7, not 8"),
                                       ([1, 7], [0, 0], "2 to 10000 vertices"),
                                       ([4, 4], [0, 9], "an index into")):
                args, payload = arrays_payload(
                    [vertices, np.array(counts, np.int64), np.array(types, np.uint8)],
                    "shapes")
                with pytest.raises(RemoteError, match=why):
                    there.connection.request("layer.add_shapes", args, payload=payload)
            assert len(there.connection.layers()) == 1
        finally:
            there.close()
