"""Only pixels and small state messages cross to the client, never the voxels."""

from __future__ import annotations

import time

import numpy as np

import napari_engine
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
