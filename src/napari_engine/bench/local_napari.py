"""What people do today: napari running locally, reading remote OME-Zarr over HTTP.

Run as ``python -m napari_engine.bench.local_napari URL`` in a process of its own (napari,
Qt and GL start before the clock does, as they would in a viewer already open). It opens
the dataset through zarr/fsspec, adds it to a napari ViewerModel drawn by napari's own
vispy canvas on offscreen EGL (the same drawing code as the server's), and prints JSON:
seconds to read the metadata, to the first frame, and to the frame at the resolution
napari settles on for the view (in 2D: the level matching the screen; in 3D napari draws
its coarsest level).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any


def headless_gl(name: str) -> tuple[Any, Any, str]:
    """Qt's application, vispy's EGL application and the font, started as the server
    starts them (before the clock does)."""
    from napari_engine.server.gl_env import prepare_headless_env

    prepare_headless_env()
    from qtpy.QtGui import QGuiApplication
    from qtpy.QtWidgets import QApplication
    from vispy import app as vispy_app

    qt_app = QApplication.instance() or QApplication([name])
    return qt_app, vispy_app.Application("egl"), QGuiApplication.font().family()


def run_apart(module: str, args: Sequence[str], timeout: float) -> dict[str, Any]:
    """``python -m module args`` in a process of its own: the last JSON line it
    printed, ``{"timed_out_s": timeout}``, or ``{"error": [its last line]}``."""
    cmd = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"timed_out_s": timeout}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return dict(json.loads(lines[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.local_napari")
    parser.add_argument("url")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--ndisplay", type=int, choices=(2, 3), default=2)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    qt_app, gl_app, font = headless_gl("local-napari")
    from napari_engine.data.ome_zarr import read_ome_zarr
    from napari_engine.server.session import Session

    t0 = time.perf_counter()
    specs = read_ome_zarr(args.url)
    t_meta = time.perf_counter() - t0
    if args.ndisplay == 3:
        # napari's 3D view of a multiscale image: open the viewer in 3D, then add it
        session = Session("local", [], gl_app, font, (width, height))
        session.viewer.dims.ndisplay = 3
        for spec in specs:
            getattr(session.viewer, f"add_{spec.kind}")(spec.data, **spec.kwargs)
        session.keep_shared_look()
    else:
        session = Session("local", specs, gl_app, font, (width, height))
    layer = session.viewer.layers[0]
    frames: list[float] = []
    levels: list[int] = []
    key = (session.default_canvas, None)  # the picture a shared client would see
    while len(frames) < 6:
        session.render(key)
        qt_app.processEvents()
        frames.append(time.perf_counter() - t0)
        levels.append(int(getattr(layer, "data_level", 0)))
        if not session.dirty(key) and len(frames) > 1 and levels[-1] == levels[-2]:
            break
    full = next(t for t, lvl in zip(frames, levels, strict=True) if lvl == levels[-1])
    print(json.dumps({"metadata_s": t_meta, "first_frame_s": frames[0],
                      "full_resolution_s": full, "levels_drawn": levels,
                      "ndisplay": args.ndisplay}))
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
