"""A 2D pan drawn as strips over the moved last frame equals a full draw, pixel for pixel."""

from __future__ import annotations

import time

import numpy as np

import napari_engine
from tests.conftest import ServerFactory
from tests.server.wire import recording_client, wait_until


def _load_the_way(viewer: napari_engine.ProxyViewer, dy: float, dx: float) -> None:
    """The data of a pan by (dy, dx) loaded first (chunks arriving during the pan
    would redraw the scene whole, refined), and the camera back where it was."""
    y, x = viewer.scene.camera.center[-2:]
    viewer.scene.camera.center = (y + dy, x + dx)
    viewer.sync(loaded=True)
    viewer.scene.camera.center = (y, x)
    viewer.sync(loaded=True)


def test_pan_strips_equal_a_full_draw(start_server: ServerFactory) -> None:
    server = start_server("--size", "480x320", "--still-delay", "5")
    viewer = napari_engine.connect(server.url, stream="none")  # the built-in sample
    viewer.scene.camera.zoom = 2.0
    viewer.sync()
    y, x = viewer.scene.camera.center[-2:]
    _load_the_way(viewer, 18.0, 60.0)
    conn, frames = recording_client(server.url, "lossless")
    try:
        wait_until(lambda: bool(frames))
        for i in range(1, 13):  # 10 px right, 3 px down per move: two strips each
            conn.send_command("camera.set", {"center": [y + 1.5 * i, x + 5.0 * i]})
            time.sleep(0.04)
        conn.request("sync")
        wait_until(lambda: frames[-1].header.view.center[-1] == x + 60.0)
        strips = [f for f in frames if f.header.strips]
        assert strips, "no pan was drawn as strips"
        assert frames[-1].header.strips
        shot = viewer.screenshot()  # drawn whole (a screenshot never uses strips)
        np.testing.assert_array_equal(frames[-1].decode(), shot)
        # anything but a pan is drawn whole
        count = len(frames)
        conn.send_command("layer.set", {"layer": viewer.layer_id(viewer.layers[0]),
                                        "props": {"opacity": 0.5}})
        conn.request("sync")
        wait_until(lambda: len(frames) > count)
        assert not frames[-1].header.strips
    finally:
        conn.close()
        viewer.close()


def test_a_pan_under_a_scale_bar_is_drawn_whole(start_server: ServerFactory) -> None:
    """The scale bar stays put while the scene moves: the moved last frame would carry it
    along, so the pan is drawn whole and every frame shows one scale bar."""
    server = start_server("--size", "480x320", "--still-delay", "5")
    viewer = napari_engine.connect(server.url, stream="none")
    viewer.scene.camera.zoom = 2.0
    viewer.canvas.overlays["scale_bar"].visible = True
    viewer.sync()
    _load_the_way(viewer, 0.0, 30.0)
    conn, frames = recording_client(server.url, "lossless")
    try:
        wait_until(lambda: bool(frames))
        count = len(frames)
        y, x = viewer.scene.camera.center[-2:]
        for i in range(1, 7):
            conn.send_command("camera.set", {"center": [y, x + 5.0 * i]})
            time.sleep(0.04)
        conn.request("sync")
        assert wait_until(lambda: frames[-1].header.view.center[-1] == x + 30.0)
        assert len(frames) > count and not any(f.header.strips for f in frames[count:])
        np.testing.assert_array_equal(frames[-1].decode(), viewer.screenshot())
    finally:
        conn.close()
        viewer.close()


def test_pan_redraw_full_draws_every_frame_whole(start_server: ServerFactory) -> None:
    """``--pan-redraw full``: the same pan, every frame drawn whole, the same picture."""
    server = start_server("--size", "480x320", "--still-delay", "5", "--pan-redraw", "full")
    viewer = napari_engine.connect(server.url, stream="none")
    viewer.scene.camera.zoom = 2.0
    viewer.sync()
    _load_the_way(viewer, 9.0, 30.0)
    conn, frames = recording_client(server.url, "lossless")
    try:
        wait_until(lambda: bool(frames))
        count = len(frames)
        y, x = viewer.scene.camera.center[-2:]
        for i in range(1, 7):
            conn.send_command("camera.set", {"center": [y + 1.5 * i, x + 5.0 * i]})
            time.sleep(0.04)
        conn.request("sync")
        assert wait_until(lambda: frames[-1].header.view.center[-1] == x + 30.0)
        assert len(frames) > count and not any(f.header.strips for f in frames)
        np.testing.assert_array_equal(frames[-1].decode(), viewer.screenshot())
    finally:
        conn.close()
        viewer.close()
