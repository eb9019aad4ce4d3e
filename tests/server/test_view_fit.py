"""napari's first view is fitted to the canvas it is shown on, and a view someone moved
stays where they put it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.conftest import ServerFactory
from tests.server.wire import RawClient


def _zoom(url: str) -> float:
    peer = RawClient(url)
    try:
        return float(peer.welcome["state"]["camera"]["zoom"])
    finally:
        peer.close()


def test_a_new_canvas_size_fits_the_view_nobody_has_moved(
        start_server: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "square.tif"
    tifffile.imwrite(path, np.ones((64, 64), np.uint16))
    server = start_server("--size", "320x240", "--data", str(path))
    first = _zoom(server.url)
    client = RawClient(server.url)
    try:
        client.command("canvas.resize", {"width": 800, "height": 600})
        # napari's fit scales with the canvas's smaller side: 600 / 240 as much
        assert _zoom(server.url) == pytest.approx(first * 600 / 240, rel=0.02)
        client.command("camera.set", {"zoom": 2.0}, cid=2)
        client.command("canvas.resize", {"width": 400, "height": 300}, cid=3)
        assert _zoom(server.url) == 2.0  # moved by someone: kept
        client.command("view.reset", cid=4)
        fitted = _zoom(server.url)
        client.command("canvas.resize", {"width": 800, "height": 600}, cid=5)
        assert _zoom(server.url) == pytest.approx(fitted * 2, rel=0.02)
    finally:
        client.close()
