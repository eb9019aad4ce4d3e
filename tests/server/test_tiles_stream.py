"""The tiles stream: a static scene costs nothing after its still; a small change costs
only the tiles it touched; the client's assembled picture equals the server's."""

from __future__ import annotations

import time

import numpy as np

import napari_engine
from napari_engine.client.connection import Connection, Frame
from tests.conftest import ServerFactory


def test_tiles_stream_sends_only_what_changed(start_server: ServerFactory) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.2")
    driver = napari_engine.connect(server.url, stream="none")
    for layer in list(driver.layers):
        driver.layers.remove(layer)
    image = np.zeros((200, 200), np.uint16)
    image[50:150, 50:150] = 1000
    driver.add_image(image, name="square", contrast_limits=(0, 1000))
    points = driver.add_points([[10.0, 10.0]], size=3, face_color="red", name="dot")
    driver.reset_view()
    driver.sync()
    frames: list[Frame] = []
    conn = Connection(server.url, stream="tiles")
    conn.on_frame(frames.append)
    conn.open()
    try:
        def settle() -> None:
            deadline = time.monotonic() + 10
            while not (frames and frames[-1].header["still"]) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.5)

        settle()
        assert frames and frames[-1].header["lossless"]
        # a static scene: nothing more arrives
        before = conn.traffic.get("frame", 0)
        time.sleep(1.0)
        assert conn.traffic.get("frame", 0) == before
        # a small change (the dot moves a little): a few tiles, not the frame
        count = len(frames)
        bytes_before = conn.traffic["frame"]
        driver.connection.send_command("layer.set", {"layer": points.id,
                                                     "props": {"opacity": 0.5}})
        driver.sync()
        settle()
        touched = {tuple(t[:2]) for f in frames[count:] for t in f.header["tiles"]}
        assert 0 < len(touched) <= 4, touched
        assert conn.traffic["frame"] - bytes_before < 40_000
        # what the client assembled is what the server draws
        shot = driver.screenshot()
        np.testing.assert_array_equal(frames[-1].decode(), shot)
    finally:
        conn.close()
        driver.close()
