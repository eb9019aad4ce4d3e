"""``python -m napari_engine.bench.loading``: data at scale, loaded beside the drawing
(``--load-workers 8``, the default) against inside napari's draw (``--load-workers 0``,
as before), in one run.

Sources: the built-in sample (its chunks computed), and an OME-Zarr written here from
the sample's nuclei (``--planes`` x ``--side`` x ``--side`` uint16, 4 levels, zstd,
chunks 1 x 256 x 256 and 32 x 256 x 256), served by a plain HTTP server behind an
emulated link (``--store-links``). One client on loopback at ``--size``, at 1:1 pixels
of level 0:

- ``zscroll``: ``--zrate`` planes a second for ``--duration`` seconds: frames a second
  delivered, and how many of them showed a new plane;
- ``jump``: to an unseen place: the first frame there, and the lossless still once its
  data has loaded (refined);
- ``3D``: the view turned 3D: its first frame and its still (the level within
  ``--voxels-3d``; "inline" runs as the server did before: napari reading inside its
  draw, the coarsest level in 3D);
- ``neighbour``: a second session on the sample, its input-to-frame latency (p50/p95)
  alone and while the first z-scrolls over a store that answers after 300 ms;
- the server's chunk hit rate (visible chunks found cached) and resident memory;
- ``napari``: napari itself on this machine reading the store through the same link
  (``bench.local_loading``), and the loader's figures as multiples of its.

``--modes cluster`` runs the loader with its chunks computed on a Dask cluster of
``--dask-workers`` processes started on this machine (``--dask-scheduler``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from napari_engine.bench.driver import FrameLog, continuous, open_client
from napari_engine.bench.local_napari import run_apart
from napari_engine.bench.netem import PRESETS, LinkProfile, emulated_link
from napari_engine.bench.run import latency
from napari_engine.bench.stats import summary_ms
from napari_engine.bench.stores import serve_http
from napari_engine.client.connection import Connection
from napari_engine.server.process import ServerProcess

Result = dict[str, Any]

#: a store that answers each request after about 300 ms (150 ms each way)
SLOW = LinkProfile("slow-store", delay_ms=150.0)
LEVELS = 4


def write_volume(folder: Path, planes: int, side: int, z_chunk: int) -> Path:
    """An OME-Zarr (NGFF 0.5) of the sample's nuclei, chunks ``z_chunk`` x 256 x 256,
    written once (with its sibling of the other chunking) and reused."""
    path = _volume_path(folder, planes, side, z_chunk)
    if not (path / "done").is_file():
        _write_volumes(folder, planes, side)
    return path


def _volume_path(folder: Path, planes: int, side: int, z_chunk: int) -> Path:
    return folder / f"nuclei-{planes}x{side}-z{z_chunk}.ome.zarr"


def _write_volumes(folder: Path, planes: int, side: int) -> None:
    """The volume twice, chunked 1 x 256 x 256 and 32 x 256 x 256, from one computation."""
    import zarr
    from zarr.codecs import ZstdCodec

    from napari_engine.data.procedural import CHANNELS, ProceduralVolume

    volume, channel = ProceduralVolume(), CHANNELS[0]
    out: dict[int, list[Any]] = {}
    for z_chunk in (1, 32):
        group = zarr.open_group(str(_volume_path(folder, planes, side, z_chunk)), mode="w",
                                zarr_format=3)
        out[z_chunk] = [group.create_array(
            str(level), shape=(planes, side >> level, side >> level),
            chunks=(min(z_chunk, planes), 256, 256), dtype="uint16",
            compressors=ZstdCodec(level=3)) for level in range(LEVELS)]
        group.attrs["ome"] = {"version": "0.5", "multiscales": [{
            "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
            "datasets": [{"path": str(level), "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0 ** level, 2.0 ** level]},
                # block means: a level's voxel is centred on the voxels it averages
                {"type": "translation", "translation": [0.0, (2.0 ** level - 1) / 2,
                                                        (2.0 ** level - 1) / 2]}]}
                for level in range(LEVELS)]}],
            "omero": {"channels": [{"label": "nuclei", "color": "00FFFF",
                                    "window": {"start": 0, "end": 2500}}]}}
    z0, y0 = volume.shape[0] // 2, volume.shape[1] // 2
    for start in range(0, planes, 32):
        slab = np.stack([_plane(volume, channel, z0 + z, y0, side)
                         for z in range(start, min(planes, start + 32))])
        for level in range(LEVELS):
            f = 2 ** level
            n = side // f
            down = slab.reshape(len(slab), n, f, n, f).mean(axis=(2, 4)).astype(np.uint16)
            for arrays in out.values():
                arrays[level][start:start + len(slab)] = down
    for z_chunk in out:
        (_volume_path(folder, planes, side, z_chunk) / "done").write_text("")


def _plane(volume: Any, channel: Any, z: int, corner: int, side: int) -> np.ndarray:
    """One ``side`` x ``side`` plane of the sample's level 0, computed a tile at a time."""
    tile = min(side, 512)
    plane = np.empty((side, side), np.uint16)
    for y in range(0, side, tile):
        for x in range(0, side, tile):
            plane[y:y + tile, x:x + tile] = volume.chunk(channel, 0, z, corner + y,
                                                         corner + x, tile, tile)[0]
    return plane


@contextmanager
def store_url(folder: Path, name: str, link: LinkProfile | None) -> Iterator[str]:
    """``folder/name`` over HTTP on loopback, behind ``link`` when given."""
    with serve_http(folder) as base:
        if link is None:
            yield f"{base}/{name}"
            return
        port = int(base.rsplit(":", 1)[1])
        with emulated_link(port, link) as emulated:
            yield f"http://127.0.0.1:{emulated.port}/{name}"


#: how each mode runs the server: its loader's threads, and whether a Dask cluster
#: computes the chunks
MODES = {"inline": (0, False), "loader": (8, False), "cluster": (8, True)}
#: napari itself on this machine reading the store through the link (no server)
NAPARI = "napari"


@contextmanager
def _server(data: str | None, mode: str, args: argparse.Namespace,
            more: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """The server for ``mode``; "cluster": on a ``distributed.LocalCluster`` of
    ``--dask-workers`` processes of one thread on this machine, started here."""
    workers, on_cluster = MODES[mode]
    size = args.size
    options = ["--size", f"{size[0]}x{size[1]}", "--load-workers", str(workers),
               *(["--voxels-3d", "1"] if workers == 0 else []),  # as before: the coarsest
               "--cache-memory", args.cache, "--journal-dir", "none", "--log-level", "INFO",
               "--interactive-scale", "1", *(["--data", data] if data else []), *more]
    with ExitStack() as stack:
        env = {"DASK_SCHEDULER_ADDRESS": ""}
        if on_cluster:
            from distributed import LocalCluster

            mine = os.sched_getaffinity(0)
            os.sched_setaffinity(0, args.cluster_cpus or mine)  # its processes inherit it
            try:
                cluster = stack.enter_context(LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0"))
            finally:
                os.sched_setaffinity(0, mine)
            options += ["--dask-scheduler", cluster.scheduler_address]
        yield stack.enter_context(ServerProcess(options, env=env, cpus=args.server_cpus))


def _layer(conn: Connection) -> dict[str, Any]:
    return conn.layers()[0]


def _one_to_one(conn: Connection, z: int) -> None:
    """The middle of the data at one screen pixel per level-0 voxel, plane ``z``, loaded."""
    layer = _layer(conn)
    shape, scale = layer["shape"], layer["scale"]
    conn.request("dims.set", {"current_step": [z, shape[1] // 2, shape[2] // 2]})
    conn.request("camera.set", {"center": [shape[1] * scale[1] / 2, shape[2] * scale[2] / 2],
                                "zoom": 1.0 / scale[-1]})
    conn.request("sync", {"loaded": True}, timeout=300)


def zscroll(conn: Connection, log: FrameLog, z0: int, rate: float, duration: float
            ) -> Result:
    """``rate`` planes a second from ``z0`` on: frames delivered, new planes shown."""
    rest = list(conn.section("dims")["current_step"])[1:]
    start, end, sent, _ = continuous(
        conn, duration, rate,
        lambda i: ("dims.set", {"current_step": [z0 + i + 1, *rest]}))
    frames = log.since(start, end)
    planes = [h.view.current_step[0] for _, h, _ in frames if h.view is not None]
    new = sum(1 for a, b in zip([None, *planes], planes, strict=False) if a != b)
    first = frames[0][0] - start if frames else None
    return {"planes_asked": sent, "frames": len(frames),
            "fps": len(frames) / (end - start), "new_plane_fps": new / (end - start),
            "distinct_planes": len(set(planes)), "first_frame_ms": None if first is None
            else first * 1e3}


def jump(conn: Connection, log: FrameLog, z: int) -> Result:
    """To plane ``z`` a quarter of the way across: first frame there, and the still."""
    layer = _layer(conn)
    shape, scale = layer["shape"], layer["scale"]
    center = [shape[1] * scale[1] / 4, shape[2] * scale[2] / 4]
    rest = list(conn.section("dims")["current_step"])[1:]
    t0 = time.perf_counter()
    conn.send_command("dims.set", {"current_step": [z, *rest]})
    conn.send_command("camera.set", {"center": center})

    def there(header: Any) -> bool:
        return (header.view is not None and header.view.current_step[0] == z
                and abs(header.view.center[-1] - center[-1]) < 1e-3)

    return _first_and_still(log, there, t0)


def three_d(conn: Connection, log: FrameLog) -> Result:
    """The view turned 3D: its first frame, and the still once its level has loaded."""
    t0 = time.perf_counter()
    conn.send_command("dims.set", {"ndisplay": 3})

    def in_3d(header: Any) -> bool:
        return header.view is not None and header.view.ndisplay == 3

    out = _first_and_still(log, in_3d, t0)
    conn.request("dims.set", {"ndisplay": 2})
    return out


def _first_and_still(log: FrameLog, shows: Callable[[Any], bool], t0: float) -> Result:
    """Milliseconds from ``t0`` to the first frame that ``shows`` the view, and to its
    lossless still (its data loaded)."""
    first = log.first(shows, 120, after=t0)
    still = log.first(lambda h: shows(h) and h.still, 120, after=t0)
    return {"first_frame_ms": None if first is None else (first[0] - t0) * 1e3,
            "refined_ms": None if still is None else (still[0] - t0) * 1e3}


def _hit_rate(server: ServerProcess) -> str | None:
    """The server's last log line of its loading figures."""
    lines = [line for line in server.stderr.splitlines() if "chunks: hit rate" in line]
    return lines[-1].split(": ", 2)[-1] if lines else None


def run_source(data: str | None, mode: str, args: argparse.Namespace) -> Result:
    with _server(data, mode, args) as server:
        conn, log = open_client(server.url, size=args.size)
        try:
            planes = _layer(conn)["shape"][0]
            z0 = min(planes // 4, planes - 1)
            _one_to_one(conn, z0)
            out: Result = {"zscroll": zscroll(conn, log, z0, args.zrate, args.duration)}
            time.sleep(1.0)
            out["jump"] = jump(conn, log, min(planes - 1, z0 + int(args.zrate * args.duration)
                                              + planes // 4))
            out["three_d"] = three_d(conn, log)
            out["rss_mib"] = server.resident_bytes() / 2**20
        finally:
            conn.close()
        server.stop()
        out["chunks"] = _hit_rate(server)
    return out


def run_napari(url: str, args: argparse.Namespace) -> Result:
    """napari reading ``url`` where the person is (``bench.local_loading``)."""
    out = run_apart("napari_engine.bench.local_loading",
                    [url, "--size", f"{args.size[0]}x{args.size[1]}", "--zrate",
                     str(args.zrate), "--duration", str(args.duration)], args.napari_timeout)
    if "timed_out_s" in out:
        return {"error": f"timed out after {args.napari_timeout} s"}
    return out if "error" in out else {**out, "rss_mib": None, "chunks": None}


def run_neighbour(slow_url: str, mode: str, args: argparse.Namespace) -> Result:
    """Session B's latency alone, then while session A z-scrolls over a slow store."""
    with _server(None, mode, args, ["--data-root", slow_url.rsplit("/", 1)[0] + "/"]
                 ) as server:
        b, b_log = open_client(server.url, size=args.size)
        try:
            b.request("sync", {"loaded": True}, timeout=300)
            alone = latency(b, b_log, args.samples, 4.0)
            a_url = server.url.replace("/?", "/session/scroller?")
            a, _ = open_client(a_url, size=args.size)
            try:
                _add_remote(a, slow_url)
                z = 0
                stop = time.perf_counter() + args.duration * 2
                busy = []
                rest = list(a.section("dims")["current_step"])[1:]
                while time.perf_counter() < stop:
                    z += 1
                    a.send_command("dims.set", {"current_step": [z % 32, *rest]})
                    busy += latency(b, b_log, 1, 4.0)
            finally:
                a.close()
        finally:
            b.close()
    return {"alone_ms": summary_ms(alone), "during_ms": summary_ms(busy)}


def _add_remote(conn: Connection, url: str) -> None:
    """A session with only the store's image."""
    for layer in conn.layers():
        conn.request("layer.remove", {"layer": layer["id"]})
    conn.request("layer.add_image", {"path": url}, timeout=300)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def report(results: Result) -> str:
    lines = [f"# Loading benchmark ({results['size'][0]}x{results['size'][1]}, "
             f"{results['zrate']} planes/s for {results['duration']} s)", "",
             "| source | loading | z-scroll fps | new planes/s | jump: first frame ms | "
             "refined ms | 3D: first frame ms | refined ms | server MiB | chunks |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["sources"]:
        if "error" in row:
            lines.append(f"| {row['source']} | {row['mode']} | {row['error']} |")
            continue
        z, j, d = row["zscroll"], row["jump"], row["three_d"]
        lines.append(f"| {row['source']} | {row['mode']} | {_fmt(z['fps'])} | "
                     f"{_fmt(z['new_plane_fps'])} | {_fmt(j['first_frame_ms'])} | "
                     f"{_fmt(j['refined_ms'])} | {_fmt(d['first_frame_ms'])} | "
                     f"{_fmt(d['refined_ms'])} | {_fmt(row['rss_mib'])} | "
                     f"{row['chunks'] or '-'} |")
    lines += _against_napari(results["sources"])
    if results.get("neighbour"):
        lines += ["", "| loading | neighbour p50/p95 alone ms | while another session "
                  "scrolls a 300 ms store |", "|---|---|---|"]
        for row in results["neighbour"]:
            a, d = row["alone_ms"], row["during_ms"]
            lines.append(f"| {row['mode']} | {_fmt(a.get('p50'))} / {_fmt(a.get('p95'))} | "
                         f"{_fmt(d.get('p50'))} / {_fmt(d.get('p95'))} |")
    return "\n".join(lines)


def _against_napari(rows: list[Result]) -> list[str]:
    """The loader's figures as multiples of napari's own on the same store and link
    (frames a second: loader / napari; times: napari / loader; above 1: the engine's
    better)."""
    napari = {r["source"]: r for r in rows if r["mode"] == NAPARI and "error" not in r}
    out = ["", "| source | vs napari here: z-scroll fps | jump first | jump refined | "
           "3D first | 3D refined |", "|---|---|---|---|---|---|"]
    for row in rows:
        theirs = napari.get(row["source"])
        if row["mode"] != "loader" or theirs is None or "error" in row:
            continue

        out.append(f"| {row['source']} | {_ratio(row, theirs, 'zscroll', 'fps', True)} | "
                   f"{_ratio(row, theirs, 'jump', 'first_frame_ms', False)} | "
                   f"{_ratio(row, theirs, 'jump', 'refined_ms', False)} | "
                   f"{_ratio(row, theirs, 'three_d', 'first_frame_ms', False)} | "
                   f"{_ratio(row, theirs, 'three_d', 'refined_ms', False)} |")
    return out if len(out) > 3 else []


def _ratio(ours: Result, theirs: Result, section: str, field: str, more_is_better: bool
           ) -> str:
    a, b = ours[section].get(field), theirs[section].get(field)
    if not a or not b:
        return "-"
    return f"{(a / b if more_is_better else b / a):.1f}x"


def _cpus(text: str) -> set[int]:
    return {int(v) for v in text.split(",") if v}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.loading",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--size", type=lambda v: tuple(int(x) for x in v.split("x")),
                        default=(1920, 1080))
    parser.add_argument("--zrate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--cache", default="1G", help="the servers' --cache-memory")
    parser.add_argument("--store-links", default="loopback,wan",
                        help="links between the server and the HTTP store")
    parser.add_argument("--sources", default="sample,zarr-z1,zarr-z32")
    parser.add_argument("--modes", default="napari,inline,loader",
                        help=f"of {NAPARI}, {', '.join(MODES)}: napari here reading the "
                             "store through the link (no server; not for the sample), "
                             "the server with chunks read inside napari's draw, beside "
                             "it, beside it on a Dask cluster")
    parser.add_argument("--napari-timeout", type=float, default=600.0,
                        help="seconds napari's own run may take")
    parser.add_argument("--dask-workers", type=int, default=2,
                        help="the worker processes of the 'cluster' mode's LocalCluster")
    parser.add_argument("--server-cpus", type=_cpus, default=None, metavar="LIST",
                        help="the cores the server runs on (e.g. 0; default: all)")
    parser.add_argument("--cluster-cpus", type=_cpus, default=None, metavar="LIST",
                        help="the cores the 'cluster' mode's workers run on (e.g. 1; "
                             "default: all): a cluster with CPUs of its own")
    parser.add_argument("--data-dir", type=Path, default=Path("bench-output/data"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES) - {NAPARI}:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    results: Result = {"size": args.size, "zrate": args.zrate, "duration": args.duration,
                       "sources": [], "neighbour": []}
    for source in [s for s in args.sources.split(",") if s]:
        links = [None] if source == "sample" else [
            PRESETS[name] for name in args.store_links.split(",") if name]
        for link in links:
            path = None
            if source != "sample":
                path = write_volume(args.data_dir, args.planes, args.side,
                                    int(source.removeprefix("zarr-z")))
            for mode in modes:
                where = (nullcontext(None) if path is None
                         else store_url(path.parent, path.name, link))
                if mode == NAPARI and path is None:
                    continue  # the sample is computed by the server: no store to read
                with where as url:
                    row = (run_napari(url, args) if mode == NAPARI and url is not None
                           else run_source(url, mode, args))
                name = source if link is None else f"{source} over {link.name}"
                results["sources"].append({"source": name, "mode": mode, **row})
                print(report(results), flush=True)
    if args.samples:
        path = write_volume(args.data_dir, min(args.planes, 32), min(args.side, 2048), 1)
        for mode in [m for m in modes if m != NAPARI]:
            with store_url(path.parent, path.name, SLOW) as url:
                results["neighbour"].append({"mode": mode,
                                             **run_neighbour(url, mode, args)})
    text = report(results)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
