"""The tiles stream: a static scene costs nothing after its still; a small change costs
only the tiles it touched; the client's assembled picture equals the server's."""

from __future__ import annotations

import time

import numpy as np

import napari_engine
from tests.conftest import ServerFactory
from tests.server.wire import recording_client, wait_until


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
    conn, frames = recording_client(server.url, "tiles")
    try:
        def settle() -> None:
            wait_until(lambda: bool(frames) and frames[-1].header.still)
            time.sleep(0.5)

        settle()
        assert frames and frames[-1].header.lossless
        # a static scene: nothing more arrives
        before = conn.traffic.get("frame", 0)
        time.sleep(1.0)
        assert conn.traffic.get("frame", 0) == before
        # a cursor-sized change (the dot moves by 6 screen pixels): a few tiles, under the
        # 10 kB the README promises (moving frame and lossless refresh together)
        count = len(frames)
        bytes_before = conn.traffic["frame"]
        zoom = driver.scene.camera.zoom
        points.translate = (6.0 / zoom, 6.0 / zoom)
        driver.sync()
        settle()
        touched = {tuple(t[:2]) for f in frames[count:] for t in f.header.tiles or ()}
        assert 0 < len(touched) <= 4, touched
        assert conn.traffic["frame"] - bytes_before < 10_000, conn.traffic["frame"] - bytes_before
        # what the client assembled is what the server draws
        shot = driver.screenshot()
        np.testing.assert_array_equal(frames[-1].decode(), shot)
    finally:
        conn.close()
        driver.close()


def test_a_pan_moves_the_clients_picture_and_sends_the_strips(
        start_server: ServerFactory) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.3")
    driver = napari_engine.connect(server.url, stream="none")
    for layer in list(driver.layers):
        driver.layers.remove(layer)
    rng = np.random.default_rng(1)
    driver.add_image(rng.integers(0, 255, (1000, 1000), dtype=np.uint8), name="texture",
                     contrast_limits=(0, 255))
    driver.scene.camera.center = (500.0, 500.0)
    driver.scene.camera.zoom = 2.0
    driver.sync()
    conn, frames = recording_client(server.url, "tiles")
    try:
        wait_until(lambda: bool(frames) and frames[-1].header.still)
        full = len(frames[-1].payload)
        count = len(frames)
        for i in range(1, 11):  # 8 screen pixels right and 2 down per move
            driver.connection.send_command("camera.set",
                                           {"center": [500.0 + i, 500.0 + 4.0 * i]})
            time.sleep(0.05)
        driver.sync()
        wait_until(lambda: frames[-1].header.still and len(frames) > count
                   and frames[-1].header.view.center[-1] == 540.0)
        moving = [f for f in frames[count:] if not f.header.still]
        shifted = [f for f in moving if f.header.shift is not None]
        assert shifted, [(f.header.tiles or ())[:1] for f in moving]
        for f in shifted:
            dx, dy = f.header.shift
            assert dx < 0 and dy <= 0 and dx % 8 == 0
            assert len(f.payload) < full / 3
        # on loopback the still is lossless (a busy CPU must not make the link look thin),
        # and after it the assembled picture is exactly the server's
        assert frames[-1].header.lossless, [t.encoding for t in frames[-1].header.tiles or ()]
        shot = driver.screenshot()
        np.testing.assert_array_equal(frames[-1].decode(), shot)
    finally:
        conn.close()
        driver.close()
