"""The benchmark scenarios and the report."""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from napari_engine.bench import compare, http_baseline
from napari_engine.bench.driver import FrameLog, continuous, open_client
from napari_engine.bench.netem import PRESETS
from napari_engine.bench.plot import plot
from napari_engine.bench.stats import summary_ms
from napari_engine.client.connection import Connection
from napari_engine.protocol import FrameHeader
from napari_engine.server.process import ServerProcess

Result = dict[str, Any]


def _first_layer(conn: Connection) -> dict[str, Any]:
    return conn.layers()[0]


def _center_of(conn: Connection) -> list[float]:
    return list(conn.section("camera")["center"])


def time_to_first_frame(url: str, size: tuple[int, int], session: str | None) -> float:
    """Seconds from opening a connection to holding the first frame."""
    target = url if session is None else url.replace("/?", f"/session/{session}?")
    t0 = time.perf_counter()
    conn, log = open_client(target, size=size)
    try:
        got = log.wait_for(lambda h: True, 30)
        if got is None:
            raise RuntimeError("no first frame within 30 s")
        return got - t0
    finally:
        conn.close()


def deep_view(conn: Connection, zoom: float) -> list[float]:
    """Zoom into the middle of the data at ``zoom`` and wait until it is shown."""
    layer = _first_layer(conn)
    shape, scale = layer["shape"], layer["scale"]
    center = [s * d / 2.0 for s, d in zip(shape, scale, strict=True)]
    conn.request("camera.set", {"center": center[-2:], "zoom": zoom})
    conn.request("screenshot")
    return center


def _echoes(t: float) -> Callable[[FrameHeader], bool]:
    return lambda header: header.input_t == t


def latency(conn: Connection, log: FrameLog, n: int, step: float) -> list[float]:
    """One move at a time: the time until the frame that reflects it arrives."""
    y, x = _center_of(conn)[-2:]
    out = []
    for i in range(n):
        t = time.perf_counter()
        conn.send_command("camera.set", {"center": [y, x + (i + 1) * step]}, t=t)
        got = log.wait_for(_echoes(t), 10)
        if got is not None:
            out.append(got - t)
        time.sleep(0.02)
    return out


def stream_phase(conn: Connection, log: FrameLog, name: str, duration: float, rate: float,
                 make: Any) -> Result:
    start, end, sent, _last_t = continuous(conn, duration, rate, make)
    frames = log.since(start, end)
    time.sleep(0.3)  # let the last frames land before the next phase
    lat = []
    for received, header, _size in log.since(start, end + 0.3):
        if header.input_t is not None:
            lat.append(received - header.input_t)
    jpeg = [f for f in frames if not f[1].lossless]
    timings = [f[1].timings for f in jpeg]
    ratios = [t.server_ms / max(1e-6, t.load_ms + t.render_ms + t.readback_ms + t.encode_ms)
              for t in timings]
    return {
        "phase": name, "seconds": end - start, "commands_sent": sent,
        "frames": len(frames), "fps": len(frames) / (end - start),
        "latency_ms": summary_ms(lat),
        "bytes_per_frame": (sum(f[2] for f in jpeg) / len(jpeg)) if jpeg else None,
        "mbit_per_s": sum(f[2] for f in frames) * 8 / (end - start) / 1e6,
        "load_ms": summary_ms([t.load_ms / 1e3 for t in timings]),
        "render_ms": summary_ms([t.render_ms / 1e3 for t in timings]),
        "readback_ms": summary_ms([t.readback_ms / 1e3 for t in timings]),
        "encode_ms": summary_ms([t.encode_ms / 1e3 for t in timings]),
        "server_ms": summary_ms([t.server_ms / 1e3 for t in timings]),
        "server_over_parts_p50": (sorted(ratios)[len(ratios) // 2] if ratios else None),
    }


def still_frame(log: FrameLog, after: float, timeout: float = 10.0) -> Result:
    """The first still that arrives after ``after``."""
    still = log.first(lambda h: h.still, timeout, after=after)
    if still is None:
        return {"time_to_still_ms": None, "still_bytes": None, "still_encoding": None}
    return {"time_to_still_ms": (still[0] - after) * 1e3, "still_bytes": still[2],
            "still_encoding": still[1].encoding}


def memory_walk(conn: Connection, server: ServerProcess, jumps: int, seed: int = 0) -> Result:
    """Jump to random far places at full resolution; sample the server's resident memory."""
    layer = _first_layer(conn)
    shape, scale = layer["shape"], layer["scale"]
    rng = random.Random(seed)
    rss = [server.resident_bytes()]
    t0 = time.perf_counter()
    for _ in range(jumps):
        step = [rng.randrange(n) for n in shape]
        conn.send_command("dims.set", {"current_step": step})
        conn.send_command("camera.set", {"center": [step[-2] * scale[-2], step[-1] * scale[-1]]})
        conn.request("screenshot")
        rss.append(server.resident_bytes())
    return {"jumps": jumps, "seconds": time.perf_counter() - t0,
            "rss_start_mib": rss[0] / 2**20, "rss_max_mib": max(rss) / 2**20,
            "rss_end_mib": rss[-1] / 2**20,
            "voxels_level0": math.prod(shape)}


def measure_streaming(url: str, size: tuple[int, int], args: argparse.Namespace) -> Result:
    """Latency, pan, still and z-scroll on one server."""
    out: Result = {}
    conn, log = open_client(url, size=size, quality=args.quality)
    try:
        center = deep_view(conn, args.zoom)
        out["latency_paced"] = {"latency_ms": summary_ms(
            latency(conn, log, args.latency_samples, step=2.0 / args.zoom))}
        y, x = center[-2:]
        speed = 10.0 / args.zoom  # world units per event: 10 screen pixels (600 px/s at 60 Hz)
        out["pan"] = stream_phase(
            conn, log, "pan", args.duration, args.rate,
            lambda i: ("camera.set", {"center": [y + 0.3 * i * speed, x + i * speed]}))
        out["still"] = still_frame(log, time.perf_counter())
        # the same path backwards: its chunks are cached now, so this is render-bound
        n = int(args.duration * args.rate)
        out["pan_cached"] = stream_phase(
            conn, log, "pan cached", args.duration, args.rate,
            lambda i: ("camera.set", {"center": [y + 0.3 * (n - i) * speed,
                                                 x + (n - i) * speed]}))
        dims = conn.section("dims")
        z0, nz = dims["current_step"][0], dims["nsteps"][0]
        out["zscroll"] = stream_phase(
            conn, log, "zscroll", args.duration, args.zrate,
            lambda i: ("dims.set", {"step": [0, (z0 + i) % nz]}))
    finally:
        conn.close()
    return out


def _wait_still(log: FrameLog, after: float, timeout: float = 10.0) -> None:
    log.first(lambda h: h.still, timeout, after=after)


def measure_dirty_regions(url: str, size: tuple[int, int], args: argparse.Namespace) -> Result:
    """The tiles stream: bytes while nothing changes, and for a cursor-sized change."""
    session_url = url.replace("/?", "/session/bench-tiles?")
    conn, log = open_client(session_url, size=size, stream="tiles", quality=args.quality)
    driver, _ = open_client(session_url, size=size, stream="none")
    try:
        center = deep_view(driver, args.zoom)
        z = driver.section("dims")["point"][0]  # on the plane in view
        result = driver.request("layer.add_points", {
            "data": [[z, *center[-2:]]], "props": {"current_size": 4.0 / args.zoom,
                                        "current_face_color": "yellow", "name": "cursor"}})
        dot = result["layers"][0]
        _wait_still(log, time.perf_counter())
        time.sleep(0.5)
        t0, bytes0 = time.perf_counter(), conn.traffic.get("frame", 0)
        time.sleep(2.0)
        static = (conn.traffic.get("frame", 0) - bytes0) / (time.perf_counter() - t0)
        per_change, moving = [], []
        for i in range(1, 11):
            before, t = conn.traffic.get("frame", 0), time.perf_counter()
            driver.request("layer.set", {"layer": dot, "props": {
                "translate": [0.0, 0.0, 6.0 * i / args.zoom]}})
            _wait_still(log, t)
            time.sleep(0.1)
            per_change.append(conn.traffic.get("frame", 0) - before)
            moving.append(sum(size for _r, h, size in log.since(t) if not h.lossless))
        y, x = center[-2:]
        speed = 10.0 / args.zoom
        pan = stream_phase(conn, log, "pan tiles", args.duration, args.rate,
                           lambda i: ("camera.set", {"center": [y + 0.3 * i * speed,
                                                                x + i * speed]}))
    finally:
        conn.close()
        driver.close()
    return {"static_bytes_per_s": static,
            "cursor_change_bytes": {"median": sorted(per_change)[len(per_change) // 2],
                                    "max": max(per_change),
                                    "moving_median": sorted(moving)[len(moving) // 2]},
            "pan": pan}


def measure_tile_encoding(conn: Connection, repeats: int = 10) -> Result:
    """Encoding many tiles inline vs split over a second thread, on a real frame with
    40 % of its tiles changed (below the whole-frame threshold): milliseconds, p50."""
    from concurrent.futures import ThreadPoolExecutor

    from napari_engine.encode.tiles import TileState, encode_update

    before = conn.request("screenshot").decode()
    after = before.copy()
    after[: int(before.shape[0] * 0.4), :, :3] ^= 0x10
    out: Result = {}
    with ThreadPoolExecutor(1) as pool:
        for lossless in (False, True):
            for name, use in (("inline", None), ("two_threads", pool)):
                times = []
                for _ in range(repeats):
                    state = TileState()
                    encode_update(state, before, lossless=True)
                    t0 = time.perf_counter()
                    update = encode_update(state, after, lossless=lossless, pool=use)
                    times.append(time.perf_counter() - t0)
                kind = "png" if lossless else "jpeg"
                out[f"{kind}_{name}_ms"] = sorted(times)[len(times) // 2] * 1e3
                out[f"{kind}_tiles"] = len(update.index)
    return out


def run(args: argparse.Namespace) -> Result:
    size = (args.width, args.height)
    data_args = [x for d in args.data for x in ("--data", d)]
    results: Result = {"machine": {"cpus": psutil.cpu_count(), "python": platform.python_version(),
                                   "platform": platform.platform()},
                       "size": list(size), "data": args.data or ["built-in sample"], "runs": []}
    for n, (redraw, scale) in enumerate(args.runs):
        server_args = ["--size", f"{size[0]}x{size[1]}", "--interactive-scale", scale,
                       "--pan-redraw", redraw, *data_args]
        with ServerProcess(server_args, log_path=args.server_log) as server:
            if n == 0:
                # a cold server, then warm: GL, Qt and the default session are up
                results["ttff_cold_s"] = time_to_first_frame(server.url, size, None)
                results["ttff_warm_existing_session_s"] = time_to_first_frame(
                    server.url, size, None)
                results["ttff_warm_new_session_s"] = time_to_first_frame(
                    server.url, size, "bench-new")
            run = {"interactive_scale": scale, "pan_redraw": redraw,
                   **measure_streaming(server.url, size, args)}
            if n == 0:
                if args.links:
                    print("streaming designs over emulated links:", flush=True)
                    results["links"] = compare.measure_links(server.url, size, args)
                results["tiles"] = measure_dirty_regions(server.url, size, args)
                conn, _log = open_client(server.url, size=size, stream="none")
                try:
                    deep_view(conn, args.zoom)
                    results["tile_encoding"] = measure_tile_encoding(conn)
                    results["memory"] = memory_walk(conn, server, args.jumps)
                finally:
                    conn.close()
            results["runs"].append(run)
    if args.http_links:
        print("napari reading OME-Zarr over HTTP vs napari-engine:", flush=True)
        results["http_baseline"] = http_baseline.measure(args.http_links, size,
                                                         args.data_dir)
    return results


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


#: napari over VNC on this machine, 1920x1080 pan (../shared/DESIGN.md)
VNC_PAN = {"fps": 24.7, "p95_ms": 113.0, "bytes_per_frame": 422_000}


def _links_report(results: Result) -> list[str]:
    lines: list[str] = []
    for row in results.get("links", []):
        lines += ["", f"link {row['link']} (RTT {row['rtt_ms']:.0f} ms, "
                      f"{row['bandwidth_mbit'] or 0:.0f} Mbit/s; 0 = unlimited):",
                  f"{'design':<10}{'phase':<8}{'fps':>6}{'p50':>7}{'p95':>7}{'KiB/fr':>8}"
                  f"{'Mbit/s':>7}{'PSNR':>6}{'SSIM':>6}{'still':>7}  encodings"]
        for design, phases in row["designs"].items():
            for phase, r in phases.items():
                lines.append(
                    f"{design:<10}{phase:<8}{r['fps']:>6.1f}"
                    f"{_fmt(r['latency_ms'].get('p50'), 0):>7}"
                    f"{_fmt(r['latency_ms'].get('p95'), 0):>7}"
                    f"{_fmt((r['bytes_per_frame'] or 0) / 1024):>8}"
                    f"{r['bytes_per_s'] * 8 / 1e6:>7.1f}"
                    f"{'inf' if r.get('identical') else _fmt(r.get('psnr_db')):>6}"
                    f"{_fmt(r.get('ssim'), 3):>6}{_fmt(r.get('time_to_still_ms'), 0):>7}  "
                    + ",".join(f"{k}:{v}" for k, v in r["encodings"].items()))
    loop = next((r for r in results.get("links", []) if r["link"] == "loopback"), None)
    if loop:
        lines += ["", "loopback pan against napari over VNC (DESIGN.md: "
                  f"{VNC_PAN['fps']} fps, p95 {VNC_PAN['p95_ms']:.0f} ms, "
                  f"{VNC_PAN['bytes_per_frame'] / 1000:.0f} kB/frame):"]
        for design, phases in loop["designs"].items():
            pan = phases.get("pan")
            if pan and pan["bytes_per_frame"]:
                lines.append(
                    f"  {design:<10} {pan['fps'] / VNC_PAN['fps']:.2f}x the frames/s, "
                    f"{pan['bytes_per_frame'] / VNC_PAN['bytes_per_frame']:.2f}x the bytes "
                    f"per frame, p95 {_fmt(pan['latency_ms'].get('p95'), 0)} ms")
    http = results.get("http_baseline")
    if http:
        ds = http["dataset"]
        lines += ["", f"time to first frame, 3D multiscale OME-Zarr {ds['shape']} uint16, "
                      f"chunks {ds['chunks']}, {ds['levels']} levels, "
                      f"{ds['stored_bytes'] / 2**20:.0f} MiB stored:",
                  f"{'link':<10}{'view':<6}{'napari/HTTP s':>14}{'full res s':>11}"
                  f"{'MiB moved':>10}{'engine s':>9}{'still s':>8}{'MiB':>6}{'ratio':>7}"]
        for row in http["links"]:
            for view in ("2d", "3d"):
                local, engine = row[view]["napari_http"], row[view]["engine"]
                first = local.get("first_frame_s")
                shown = _fmt(first, 2) if first is not None else (
                    f">{local['timed_out_s']:.0f}" if "timed_out_s" in local else "error")
                ratio = (first / engine["first_frame_s"]
                         if first and engine.get("first_frame_s") else None)
                lines.append(
                    f"{row['link']:<10}{view:<6}{shown:>14}"
                    f"{_fmt(local.get('full_resolution_s'), 2):>11}"
                    f"{local.get('bytes', 0) / 2**20:>10.1f}"
                    f"{_fmt(engine.get('first_frame_s'), 2):>9}"
                    f"{_fmt(engine.get('still_s'), 2):>8}"
                    f"{engine.get('bytes', 0) / 2**20:>6.1f}{_fmt(ratio):>7}")
    return lines


def _run_name(run: Result) -> str:
    return f"{run.get('pan_redraw', 'full')}@{run['interactive_scale']}"


def _run(value: str) -> tuple[str, str]:
    redraw, _, scale = value.partition("@")
    scale = scale or "auto"
    if redraw not in ("strips", "full"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected strips@S or full@S")
    if scale != "auto":
        try:
            float(scale)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: S is a number or auto") from None
    return redraw, scale


def report(results: Result) -> str:
    lines = [
        f"napari-engine benchmark, {results['size'][0]}x{results['size'][1]}, loopback, "
        f"{results['machine']['cpus']} CPUs, data: {', '.join(results['data'])}",
        "",
        f"time to first frame: cold server {_fmt(results['ttff_cold_s'] * 1e3)} ms, "
        f"warm (existing session) {_fmt(results['ttff_warm_existing_session_s'] * 1e3)} ms, "
        f"warm (new session) {_fmt(results['ttff_warm_new_session_s'] * 1e3)} ms",
        "",
        f"{'phase':<24}{'fps':>6}{'lat p50':>8}{'lat p95':>8}{'KiB/fr':>8}{'Mbit/s':>7}"
        f"{'load':>7}{'render':>7}{'readbk':>7}{'encode':>7}{'server':>7}{'srv/sum':>8}",
    ]
    for run in results["runs"]:
        for row in (run["pan"], run["pan_cached"], run["zscroll"]):
            name = f"{row['phase']} {_run_name(run)}"
            lines.append(
                f"{name:<24}{_fmt(row['fps']):>6}{_fmt(row['latency_ms']['p50']):>8}"
                f"{_fmt(row['latency_ms']['p95']):>8}"
                f"{_fmt((row['bytes_per_frame'] or 0) / 1024):>8}{_fmt(row['mbit_per_s']):>7}"
                f"{_fmt(row['load_ms']['p50']):>7}{_fmt(row['render_ms']['p50']):>7}"
                f"{_fmt(row['readback_ms']['p50']):>7}{_fmt(row['encode_ms']['p50']):>7}"
                f"{_fmt(row['server_ms']['p50']):>7}{_fmt(row['server_over_parts_p50'], 2):>8}")
    lines.append("(strips/full: 2D pans drawn as uncovered strips over the moved last "
                 "frame, or whole; @S: interactive render scale; per-frame times are p50 in "
                 "ms; load = napari's draw hooks incl. data slicing; srv/sum = server time "
                 "per frame over load+render+readback+encode; 'pan cached' retraces the pan "
                 "over chunks "
                 "already computed)")
    lines.append("")
    for run in results["runs"]:
        still, lat = run["still"], run["latency_paced"]["latency_ms"]
        lines.append(
            f"{_run_name(run)}: one move at a time: input-to-frame p50 "
            f"{_fmt(lat['p50'])} ms, p95 {_fmt(lat['p95'])} ms; still after the pan "
            f"{_fmt(still['time_to_still_ms'])} ms, {_fmt((still['still_bytes'] or 0) / 1024)} "
            f"KiB ({still['still_encoding']})")
    lines += _links_report(results)
    lines.append("")
    tiles = results["tiles"]
    lines += [
        f"tiles stream: static scene {tiles['static_bytes_per_s']:.0f} bytes/s after its still; "
        f"a cursor-sized change {tiles['cursor_change_bytes']['moving_median'] / 1024:.1f} KiB "
        f"of JPEG tiles, {tiles['cursor_change_bytes']['median'] / 1024:.1f} KiB with the "
        f"lossless refresh (medians of 10); pan {tiles['pan']['fps']:.1f} frames/s, "
        f"{(tiles['pan']['bytes_per_frame'] or 0) / 1024:.1f} KiB/frame",
    ]
    enc = results.get("tile_encoding")
    if enc:
        lines.append(
            f"tile encoding, {enc['jpeg_tiles']} changed tiles of a real frame: JPEG "
            f"{enc['jpeg_inline_ms']:.1f} ms inline, {enc['jpeg_two_threads_ms']:.1f} ms on "
            f"two threads; PNG {enc['png_inline_ms']:.1f} / {enc['png_two_threads_ms']:.1f} ms")
    mem = results["memory"]
    lines += [
        f"server memory over {mem['jumps']} random jumps across {mem['voxels_level0']:.2e} "
        f"voxels: start {_fmt(mem['rss_start_mib'])} MiB, max {_fmt(mem['rss_max_mib'])} MiB",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench",
                                     description="Benchmark a napari-engine server on loopback.")
    parser.add_argument("--data", action="append", default=[],
                        help="data for the server (default: the built-in sample)")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per streaming phase")
    parser.add_argument("--rate", type=float, default=60.0,
                        help="pan events per second (a mouse on a 60 Hz display)")
    parser.add_argument("--zrate", type=float, default=30.0, help="z steps per second")
    parser.add_argument("--runs", type=lambda v: [_run(x) for x in v.split(",") if x],
                        default=[("strips", "auto"), ("full", "1")],
                        help="server configurations to compare, one server each: "
                             "PAN_REDRAW@INTERACTIVE_SCALE (the first also runs the link, "
                             "tiles and memory measurements); default strips@auto,full@1 "
                             "(this version's defaults, then every frame drawn whole)")
    parser.add_argument("--links", type=lambda v: [x for x in v.split(",") if x],
                        default=["loopback", "lan", "wan", "thin"],
                        help=f"emulated links to measure over ({', '.join(PRESETS)})")
    parser.add_argument("--designs", type=lambda v: [x for x in v.split(",") if x],
                        default=list(compare.DESIGNS),
                        help=f"stream designs to compare ({', '.join(compare.DESIGNS)})")
    parser.add_argument("--phases", type=lambda v: [x for x in v.split(",") if x],
                        default=list(compare.PHASES),
                        help=f"interaction phases per design ({', '.join(compare.PHASES)})")
    parser.add_argument("--http-links", type=lambda v: [x for x in v.split(",") if x],
                        default=["loopback", "lan", "wan", "thin"],
                        help="links for the napari-over-HTTP baseline ('' to skip)")
    parser.add_argument("--data-dir", type=Path, default=Path("bench-output/data"),
                        help="where the baseline's OME-Zarr volume is written once")
    parser.add_argument("--zoom", type=float, default=2.0, help="camera zoom for pan/z-scroll")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality while moving")
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--jumps", type=int, default=60, help="random jumps for the memory walk")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--server-log", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args)
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        png = plot(results, args.json.with_suffix(".png"))
        print(f"\nwrote {args.json} and {png}")
    return 0
