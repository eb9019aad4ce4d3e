"""The napari window as a client, driven like a person would, under Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ServerFactory

HERE = Path(__file__).parent


def test_napari_window_drives_the_remote_session(start_server: ServerFactory,
                                                 xvfb_display: str, output_dir: Path) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.2")
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    for key in ("EGL_PLATFORM", "PYOPENGL_PLATFORM"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, str(HERE / "gui_session.py"), server.url,
                           str(output_dir)], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["first_frame"]
    assert result["layers"] == ["sample nuclei", "sample membrane"]
    assert result["canvas_std"] > 5, "the canvas is blank"
    assert result["local_center_moved"]
    assert result["server_followed"]
    assert result["server_layer"] == {"opacity": 0.5, "colormap": "cyan"}
    assert result["remote_change_seen"]
    assert result["rotated_frame"] and result["canvas_3d_std"] > 5
    assert ": 5" in result["painted_status"], result["painted_status"]
    assert result["new_label_after_m"]
    assert result["point_added"]
    assert result["play_moved_server_z"]  # max(data) + 1, computed where the data is
