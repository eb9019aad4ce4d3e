"""The napari window as a client, driven like a person would, under Xvfb."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from napari_engine.server.process import ServerProcess
from tests.conftest import ServerFactory, write_contrast_volume

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def _window_env(display: str, **extra: str) -> dict[str, str]:
    """A window process's environment: the Xvfb display, Qt on X, a native traceback if
    it crashes, this checkout importable (``tests.client.gui_tools``), and napari
    settings of its own (napari saves the window's size and docks when it closes: shared,
    one test's window would shape the next, and the person's own napari)."""
    settings = Path(tempfile.mkdtemp(prefix="napari-settings-")) / "settings.yaml"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "PYTHONFAULTHANDLER": "1", "PYTHONPATH": str(ROOT),
           "NAPARI_CONFIG": str(settings), **extra}
    for key in ("EGL_PLATFORM", "PYOPENGL_PLATFORM"):  # the server's, not a window's
        env.pop(key, None)
    return env


def _run_window(script: str, *args: str, display: str, **extra_env: str) -> dict[str, Any]:
    """Run a window script to its end; the JSON line it printed last."""
    proc = subprocess.run([sys.executable, str(HERE / script), *args],
                          env=_window_env(display, **extra_env), capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_napari_window_drives_the_remote_session(start_server: ServerFactory,
                                                 xvfb_display: str, output_dir: Path) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.2")
    result = _run_window("gui_session.py", server.url, str(output_dir),
                         display=xvfb_display)
    assert result["first_frame"]
    assert result["layers"] == ["sample nuclei", "sample membrane"]
    # the server's active layer is the window's, and its controls are shown
    assert result["active_layer"] == result["controls_layer"] == "sample membrane"
    assert result["canvas_std"] > 5, "the canvas is blank"
    assert result["local_center_moved"]
    assert result["server_followed"]
    assert result["server_layer"] == {"opacity": 0.5, "colormap": "cyan"}
    assert result["remote_change_seen"]
    assert result["scale_bar_on_server"] and result["scale_bar_drawn"] > 2.0, result
    assert result["brush_ring_white"] >= 3, result
    assert result["rotated_frame"] and result["canvas_3d_std"] > 5
    assert ": 5" in result["painted_status"], result["painted_status"]
    assert result["new_label_after_m"]
    assert result["point_added"]
    assert result["play_moved_server_z"]  # max(data) + 1, computed where the data is


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"the window never reached {path.name}"
        time.sleep(0.05)


def test_a_window_on_a_script_viewer_shows_a_lost_server_and_comes_back(
        xvfb_display: str, output_dir: Path, tmp_path: Path) -> None:
    first = ServerProcess(["--token", "t", "--size", "640x480"])
    first.start()
    port = first.url.split(":")[2].split("/")[0]
    proc = subprocess.Popen([sys.executable, str(HERE / "gui_reconnect.py"), first.url,
                             str(output_dir), str(tmp_path)],
                            env=_window_env(xvfb_display), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = None
    try:
        _wait_for(tmp_path / "ready", proc)
        first.stop()
        _wait_for(tmp_path / "lost-seen", proc)
        second = ServerProcess(["--token", "t", "--size", "640x480", "--port", port])
        second.start()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        first.stop()
        if second is not None:
            second.stop()
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["same_viewer"] and result["frames"]
    assert result["layers"] == ["sample nuclei", "sample membrane"]
    assert result["controls_layer"] == "sample membrane"
    assert result["edit_reached_server"]
    assert result["lost_shown"] and "disconnected" in result["lost_title"]
    assert result["reconnected"]


def test_the_window_shows_each_plane_of_a_z_scroll_and_pans_by_scrolling(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path,
        tmp_path: Path) -> None:
    import numpy as np
    import tifffile

    planes = np.empty((30, 256, 256), np.uint8)
    checker = ((np.indices((256, 256)) // 16).sum(axis=0) % 2 * 6).astype(np.uint8)
    for z in range(30):
        planes[z] = 8 * (z + 1) + checker
    volume = tmp_path / "planes.tif"
    tifffile.imwrite(volume, planes)
    server = start_server("--size", "640x480", "--data", str(volume), "--still-delay", "30")
    result = _run_window("gui_stream.py", server.url, str(output_dir),
                         display=xvfb_display)
    # every plane's frame reached the screen, in order, and never an older one after it
    shown = result["planes_in_paint_order"]
    assert [z for z in shown if z < 30][-30:] == list(range(30)), shown
    assert result["seqs_never_go_back"]
    brightness = result["brightness"]
    assert len(brightness) == 30, brightness
    assert all(b < a for b, a in itertools.pairwise(brightness)), brightness
    # a pan step paints the strips it uncovers and the tiles that changed, not the frame
    steps, whole = result["pan_painted_per_step"], result["canvas_pixels"]
    assert len(steps) == 10 and sum(steps) / len(steps) < 0.5 * whole, (steps, whole)
    assert result["scrolled_vs_repainted"] < 0.5, result["scrolled_vs_repainted"]


def test_a_hidpi_window_gets_a_picture_of_its_physical_pixels(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path) -> None:
    server = start_server("--size", "640x480", "--still-delay", "0.1")
    result = _run_window("gui_hidpi.py", server.url, str(output_dir),
                         display=xvfb_display, QT_SCALE_FACTOR="2")
    assert result["ratio"] == 2.0
    width, height = result["logical"]
    assert result["still"], result
    # the server's canvas is the window's, in logical pixels, drawn at the display's ratio
    assert result["server_canvas"] == {"width": width, "height": height, "pixel_ratio": 2.0}
    assert result["picture"] == [2 * width, 2 * height] and result["scale"] == 2.0
    # the display shows the server's lossless picture pixel for pixel: not an upscale
    assert result["screen"] == result["picture"], result
    assert result["picture_std"] > 5, "the picture is blank"
    assert result["screen_vs_picture"] < 0.5, result


def test_what_napari_computes_from_data_comes_from_the_server(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path,
        tmp_path: Path) -> None:
    _volume, path = write_contrast_volume(tmp_path)
    server = start_server("--size", "640x480", "--data", str(path))
    result = _run_window("gui_data.py", server.url, str(output_dir),
                         display=xvfb_display)
    # a first window (fresh napari settings) sizes its canvas as napari's own would
    assert min(result["canvas"]) >= 400, result["canvas"]
    assert result["thumbnail_max"] > 0, "the thumbnail is black"
    assert {"once", "continuous"} <= set(result["buttons"])
    assert result["once_plane_2"] == [0.0, 3000.0]
    assert result["continuous_plane_0"] == [0.0, 1000.0]
    assert result["auto_contrast_on_server"] is True
    # the new-layer buttons: a labels layer the size of the image's data, points, shapes
    assert result["server_layers"] == [["image", [5, 64, 64]], ["labels", [5, 64, 64]],
                                       ["points", None], ["shapes", None]], result
    assert result["window_layers"] == ["image", "labels", "points", "shapes"]
    assert result["notices"] == []


def test_napari_engine_is_a_napari_plugin_that_connects(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path,
        tmp_path: Path) -> None:
    server = start_server("--size", "640x480")
    result = _run_window("gui_plugin.py", server.url, str(output_dir),
                         display=xvfb_display, NAPARI_ENGINE_CONFIG=str(tmp_path / "config"))
    assert result["widget"] == "ConnectWidget"
    assert result["where"] == ["this window", "a new window"]
    assert not result["bad_token_window"] and "Not connected" in result["bad_token_status"]
    assert result["kept_after_bad_token"] == ["mine"]
    # the person's own window became a client of the session
    assert result["here_layers"] == ["sample nuclei", "sample membrane"], result
    assert result["here_is_remote"] and result["current_viewer_remote"]
    assert result["here_frames"] and result["own_view_box"]
    assert result["here_layer_list_shown"] and result["own_layer_list_hidden"]
    assert result["status"].startswith("Connected to ws://127.0.0.1:")
    # and Disconnect gave it back its own viewer and layers
    assert result["back_is_own"] and result["back_layers"] == ["mine"], result
    assert result["back_canvas_shown"] and result["back_layer_list_shown"]
    # a new window instead leaves this one as it is
    assert result["layers"] == ["sample nuclei", "sample membrane"]
    assert result["new_window_left_this"]
    assert result["remembered"] == [server.url]


def test_file_open_in_the_window_lists_the_servers_folders(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path,
        tmp_path: Path) -> None:
    """napari's File > Open File(s) shows the server's folders (``--browse``), and what
    is picked there opens on the server: its data stays there."""
    import numpy as np
    import tifffile

    images = tmp_path / "served" / "images"
    images.mkdir(parents=True)
    tifffile.imwrite(images / "cells.tif", np.arange(3 * 40 * 50, dtype=np.uint16)
                     .reshape(3, 40, 50), photometric="minisblack")
    (images / "notes.txt").write_text("not an image")
    (tmp_path / "served" / ".hidden").mkdir()
    saved = tmp_path / "saved"
    server = start_server("--size", "640x480", "--browse", str(tmp_path / "served"),
                          "--save-dir", str(saved))
    result = _run_window("gui_files.py", server.url, str(output_dir), "images",
                         "cells.tif", display=xvfb_display)
    assert result["folder_dialog"]  # File > Open Folder lists the server's folders too
    assert result["dialog"] and result["roots"] == [str((tmp_path / "served").resolve())]
    assert result["top_entries"] == ["images/"]  # hidden entries are not listed
    assert result["where"].endswith("images")
    assert result["entries"][0].startswith("cells.tif") and "notes.txt" in result["entries"][1]
    assert result["opened"] and result["closed"]
    assert result["layer"] == "cells" and result["server_layers"][-1] == "cells"
    assert result["server_data"] and result["shape"] == [3, 40, 50]
    # File > Save Selected Layers offers the server's save folder, and writes there
    assert result["name_offered"] == "cells.tif"
    assert result["save_where"] == str(saved.resolve())
    np.testing.assert_array_equal(tifffile.imread(saved / "copy-cells.tif"),
                                  tifffile.imread(images / "cells.tif"))


def test_two_windows_have_their_own_canvas_and_one_its_own_view(
        start_server: ServerFactory, xvfb_display: str, output_dir: Path) -> None:
    """Each window gets frames of its own canvas size; camera and slice are shared until
    a window ticks "Own view" in its status bar, and shared again when it unticks it."""
    server = start_server("--size", "640x480", "--still-delay", "0.2")
    result = _run_window("gui_views.py", server.url, str(output_dir), display=xvfb_display)
    assert result["both_fit"], result
    assert result["sizes"][0] != result["sizes"][1]
    assert result["shared_follows"]
    assert result["box_text"] == "Own view" and result["own_mode"]
    assert result["big_moved"]
    start = result["start"]
    # the other window's scroll and zoom drew nothing for the own view, moved nothing
    assert result["small_step"] == start + 3
    assert all(step == start + 3 for step in result["small_frames_during"]), result
    assert result["small_own_frame"]
    assert result["big_kept"] == start + 6 and result["big_frame_kept"]
    assert result["shared_again"], result
