"""A server frame matches what napari itself draws for the same scene.

The reference is plain napari in a real Qt window under Xvfb (GLX on Mesa); the server
renders the same layer and camera on EGL, sends it losslessly, and the two images are
compared. Tolerance: at most 0.1% of pixels may differ by more than 2 levels in any
channel, and the mean absolute difference must stay under 0.1 level. Measured here
(Mesa 22.3 llvmpipe, napari 0.9.2): the 2D frames are identical, the 3D (MIP) frames
differ by 1 level on 2 of 307,200 pixels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import napari_engine
from tests.conftest import ServerFactory

SIZE = (640, 480)
HERE = Path(__file__).parent


def _local_napari(data: np.ndarray, params: dict[str, Any], display: str,
                  tmp_path: Path) -> np.ndarray:
    np.save(tmp_path / "data.npy", data)
    (tmp_path / "params.json").write_text(json.dumps(params))
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    for key in ("EGL_PLATFORM", "PYOPENGL_PLATFORM"):
        env.pop(key, None)
    subprocess.run([sys.executable, str(HERE / "local_napari_shot.py"), str(tmp_path / "data.npy"),
                    str(tmp_path / "params.json"), str(tmp_path / "local.npy")],
                   env=env, check=True, timeout=180)
    return np.load(tmp_path / "local.npy")


def _server_shot(url: str, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    viewer = napari_engine.connect(url, stream="none")
    try:
        width, height = params["size"]
        viewer.canvas.size = (height, width)
        for layer in list(viewer.layers):  # the server's own sample: not in this scene
            viewer.layers.remove(layer)
        viewer.add_image(data, **params["layer"])
        viewer.dims.ndisplay = params["ndisplay"]
        if "current_step" in params:
            viewer.dims.current_step = params["current_step"]
        viewer.scene.camera.center = params["camera"]["center"]
        viewer.scene.camera.zoom = params["camera"]["zoom"]
        if "angles" in params["camera"]:
            viewer.scene.camera.angles = params["camera"]["angles"]
        return viewer.screenshot()
    finally:
        viewer.close()


def _compare(name: str, local: np.ndarray, remote: np.ndarray, out: Path) -> None:
    from PIL import Image

    diff = np.abs(local[..., :3].astype(int) - remote[..., :3].astype(int))
    Image.fromarray(local).save(out / f"fidelity_{name}_napari.png")
    Image.fromarray(remote).save(out / f"fidelity_{name}_server.png")
    Image.fromarray(np.clip(diff * 16, 0, 255).astype(np.uint8)).save(
        out / f"fidelity_{name}_diff_x16.png")
    assert local.shape == remote.shape
    assert remote[..., :3].max() > 50, "server frame is blank"
    bad = (diff.max(axis=2) > 2).mean()
    assert bad <= 0.001, f"{bad:.3%} of pixels differ by more than 2 levels"
    assert diff.mean() < 0.1, f"mean absolute difference {diff.mean():.3f}"


@pytest.fixture(scope="module")
def chromosomes(shared_data: Path) -> np.ndarray:
    return np.asarray(tifffile.imread(shared_data / "chromosomes_zyx_u16.tif"))


@pytest.mark.parametrize("ndisplay", [2, 3])
def test_server_frame_matches_local_napari(ndisplay: int, chromosomes: np.ndarray,
                                           xvfb_display: str, start_server: ServerFactory,
                                           tmp_path: Path, output_dir: Path) -> None:
    lo, hi = np.percentile(chromosomes, [1, 99.8])
    params: dict[str, Any] = {
        "layer": {"name": "chromosomes", "colormap": "magma",
                  "contrast_limits": [float(lo), float(hi)]},
        "ndisplay": ndisplay,
        "size": list(SIZE),
    }
    if ndisplay == 2:
        params["current_step"] = [20, 0, 0]
        params["camera"] = {"center": [70.0, 60.0], "zoom": 3.0}
    else:
        params["layer"]["rendering"] = "mip"
        params["camera"] = {"center": [20.0, 76.0, 63.0], "zoom": 2.5,
                            "angles": [10.0, -30.0, 60.0]}
    local = _local_napari(chromosomes, params, xvfb_display, tmp_path)
    server = start_server("--size", f"{SIZE[0]}x{SIZE[1]}")
    remote = _server_shot(server.url, chromosomes, params)
    _compare(f"{ndisplay}d", local, remote, output_dir)
