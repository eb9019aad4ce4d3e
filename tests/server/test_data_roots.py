"""A client opens only what the server offers (``--data-root``), and saves nothing on a
``--read-only`` server: real server, real files, real FIFO."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_engine
from napari_engine.client.connection import RemoteError
from napari_engine.server.process import ServerProcess


def test_paths_outside_the_data_roots_are_refused_alike(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "private"
    data.mkdir()
    elsewhere.mkdir()
    tifffile.imwrite(data / "cells.tif", np.full((16, 16), 7, np.uint16))
    tifffile.imwrite(elsewhere / "secret.tif", np.full((16, 16), 9, np.uint16))
    (data / "link.tif").symlink_to(elsewhere / "secret.tif")
    os.mkfifo(data / "pipe.tif")
    with ServerProcess(["--token", "t", "--size", "64x64", "--empty", "--journal-dir",
                        "none", "--data-root", str(data), "--read-only"]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            layer = viewer.add_image(str(data / "cells.tif"))
            assert layer.name == "cells"
            answers = []
            for name in (elsewhere / "secret.tif", elsewhere / "missing.tif",
                         data / ".." / "private" / "secret.tif", data / "link.tif"):
                with pytest.raises(RemoteError) as refused:
                    viewer.add_image(str(name))
                answers.append(str(refused.value).replace(str(name), "NAME"))
            assert len(set(answers)) == 1 and "not below the server's data roots" in answers[0]
            with pytest.raises(RemoteError, match="not a regular file"):
                viewer.add_image(str(data / "pipe.tif"))  # a FIFO: refused, not read
            with pytest.raises(RemoteError, match="does not save"):
                viewer.save_on_server("out.tif")
            assert viewer.screenshot().shape[:2] == (64, 64)  # the session still serves
            assert len(viewer.layers) == 1
        finally:
            viewer.close()
