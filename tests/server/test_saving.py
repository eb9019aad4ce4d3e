"""Saving: napari's writers, on the server's data, never a file of placeholder zeros;
written where the data is (atomically) when it is large, downloaded when it is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_engine
from napari_engine.client.connection import RemoteError
from napari_engine.protocol import ProtocolError
from tests.conftest import ServerFactory


def test_layers_save_writes_the_servers_data_with_napari_writers(
        start_server: ServerFactory, tmp_path: Path) -> None:
    volume = np.arange(5 * 16 * 16, dtype=np.uint16).reshape(5, 16, 16)
    source = tmp_path / "volume.tif"
    tifffile.imwrite(source, volume)
    saved = tmp_path / "saved"
    server = start_server("--size", "320x240", "--data", str(source), "--save-dir", str(saved))
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        # small: napari writes it here, its voxels read from the server
        here = tmp_path / "copy.tif"
        assert viewer.layers.save(str(here)) == [str(here)]
        np.testing.assert_array_equal(tifffile.imread(here), volume)
        # large data is written on the server, by napari's writers there
        written = viewer.save_on_server("copy.tif", [viewer.layers[0]])
        assert written == [str((saved / "copy.tif").resolve())]
        np.testing.assert_array_equal(tifffile.imread(saved / "copy.tif"), volume)
        assert sorted(p.name for p in saved.iterdir()) == ["copy.tif"]  # no scratch left
        # saving again replaces it whole
        viewer.add_points(np.array([[1.0, 2.0, 3.0]]))
        assert viewer.save_on_server("copy.tif", [viewer.layers[0]])
        # points carry their coordinates to the client: napari writes them here
        points_file = tmp_path / "points.csv"
        viewer.layers.selection = {viewer.layers[-1]}
        assert viewer.layers.save(str(points_file), selected=True) == [str(points_file)]
        assert "3.0" in points_file.read_text()
        with pytest.raises(ProtocolError, match="save directory"):  # refused before sending
            viewer.save_on_server("../outside.tif")
        with pytest.raises(RemoteError, match="no napari writer"):
            viewer.save_on_server("copy.unknown-format")
    finally:
        viewer.close()
