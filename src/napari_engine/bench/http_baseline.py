"""The napari-over-HTTP baseline: the same 3D multiscale OME-Zarr, the same link.

Today a person with remote data points napari at an HTTP/S3 URL and every chunk napari
needs crosses the network. Here the dataset is served by a plain HTTP server on
loopback behind the link emulator; napari runs locally (``local_napari``) and reads it
through zarr/fsspec. The engine's server reads the same files next to the data and only
frames cross the same emulated link. Measured per link: time to first frame, time to
the frame at the resolution napari settles on, and bytes moved, in the default 2D view
and in napari's 3D view.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from napari_engine.bench.driver import open_client
from napari_engine.bench.local_napari import run_apart
from napari_engine.bench.netem import PRESETS, emulated_link, port_of
from napari_engine.protocol import FrameHeader
from napari_engine.server.process import ServerProcess

Result = dict[str, Any]

#: level-0 shape (z, y, x) and chunks of the benchmark volume: 128 MiB of uint16
SHAPE = (64, 1024, 1024)
CHUNKS = (32, 256, 256)
LEVELS = 4


def write_volume(path: Path, seed: int = 0, shape: tuple[int, int, int] = SHAPE,
                 chunks: tuple[int, int, int] = CHUNKS, levels: int = LEVELS) -> Path:
    """A 3D multiscale OME-Zarr (NGFF 0.4, zarr v2): smooth blobs plus shot noise, levels
    halving y and x. Written once; an existing complete one is reused."""
    import zarr
    from scipy.ndimage import zoom

    done = path / ".complete"
    if done.exists():
        return path
    rng = np.random.default_rng(seed)
    coarse = rng.random((-(-shape[0] // 8), -(-shape[1] // 32), -(-shape[2] // 32)))
    field = zoom(coarse.astype(np.float32), (8, 32, 32), order=1)
    field = field[: shape[0], : shape[1], : shape[2]]
    volume = (np.clip(field - 0.45, 0, None) * 6000).astype(np.float32)
    volume += rng.poisson(60, shape).astype(np.float32)  # camera noise: realistic bytes
    data = np.clip(volume, 0, 65535).astype(np.uint16)
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    datasets = []
    level = data
    for n in range(levels):
        arr = group.create_array(str(n), shape=level.shape, chunks=chunks, dtype=level.dtype,
                                 chunk_key_encoding={"name": "v2", "separator": "/"})
        arr[:] = level
        factor = 2.0**n
        datasets.append({"path": str(n), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, factor, factor]}]})
        level = level[:, ::2, ::2]
    multiscales: Any = [{
        "version": "0.4", "name": "volume",
        "axes": [{"name": "z", "type": "space"}, {"name": "y", "type": "space"},
                 {"name": "x", "type": "space"}],
        "datasets": datasets}]
    omero: Any = {"channels": [{"label": "volume", "color": "FFFFFF",
                                "window": {"start": 0, "end": 3000}}]}
    group.attrs.update({"multiscales": multiscales, "omero": omero})
    done.write_text("ok")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def http_server(root: Path) -> Iterator[int]:
    """A plain HTTP file server for ``root`` on 127.0.0.1; yields its port."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def local_napari(url: str, size: tuple[int, int], ndisplay: int, timeout: float) -> Result:
    """napari reading ``url``, in a fresh process; its timings, or a timeout."""
    return run_apart("napari_engine.bench.local_napari",
                     [url, "--size", f"{size[0]}x{size[1]}", "--ndisplay", str(ndisplay)],
                     timeout)


def engine_first_frame(url: str, size: tuple[int, int], ndisplay: int) -> Result:
    """Connect through the link and wait for the first frame of the view (a new session:
    the server opens the dataset next to the data and draws it)."""
    t0 = time.perf_counter()
    conn, log = open_client(url, size=size, stream="auto")
    try:
        if ndisplay == 3:
            conn.send_command("dims.set", {"ndisplay": 3})
        def shows(h: FrameHeader) -> bool:
            return h.view is not None and h.view.ndisplay == ndisplay

        got = log.wait_for(shows, 60)
        still = log.wait_for(lambda h: h.still and shows(h), 60)
    finally:
        conn.close()
    return {"first_frame_s": None if got is None else got - t0,
            "still_s": None if still is None else still - t0}


def measure(links: list[str], size: tuple[int, int], data_dir: Path,
            timeout: float = 120.0) -> Result:
    volume = write_volume(data_dir / "volume.ome.zarr")
    raw = int(np.prod(SHAPE)) * 2
    out: Result = {"dataset": {"shape": list(SHAPE), "chunks": list(CHUNKS),
                               "levels": LEVELS, "level0_bytes": raw,
                               "stored_bytes": sum(f.stat().st_size for f in
                                                   volume.rglob("*") if f.is_file())},
                   "links": []}
    with http_server(volume.parent) as http_port, ServerProcess(
            ["--size", f"{size[0]}x{size[1]}", "--data", str(volume)]) as server:
        for name in links:
            row: Result = {"link": name}
            for ndisplay in (2, 3):
                with emulated_link(http_port, PRESETS[name]) as link:
                    local = local_napari(
                        f"http://127.0.0.1:{link.port}/{volume.name}", size, ndisplay,
                        timeout)
                    local["bytes"] = link.bytes_down
                with emulated_link(port_of(server.url), PRESETS[name]) as link:
                    session_url = server.url.replace(
                        "/?", f"/session/http-{name}-{ndisplay}?")
                    engine = engine_first_frame(link.url_for(session_url), size, ndisplay)
                    engine["bytes"] = link.bytes_down
                row[f"{ndisplay}d"] = {"napari_http": local, "engine": engine}
                print(f"  {name} {ndisplay}D: napari over HTTP {local}, engine {engine}",
                      flush=True)
            out["links"].append(row)
    return out
