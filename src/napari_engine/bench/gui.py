"""``python -m napari_engine.bench.gui``: the napari window as a client, measured as a
person sees it, against local napari on the same data in the same run.

It writes a 64 x 2048 x 2048 uint16 volume (a TIFF, once) unless given ``--data``, starts
a server on it, and runs two windows under Xvfb, each in a process of its own and each
driven the same way (``bench.window_driver``: a pan, a zoom, a z-scroll, a 3D turn): the
napari-engine window on the server's session, and local napari with the data in memory.
With two or more cores, by default the server runs on core 0 and each window on core 1
(``taskset``-style pinning of the whole process), so the window gets the core budget local
napari gets. It reports, per phase: frames shown per second (and as a ratio of local
napari's), input events handled per second, input-to-screen p50/p95 (the local repaint,
and the server frame), the longest stall of the window's event loop, and where the
window's time went.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_engine.bench.display import start_xvfb
from napari_engine.bench.netem import PRESETS, emulated_link, port_of
from napari_engine.bench.window_driver import PHASES
from napari_engine.server.process import ServerProcess, pinned_to

DEFAULT_VOLUME = Path("bench-output/data/vol_64x2048x2048.tif")


def write_volume(path: Path, shape: tuple[int, int, int] = (64, 2048, 2048)) -> Path:
    """A uint16 z-stack with structure at every scale and noise (every plane differs)."""
    import numpy as np
    import tifffile

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]].astype(np.float32)
    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        for z in range(shape[0]):
            base = 800 + 600 * np.sin(xx / 37.0 + z / 5.0) * np.cos(yy / 23.0 - z / 7.0)
            plane = np.clip(base + rng.normal(0, 150, base.shape), 0, 65535).astype(np.uint16)
            tiff.write(plane, contiguous=True, metadata={"axes": "ZYX"} if z == 0 else None)
    return path


def _window_env(display: str) -> dict[str, str]:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    for key in ("EGL_PLATFORM", "PYOPENGL_PLATFORM"):
        env.pop(key, None)
    return env


def run_window(kind: str, target: str, args: argparse.Namespace, env: dict[str, str],
               cpus: set[int] | None) -> dict[str, Any]:
    """One window in a process of its own (pinned to ``cpus``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.run(
            [sys.executable, "-m", "napari_engine.bench.window_driver", kind, target,
             "--seconds", str(args.seconds), "--rate", str(args.rate), "--size",
             f"{args.width}x{args.height}", "--phases", ",".join(args.phases),
             "--json", str(out)],
            env=env, preexec_fn=pinned_to(cpus), capture_output=True, text=True,
            timeout=600)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{kind} window failed: {proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _cores(choice: str) -> tuple[set[int] | None, set[int] | None]:
    """(server cores, window cores)."""
    available = sorted(os.sched_getaffinity(0))
    if choice == "shared" or len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(result: dict[str, Any]) -> str:
    remote, local = result["remote"], result.get("local")
    lines = [f"the napari-engine window vs local napari, canvas {remote['canvas'][0]}x"
             f"{remote['canvas'][1]}, {result['link']} link, cores: {result['cores']}, "
             f"data: {result['data']}", "",
             f"{'phase':<8}{'window':<8}{'shown/s':>8}{'vs local':>9}{'inputs/s':>9}"
             f"{'local p50':>10}{'p95':>7}{'server p50':>11}{'p95':>7}{'stall':>7}"]
    for phase in result["phases"]:
        for name, run in (("remote", remote), ("local", local)):
            if run is None or phase not in run:
                continue
            r = run[phase]
            ratio = (r["frames_shown_per_s"] / local[phase]["frames_shown_per_s"]
                     if name == "remote" and local and local[phase]["frames_shown_per_s"]
                     else None)
            lines.append(
                f"{phase:<8}{name:<8}{r['frames_shown_per_s']:>8.1f}{_fmt(ratio, 2):>9}"
                f"{r['inputs_per_s']:>9.1f}{_fmt(r['local_feedback_ms']['p50']):>10}"
                f"{_fmt(r['local_feedback_ms']['p95']):>7}"
                f"{_fmt(r['server_frame_ms']['p50']) if name == 'remote' else '':>11}"
                f"{_fmt(r['server_frame_ms']['p95']) if name == 'remote' else '':>7}"
                f"{r['longest_stall_ms']:>7.0f}")
    lines.append("(shown/s: distinct server frames painted (local: repaints); inputs/s: "
                 "input events the window handled; local: ms from an input to the next "
                 "repaint of the canvas (pan, zoom, rotate) or of the dims slider "
                 "(z-scroll); server: ms from an input to the first painted frame that "
                 "reflects it; stall: the longest gap of a 2 ms Qt timer, ms)")
    stages = {p: remote[p].get("stages") for p in result["phases"] if p in remote}
    if any(stages.values()):
        lines += ["", "where the window's time went (ms per event, and the share of the "
                      "phase's wall time):"]
        seconds = result["seconds"]
        for phase, table in stages.items():
            parts = [f"{name} {_fmt(s['mean_ms'], 2)} ({s['total_ms'] / 10 / seconds:.0f}%)"
                     for name, s in sorted((table or {}).items()) if s["count"]]
            shown = ", ".join(f"{n} {e}" for e, n in sorted(
                remote[phase].get("encodings", {}).items()))
            lines.append(f"  {phase:<8}" + ", ".join(parts) + (f"; frames: {shown}" if shown
                                                                 else ""))
    server = {p: remote[p].get("server_stages") for p in result["phases"] if p in remote}
    if any(server.values()):
        lines += ["", "the server's time per frame shown (ms):"]
        for phase, table in server.items():
            lines.append(f"  {phase:<8}" + ", ".join(
                f"{name} {_fmt(ms, 1)}" for name, ms in (table or {}).items()))
    lines.append(f"window memory: {remote['rss_mib']:.0f} MiB"
                 + (f" (local napari, data in memory: {local['rss_mib']:.0f} MiB)"
                    if local else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.gui",
                                     description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase")
    parser.add_argument("--rate", type=float, default=60.0, help="input events per second")
    parser.add_argument("--width", type=int, default=1877, help="canvas width")
    parser.add_argument("--height", type=int, default=1000, help="canvas height")
    parser.add_argument("--phases", type=lambda v: [x for x in v.split(",") if x],
                        default=list(PHASES))
    parser.add_argument("--data", default=None,
                        help=f"data for both windows (default: {DEFAULT_VOLUME}, written once)")
    parser.add_argument("--cores", choices=["split", "shared"], default="split",
                        help="split: the server on one core, each window on another "
                             "(default where there are two); shared: no pinning")
    parser.add_argument("--no-local", action="store_true",
                        help="skip the local napari reference")
    parser.add_argument("--link", default="loopback", choices=sorted(PRESETS),
                        help="emulated link between the window and the server")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="an extra argument for the server (repeatable)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    data = args.data or str(write_volume(DEFAULT_VOLUME))
    server_cpus, window_cpus = _cores(args.cores)
    started = start_xvfb()
    if started is None:
        raise SystemExit("Xvfb is needed (scripts/setup.sh installs it)")
    xvfb, display = started
    env = _window_env(display)
    result: dict[str, Any] = {"link": args.link, "data": data, "seconds": args.seconds,
                              "rate": args.rate, "phases": args.phases,
                              "cores": "shared" if server_cpus is None else
                              f"server {sorted(server_cpus)}, window {sorted(window_cpus or [])}"}
    try:
        with ServerProcess(["--size", f"{args.width}x{args.height}", "--data", data,
                            *args.server_arg], cpus=server_cpus) as server:
            if args.link == "loopback":
                result["remote"] = run_window("remote", server.url, args, env, window_cpus)
            else:
                with emulated_link(port_of(server.url), PRESETS[args.link]) as link:
                    result["remote"] = run_window("remote", link.url_for(server.url), args,
                                                  env, window_cpus)
        if not args.no_local:
            result["local"] = run_window("local", data, args, env, window_cpus)
    finally:
        xvfb.terminate()
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
