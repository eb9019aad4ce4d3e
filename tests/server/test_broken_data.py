"""Data that opens but cannot be read (corrupt chunks) never takes the server down."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import napari_engine
from napari_engine.client.connection import RemoteError
from tests.conftest import ServerFactory


@pytest.fixture
def corrupt_zarr(shared_data: Path, tmp_path: Path) -> Path:
    target = tmp_path / "corrupt.ome.zarr"
    shutil.copytree(shared_data / "nuclei_plk1.ome.zarr", target)
    chunks = [p for p in target.rglob("*") if p.is_file() and not p.name.startswith(".")
              and p.suffix != ".json" and p.name != "zarr.json"]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(b"\x00garbage, not a blosc chunk" * 10)
    return target


def test_unreadable_chunks_give_errors_and_the_server_carries_on(
        start_server: ServerFactory, corrupt_zarr: Path) -> None:
    server = start_server("--size", "320x240")
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        before = len(viewer.layers)
        with pytest.raises(RemoteError):
            viewer.add_image(corrupt_zarr)
            viewer.screenshot()
        for layer in list(viewer.layers)[before:]:  # whatever napari kept of it
            viewer.layers.remove(layer)
        assert viewer.screenshot().shape == (240, 320, 4)
        assert server.alive()
    finally:
        viewer.close()


def test_a_session_on_unreadable_data_opens_and_names_the_layer(
        start_server: ServerFactory, corrupt_zarr: Path) -> None:
    """The layer's chunks fail: the session still opens, every client is told which
    layer's data could not be loaded, a screenshot says so, and the server carries
    on (the rest of a view keeps working)."""
    server = start_server("--size", "320x240", "--data", str(corrupt_zarr))
    viewer = napari_engine.connect(server.url, stream="none", timeout=60)
    try:
        with pytest.raises(RemoteError, match="could not be loaded"):
            viewer.screenshot()
        told = [str(e) for e in viewer.connection.errors]
        assert any("data could not be loaded" in text for text in told), told
        viewer.layers.clear()
        viewer.add_image(np.ones((8, 8), np.uint8))
        assert viewer.screenshot().shape == (240, 320, 4)
        assert server.alive()
    finally:
        viewer.close()
