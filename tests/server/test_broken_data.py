"""Data that opens but cannot be read (corrupt chunks) never takes the server down."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def test_a_session_that_cannot_open_is_an_error_not_a_hang(
        start_server: ServerFactory, corrupt_zarr: Path) -> None:
    server = start_server("--size", "320x240", "--data", str(corrupt_zarr))
    with pytest.raises((RemoteError, ConnectionError)):
        napari_engine.connect(server.url, stream="none", timeout=60)
    assert server.alive()
