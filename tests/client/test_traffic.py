"""Only pixels and small state messages cross to the client, never the voxels."""

from __future__ import annotations

import time

import numpy as np

from tests.client.test_model import Mirrored
from tests.conftest import ServerFactory


def test_client_receives_frames_and_metadata_only(start_server: ServerFactory) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.1")
    mirrored = Mirrored(server.url, stream="auto")  # the GUI's model, on this thread
    conn, viewer = mirrored.connection, mirrored.viewer
    layer = viewer.layers[0]
    level0 = layer.data[0]
    assert level0.size > 10**14  # the petabyte sample
    # browse: zoom to full resolution, pan, scroll through z, change a layer
    viewer.camera.zoom = 4.0
    for i in range(30):
        viewer.camera.center = (0.0, 16384.0 + 20 * i, 16384.0 + 30 * i)
        viewer.dims.set_current_step(0, 8000 + i)
        time.sleep(0.02)
        mirrored.pump()
    layer.contrast_limits = (100, 3000)
    time.sleep(1.0)
    mirrored.pump()
    conn.close()
    frames = conn.traffic.pop("frame")
    control = sum(conn.traffic.values())
    assert set(conn.traffic) <= {"welcome", "state", "reply", "error", "pong"}
    assert frames > 0 and control < 200_000, conn.traffic
    # everything received is smaller than a single full-resolution plane of the data
    plane_bytes = int(np.prod(level0.shape[-2:])) * level0.dtype.itemsize
    assert frames + control < plane_bytes / 1000
    assert all(s == 0 for s in level0.strides)  # and the client holds no voxels
