"""A frame never waits for data (issue 11, item 2), against a real HTTP store on loopback
that holds its chunks back, fails them, or serves them: no timed assertions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import napari_engine
from napari_engine.bench.stores import serve_http, write_pyramid
from napari_engine.client.connection import RemoteError
from napari_engine.server.process import ServerProcess

HOLD_S = 120.0  # how long the store holds a chunk back at most (the test releases it)


class Store:
    """The pyramid (zarr v3) over HTTP: chunk requests wait while ``held`` is clear, and fail with
    ``fail_with`` when it is set."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.held.set()
        self.fail_with: int | None = None
        self.waiting = threading.Event()  # a chunk request is being held

    def before(self, path: str) -> int | None:
        if "/c/" not in path:
            return None  # only chunks (zarr v3 keys: <array>/c/<i>/<j>) are held or fail
        if not self.held.is_set():
            self.waiting.set()
            self.held.wait(HOLD_S)
        return self.fail_with


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pyramid(tmp_path_factory.mktemp("loading"), zarr_format=3, side=512,
                         chunk=128)


@pytest.fixture
def store(pyramid: Path) -> Iterator[tuple[Store, str]]:
    gate = Store()
    with serve_http(pyramid.parent, gate.before) as base:
        yield gate, f"{base}/{pyramid.name}"
    gate.held.set()


def _server(*args: str) -> ServerProcess:
    return ServerProcess(["--token", "t", "--size", "320x240", "--journal-dir", "none",
                          "--interactive-scale", "1", *args])


@contextlib.contextmanager
def _beside_a_stuck_store(gate: Store, url: str) -> Iterator[tuple[Any, Any, Any, np.ndarray]]:
    """One server: session A shows the store's image (loaded), session B a local one
    (its screenshot taken); then the store holds its chunks back until the block ends
    (or ``gate.held`` is set). Yields A, B, A's layer and B's screenshot."""
    with _server("--data-root", url.rsplit("/", 1)[0] + "/") as server:
        b = napari_engine.connect(server.url.replace("/?", "/session/b?"), stream="none")
        a = napari_engine.connect(server.url.replace("/?", "/session/a?"), stream="none")
        try:
            b.layers.clear()
            b.add_image(np.full((16, 16), 200, np.uint8))
            before = b.screenshot()
            a.layers.clear()
            layer = a.add_image(url)
            a.sync(loaded=True)
            gate.held.clear()
            yield a, b, layer, before
        finally:
            gate.held.set()
            a.close()
            b.close()
        assert server.alive()


def test_a_stuck_store_does_not_stop_another_session(store: tuple[Store, str]) -> None:
    """Session A zooms in to chunks its store holds back: A's layer shows napari's
    "loading" and its screenshot waits, while session B (local data) still gets its
    screenshots. Once the store answers, A's screenshot shows the image exactly as a
    server that reads the file does."""
    gate, url = store
    shots: list[np.ndarray] = []
    with _beside_a_stuck_store(gate, url) as (a, b, layer, before):
        a.scene.camera.zoom = a.scene.camera.zoom * 4  # the finest level's chunks
        waiter = threading.Thread(target=lambda: shots.append(a.screenshot()))
        waiter.start()
        assert gate.waiting.wait(HOLD_S)  # A's chunks are asked for, and held
        b.layers[0].opacity = 0.5
        after = b.screenshot()  # B draws while A's data is stuck
        assert not np.array_equal(before, after)
        a.sync()
        assert layer.loaded is False  # napari's loading flag, the server's
        assert waiter.is_alive()  # A's screenshot waits for its data
        gate.held.set()
        waiter.join(HOLD_S)
        a.sync()
        assert shots and layer.loaded is True
        camera = a.scene.camera.center, a.scene.camera.zoom
    with _server("--data", url) as reference:
        expected = napari_engine.connect(reference.url, stream="none")
        try:
            expected.scene.camera.center, expected.scene.camera.zoom = camera
            np.testing.assert_array_equal(shots[0], expected.screenshot())
        finally:
            expected.close()


def test_a_failing_store_is_an_error_on_its_layer(store: tuple[Store, str]) -> None:
    """HTTP 500 for every chunk: the script's screenshot raises naming the layer, and
    the session keeps drawing its other layers."""
    gate, url = store
    with _server("--data-root", url.rsplit("/", 1)[0] + "/") as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            viewer.layers.clear()
            viewer.add_image(url, name="remote")
            viewer.sync(loaded=True)
            gate.fail_with = 500  # (obstore retries a 500 ten times: seconds a chunk)
            viewer.scene.camera.zoom = viewer.scene.camera.zoom * 4  # chunks not read yet
            with pytest.raises(RemoteError, match=r"'remote'.*could not be loaded"):
                viewer.sync(loaded=True)
            with pytest.raises(RemoteError, match="cannot read OME-Zarr"):
                viewer.add_image(url)  # its contrast limits come from its chunks
            viewer.layers.clear()
            viewer.add_image(np.full((16, 16), 200, np.uint8))
            assert viewer.screenshot()[..., :3].max() > 0
            assert server.alive()
        finally:
            viewer.close()


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-level OME-Zarr volume, 32 x 128 x 128 halved along every axis: random
    voxels, so that each level draws a picture of its own."""
    import zarr

    path = tmp_path_factory.mktemp("volume") / "volume.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    data = np.random.default_rng(3).integers(0, 255, (32, 128, 128), dtype=np.uint8)
    for level in range(3):
        f = 2 ** level
        group.create_array(str(level), data=data[::f, ::f, ::f].copy(), chunks=(8, 32, 32))
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": a, "type": "space"} for a in "zyx"],
        "datasets": [{"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": [2.0 ** level] * 3}]} for level in range(3)]}],
        "omero": {"channels": [{"window": {"start": 0, "end": 255}}]}}
    return path


def _3d_screenshot(viewer: napari_engine.ProxyViewer) -> np.ndarray:
    viewer.dims.ndisplay = 3
    viewer.sync(loaded=True)
    return viewer.screenshot()


def test_3d_draws_the_finest_level_that_fits_the_voxel_budget(volume: Path) -> None:
    """napari draws a multiscale image's coarsest level in 3D. With a budget of 70,000
    voxels the server draws level 1 (16 x 64 x 64 = 65,536 voxels): the picture
    napari draws with that level locked; the person's resolution control stays on
    auto, and a level the person locks wins. Back in 2D napari chooses again."""
    with _server("--data", str(volume), "--voxels-3d", "70000") as fitted, \
            _server("--data", str(volume), "--voxels-3d", "1") as coarsest:
        ours = napari_engine.connect(fitted.url, stream="none")
        theirs = napari_engine.connect(coarsest.url, stream="none")
        try:
            picture = _3d_screenshot(ours)
            assert ours.layers[0].locked_data_level is None  # auto, as the person left it
            napari_default = _3d_screenshot(theirs)
            assert not np.array_equal(picture, napari_default)
            theirs.layers[0].locked_data_level = 1
            np.testing.assert_array_equal(picture, _3d_screenshot(theirs))
            ours.layers[0].locked_data_level = 2  # the person's choice wins
            np.testing.assert_array_equal(_3d_screenshot(ours), napari_default)
            ours.layers[0].locked_data_level = None
            ours.dims.ndisplay = 2
            ours.sync(loaded=True)
            theirs.layers[0].locked_data_level = None
            theirs.dims.ndisplay = 2
            theirs.sync(loaded=True)
            np.testing.assert_array_equal(ours.screenshot(), theirs.screenshot())
        finally:
            ours.close()
            theirs.close()


def test_a_read_from_a_stuck_store_does_not_stop_another_session(
        store: tuple[Store, str], pyramid: Path) -> None:
    """A script's read of a layer's voxels (``layer.data[...]``) waits for every chunk:
    while the store holds them back, another session of the same server process still
    draws; once it answers, the read has the file's values."""
    gate, url = store
    reads: list[np.ndarray] = []
    with _beside_a_stuck_store(gate, url) as (_a, b, layer, before):
        reader = threading.Thread(
            target=lambda: reads.append(np.asarray(layer.data[0][256:512, 0:384])))
        reader.start()
        assert gate.waiting.wait(HOLD_S)  # the read's chunks are asked for, and held
        b.layers[0].opacity = 0.5
        assert not np.array_equal(before, b.screenshot())  # B draws meanwhile
        assert reader.is_alive()
        gate.held.set()
        reader.join(HOLD_S)
    import zarr

    expected = zarr.open_group(str(pyramid), mode="r")["0"][256:512, 0:384]
    np.testing.assert_array_equal(reads[0], expected)
