"""napari on the person's machine reading a remote OME-Zarr, as ``bench.loading`` drives
the engine: the baseline its z-scroll, jump and 3D rows are compared with.

Run as ``python -m napari_engine.bench.local_loading URL`` in a process of its own.
napari reads the store as napari-ome-zarr has it read: a dask array per level over
zarr-python and fsspec (dask's threads fetch a slice's chunks at once), sliced inside
napari's draw; the drawing is napari's own vispy canvas on offscreen EGL at ``--size``
(the engine's server draws with the same code). Prints JSON: frames a second during the
z-scroll (each frame a new plane: napari draws once the plane has loaded), and the
milliseconds to the first and the last frame napari draws after the jump and after
turning 3D (napari shows no coarse level while the view's loads: its last frame is its
refined one; in 3D it draws its coarsest level).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from napari_engine.bench.local_napari import headless_gl


def _dask_levels(url: str) -> list[Any]:
    """The image's levels as napari-ome-zarr reads them: dask arrays over zarr, through
    fsspec."""
    import dask.array as da
    import zarr

    group: Any = zarr.open_group(url, mode="r")
    attrs: dict[str, Any] = group.attrs.asdict()
    meta = attrs.get("ome", attrs)["multiscales"][0]
    return [da.from_zarr(group[d["path"]])  # type: ignore[no-untyped-call]
            for d in meta["datasets"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.local_loading")
    parser.add_argument("url")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--zrate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    qt_app, gl_app, font = headless_gl("local-loading")
    from napari_engine.data.ome_zarr import read_ome_zarr
    from napari_engine.server.session import Session
    (ours,) = read_ome_zarr(args.url)  # napari-ome-zarr's kwargs: ours, read alike
    spec = dataclasses.replace(ours, data=_dask_levels(args.url))
    session = Session("local", [spec], gl_app, font, (width, height))
    viewer, key = session.viewer, (session.default_canvas, None)

    def draw() -> tuple[float, float]:
        """Draw until napari has nothing more to show (a moved camera's tile is read at
        the next draw); when the first and the last frame came."""
        session.keep_shared_look()
        times: list[float] = []
        for _ in range(6):
            session.render(key)
            qt_app.processEvents()
            times.append(time.perf_counter())
            if not session.dirty(key):
                break
        return times[0], times[-1]

    shape, scale = spec.data[0].shape, spec.kwargs["scale"]
    planes = shape[0]
    z0 = min(planes // 4, planes - 1)
    viewer.dims.current_step = (z0, shape[1] // 2, shape[2] // 2)
    viewer.scene.camera.center = (shape[1] * scale[1] / 2, shape[2] * scale[2] / 2)
    viewer.scene.camera.zoom = 1.0 / scale[-1]
    draw()

    start = time.perf_counter()
    frames, z = 0, z0
    while (now := time.perf_counter()) - start < args.duration:
        wanted = z0 + 1 + int((now - start) * args.zrate)
        if wanted != z:
            z = min(wanted, planes - 1)
            viewer.dims.set_current_step(0, z)
            draw()
            frames += 1
        else:
            time.sleep(0.001)
    fps = frames / (time.perf_counter() - start)

    time.sleep(1.0)
    jump_z = min(planes - 1, z0 + int(args.zrate * args.duration) + planes // 4)
    t0 = time.perf_counter()
    viewer.dims.set_current_step(0, jump_z)
    viewer.scene.camera.center = (shape[1] * scale[1] / 4, shape[2] * scale[2] / 4)
    jump = [(t - t0) * 1e3 for t in draw()]

    t0 = time.perf_counter()
    viewer.dims.ndisplay = 3
    three_d = [(t - t0) * 1e3 for t in draw()]
    print(json.dumps({"zscroll": {"fps": fps, "new_plane_fps": fps},
                      "jump": {"first_frame_ms": jump[0], "refined_ms": jump[1]},
                      "three_d": {"first_frame_ms": three_d[0], "refined_ms": three_d[1]}}))
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
