"""A layer that cannot be drawn is hidden with its error, and the rest draws (issue 12,
item 2): a real server reading a real OME-Zarr whose finest level is corrupt, inside
napari's draw (``--load-workers 0``), beside a healthy layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import napari_engine
from napari_engine.bench.stores import write_pyramid
from napari_engine.server.process import ServerProcess


def test_a_layer_that_cannot_be_drawn_is_hidden_and_the_rest_draws(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pyramid = write_pyramid(tmp_path, zarr_format=3, side=512, chunk=128)
    for chunk in (pyramid / "0" / "c").rglob("*"):
        if chunk.is_file() and chunk.relative_to(pyramid / "0" / "c").parts != ("0", "0"):
            chunk.write_bytes(b"not zstd at all" * 8)  # level 0 corrupt but its corner
    log = tmp_path / "server.log"
    with ServerProcess(["--token", "t", "--size", "160x120", "--empty", "--journal-dir",
                        "none", "--load-workers", "0", "--data-root", str(tmp_path),
                        "--interactive-scale", "1", "--log-level", "INFO"], log_path=log) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            broken = viewer.add_image(str(pyramid), name="ramp")  # the view fits it
            healthy = viewer.add_image(np.full((512, 512), 200, np.uint8), name="healthy",
                                       opacity=0.5)
            assert viewer.screenshot()[..., :3].std() > 0  # its coarse levels draw
            viewer.scene.camera.zoom = viewer.scene.camera.zoom * 8  # level 0: corrupt
            picture = viewer.screenshot()
            viewer.sync()
            assert broken.visible is False and healthy.visible is True
            assert picture[..., :3].max() > 0  # the healthy layer, drawn
            assert server.alive()
        finally:
            viewer.close()
    assert "drawing failed" in log.read_text()  # with its traceback, for the operator
    told = [r.getMessage() for r in caplog.records if "could not be drawn" in r.getMessage()]
    assert told and "'ramp'" in told[0] and "Zstd" in told[0]  # the script was told why
