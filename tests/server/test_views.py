"""What each client of a shared session has of its own: its canvas size always, and a
camera and dims of its own when it asks (``view="own"``); the rest is shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

import napari_engine
from napari_engine.server.process import ServerProcess
from tests.conftest import ServerFactory
from tests.server.wire import RawClient, wait_until


def _planes() -> np.ndarray:
    """Eight planes, each a square at its own place (a slice shows which plane it is)."""
    volume = np.zeros((8, 64, 64), np.uint8)
    for z in range(8):
        volume[z, 4 + 6 * z:12 + 6 * z, 8:56] = 255
    return volume


def test_each_client_draws_at_its_own_canvas_size(start_server: ServerFactory) -> None:
    server = start_server("--size", "320x240", "--empty")
    wide = napari_engine.connect(server.url, stream="none", size=(400, 200))
    small = napari_engine.connect(server.url, stream="none", size=(160, 120))
    try:
        wide.add_image(_planes(), name="planes")
        assert wide.screenshot().shape[:2] == (200, 400)
        assert small.screenshot().shape[:2] == (120, 160)
        small.canvas.size = (100, 180)  # (height, width), as napari's canvas
        small.sync()
        # the other client's canvas stays as it was
        assert wide.screenshot().shape[:2] == (200, 400)
        assert small.screenshot().shape[:2] == (100, 180)
        wide.sync()
        assert tuple(wide.canvas.size) == (200, 400)
        # the camera is shared: the same zoom shows the same data pixels at each size
        wide.scene.camera.zoom = 2.0
        wide.sync()
        assert wait_until(lambda: small.scene.camera.zoom == 2.0)
    finally:
        wide.close()
        small.close()


def test_a_client_with_its_own_view_moves_alone(start_server: ServerFactory) -> None:
    server = start_server("--size", "200x200", "--empty")
    shared = napari_engine.connect(server.url, stream="none")
    own = napari_engine.connect(server.url, stream="none", view="own")
    try:
        assert own.view_mode == "own" and shared.view_mode == "shared"
        shared.add_image(_planes(), name="planes")
        own.sync()
        assert "planes" in own.layers
        shared.dims.set_current_step(0, 1)
        shared.scene.camera.zoom = 1.5
        own.dims.set_current_step(0, 6)
        own.sync()
        shared.sync()
        assert shared.dims.current_step[0] == 1 and shared.scene.camera.zoom == 1.5
        assert own.dims.current_step[0] == 6 and own.scene.camera.zoom != 1.5
        # each picture shows its own slice: the own view's is the shared one's at plane 6
        own_picture = own.screenshot()
        shared_before = shared.screenshot()
        shared.scene.camera.zoom = own.scene.camera.zoom
        shared.scene.camera.center = own.scene.camera.center
        shared.dims.set_current_step(0, 6)
        np.testing.assert_array_equal(shared.screenshot(), own_picture)
        assert not np.array_equal(shared_before, own_picture)
        # edits stay shared
        shared.layers["planes"].opacity = 0.5
        shared.sync()
        assert wait_until(lambda: (own.sync(), own.layers["planes"].opacity)[1] == 0.5)
        # back to the session's view: the session's camera and slice come back
        shared.dims.set_current_step(0, 3)
        shared.sync()
        own.set_view("shared")
        assert own.view_mode == "shared"
        assert own.dims.current_step[0] == 3
        np.testing.assert_array_equal(own.screenshot(), shared.screenshot())
        own.set_view("own")  # starts where the session is
        assert own.dims.current_step[0] == 3
    finally:
        shared.close()
        own.close()


def test_a_colleagues_scroll_draws_nothing_for_an_own_view(
        start_server: ServerFactory) -> None:
    server = start_server("--size", "200x160", "--empty")
    shared = napari_engine.connect(server.url, stream="none")
    try:
        shared.add_image(_planes(), name="planes")
        shared.sync()
        watcher = RawClient(server.url, stream="lossless", view="own")
        try:
            first, _ = watcher.expect_frame()
            start = first["view"]["current_step"][0]  # napari's middle plane
            for step in (0, 1, 2, 7):
                shared.dims.set_current_step(0, step)
                shared.sync()
            watcher.command("sync", cid=7)  # everything before it was applied
            assert all(f["view"]["current_step"][0] == start for f in watcher.frames)
            frames_before = len(watcher.frames)
            # its own scroll draws its own picture
            watcher.command("dims.set", {"step": [0, 5]}, cid=8)
            header, _ = watcher.expect_frame()
            assert header["view"]["current_step"][0] == 5
            assert len(watcher.frames) == frames_before + 1
            shared.sync()
            assert shared.dims.current_step[0] == 7
        finally:
            watcher.close()
    finally:
        shared.close()


def test_a_replay_paints_where_each_client_painted(tmp_path: Path) -> None:
    """Clients of other sizes and looks take turns painting; the journal records where
    each looked, so the restored labels are the painted ones."""
    data = tmp_path / "planes.tif"
    tifffile.imwrite(data, _planes(), photometric="minisblack")
    saved = tmp_path / "saved"
    args = ["--token", "t", "--size", "320x240", "--data", str(data),
            "--journal-dir", str(tmp_path / "journal"), "--save-dir", str(saved)]
    first = ServerProcess(args)
    first.start()
    big = RawClient(first.url, size=[320, 240])
    small = RawClient(first.url, size=[160, 120], view="own")
    labels = big.command("layer.new_labels", {}, cid=1)["result"]["layers"][0]
    for who, label, cid in ((big, 3, 10), (small, 5, 20)):
        who.command("layer.select", {"layers": [labels]}, cid=cid)
        who.command("layer.set", {"layer": labels, "props": {
            "mode": "paint", "selected_label": label, "brush_size": 4}}, cid=cid + 1)
    small.command("dims.set", {"step": [0, 2]}, cid=29)  # its own plane
    for who, cid in ((big, 30), (small, 40), (big, 50)):
        for i, kind in enumerate(("press", "move", "release")):
            who.command("input.mouse", {"event": kind, "pos": [60 + 10 * i, 50],
                                        "button": 1, "modifiers": []}, cid=cid + i)
    big.command("layer.save", {"layers": [labels], "path": "before.tif"}, cid=90)
    first.stop()
    big.close()
    small.close()

    with ServerProcess(args) as second:
        again = RawClient(second.url)
        again.command("layer.save", {"layers": [labels], "path": "after.tif"}, cid=1)
        before, after = (tifffile.imread(saved / n) for n in ("before.tif", "after.tif"))
        assert (before == 3).sum() > 10 and (before == 5).sum() > 10
        assert (before[2] == 5).sum() == (before == 5).sum()  # the small one's own plane
        np.testing.assert_array_equal(after, before)
        again.close()


def test_a_resized_client_leaves_no_picture_of_its_old_size(
        start_server: ServerFactory) -> None:
    """Each picture holds a frame: the sizes a window was dragged through must not pile
    up in the server (it says how many pictures a session holds in its log)."""
    server = start_server("--size", "200x160", "--empty")
    viewer = napari_engine.connect(server.url, stream="lossless")
    try:
        viewer.add_image(_planes(), name="planes")
        for width in range(200, 400, 20):
            viewer.canvas.size = (160, width)
            assert viewer.screenshot().shape[:2] == (160, width)
        viewer.sync()
    finally:
        viewer.close()
    assert server.log_path is not None
    counts = [line.split("pictures: ")[1].split()[0]
              for line in server.log_path.read_text().splitlines() if "pictures: " in line]
    # each resize forgot the picture of the size before: never more than the one shown
    assert len(counts) >= 9 and max(int(c) for c in counts) <= 1, counts
