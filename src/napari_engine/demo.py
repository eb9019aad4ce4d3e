"""``python -m napari_engine.demo``: the main job on the built-in sample, end to end.

Starts a real server process on the procedural petabyte-scale sample (or on ``--data``),
connects the scripting client, takes a tour (overview, a deep zoom to full resolution,
a z-scroll, a 3D view), saves each frame as a PNG and prints how long each step took.
With ``--serve`` the server stays up afterwards so other clients can join.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import napari_engine
from napari_engine.server.process import ServerProcess


def _save(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(image).save(path)


def tour(url: str, out: Path) -> None:
    t0 = time.perf_counter()
    viewer = napari_engine.connect(url, stream="none")
    print(f"connected in {time.perf_counter() - t0:.2f} s to session {viewer.session!r}")
    for layer in viewer.layers:
        shape = " x ".join(str(s) for s in layer.level_shapes[0])
        print(f"  layer {layer.name!r}: {shape} {layer.dtype}"
              f"{' multiscale' if layer.multiscale else ''}")
    first = viewer.layers[0]
    full = [int(n) for n in first.level_shapes[0]]
    center = [s * n / 2 for s, n in zip(first.scale, full, strict=True)]

    def step(name: str) -> None:
        t = time.perf_counter()
        image = viewer.screenshot()
        path = out / f"{name}.png"
        _save(image, path)
        print(f"  {name:<12} {1e3 * (time.perf_counter() - t):7.1f} ms  -> {path}")

    print("tour (time to a lossless frame that reflects the change):")
    viewer.reset_view()
    step("overview")
    viewer.dims.set_current_step(0, full[0] // 2)
    viewer.scene.camera.center = center[-2:]
    viewer.scene.camera.zoom = 1.0 / first.scale[-1]  # one data pixel per screen pixel: level 0
    step("full-res")
    for k in range(1, 4):
        viewer.dims.set_current_step(0, full[0] // 2 + k)
    step("z-scroll")
    viewer.dims.ndisplay = 3
    viewer.reset_view()
    viewer.scene.camera.angles = (0.0, 35.0, 60.0)
    step("3d")
    viewer.close()


def has_display() -> bool:
    """Whether a window can open here (an X or Wayland display, or a desktop OS)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.demo", description=__doc__)
    parser.add_argument("--data", action="append", default=[], help="data for the server")
    parser.add_argument("--size", default="1280x800", help="render size WIDTHxHEIGHT")
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--serve", action="store_true",
                        help="keep the server running after the tour (Ctrl-C to stop)")
    parser.add_argument("--window", choices=["auto", "yes", "no"], default="auto",
                        help="after the tour, open napari's window on the session (auto: "
                             "when a display is present)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    server_args = ["--size", args.size, *[x for d in args.data for x in ("--data", d)]]
    t0 = time.perf_counter()
    with ServerProcess(server_args) as server:
        print(f"server up in {time.perf_counter() - t0:.1f} s: {server.url}")
        tour(server.url, args.out)
        if args.window == "yes" or (args.window == "auto" and has_display()):
            print("opening napari's window on the session (close it to stop)")
            from napari_engine.client.gui import main as window_main

            window_main([server.url])
        elif args.window == "auto":
            print("no display here: the tour's frames are in the output folder "
                  "(on a desktop, napari's window opens on the session)")
        if args.serve:
            print(f"\nserving {server.url}\nconnect with: "
                  f"python -c \"import napari_engine; v = napari_engine.connect('{server.url}')\""
                  "\n(Ctrl-C to stop)")
            try:
                while server.alive():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
