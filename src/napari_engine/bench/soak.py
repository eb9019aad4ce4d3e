"""``python -m napari_engine.bench.soak``: many clients for minutes, a hostile one, a
worker killed; on loopback.

- ``load``: ``--clients`` (e.g. 8 and 32) clients at ``--size``, each moving its camera
  ``--rate`` times a second for ``--duration`` seconds, all in one session and each in
  its own; per client frames a second and input-to-frame latency (p95, from the input
  a frame echoes), the server's memory (its workers' too) every 10 s, and errors.
- ``hostile``: 4 clients in their own sessions moving as above, alone and then while a
  fifth (another process) sends the costliest legal commands it can (60,000 points, a
  message's worth; 4096x4096 images; both as fast as they are answered): the 4's p95
  both ways.
- ``kill`` (with ``--workers``): SIGKILL the worker of a session, and time until a
  client reconnecting to it has it back, its edit with it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from napari_engine.bench.driver import FrameLog, open_client
from napari_engine.bench.stats import summary_ms
from napari_engine.client.connection import Connection
from napari_engine.server.process import ServerProcess

Result = dict[str, Any]


def _server(args: argparse.Namespace) -> ServerProcess:
    journal = tempfile.mkdtemp(prefix="journal-", dir=args.out)  # this run's alone
    return ServerProcess(["--size", f"{args.size[0]}x{args.size[1]}", "--journal-dir",
                          journal, "--workers", str(args.workers), "--session-idle", "5"])


def _memory_mib(server: ServerProcess) -> float:
    return server.resident_bytes() / 2**20


def _mover(conn: Connection, log: FrameLog, rate: float, stop: threading.Event,
           out: Result) -> None:
    """Move the camera ``rate`` times a second until ``stop``; the latency of each
    frame that echoes an input, and errors."""
    sent = errors = 0
    started = time.perf_counter()
    while not stop.is_set():
        t = time.perf_counter()
        try:
            conn.send_command("camera.set", {"zoom": 1.0 + 0.5 * ((sent % 20) / 20)}, t=t)
        except Exception:
            errors += 1
        sent += 1
        stop.wait(max(0.0, started + sent / rate - time.perf_counter()))
    frames = log.since(started)
    seconds = time.perf_counter() - started
    latencies = [received - header.input_t for received, header, _ in frames
                 if header.input_t is not None]
    out.update(fps=len(frames) / seconds, latency=latencies, errors=errors, sent=sent)


def _clients(url: str, count: int, separate: bool, size: tuple[int, int],
             tag: str) -> list[tuple[Connection, FrameLog]]:
    out = []
    for i in range(count):
        where = url.replace("/?", f"/session/{tag}{i if separate else ''}?")
        out.append(open_client(where, size=size, stream="auto"))
    return out


def _run_movers(pairs: list[tuple[Connection, FrameLog]], rate: float, seconds: float,
                server: ServerProcess | None = None) -> tuple[list[Result], list[float]]:
    stop = threading.Event()
    results: list[Result] = [{} for _ in pairs]
    threads = [threading.Thread(target=_mover, args=(conn, log, rate, stop, result))
               for (conn, log), result in zip(pairs, results, strict=True)]
    for thread in threads:
        thread.start()
    memory = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None:
            memory.append(_memory_mib(server))
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
    stop.set()
    for thread in threads:
        thread.join(30)
    return results, memory


def _summary(results: list[Result]) -> Result:
    latencies = [x for r in results for x in r.get("latency", [])]
    fps = [r.get("fps", 0.0) for r in results]
    return {"fps_per_client": {"min": min(fps), "median": statistics.median(fps)},
            "latency_ms": summary_ms(latencies),
            "errors": sum(r.get("errors", 0) for r in results)}


def load(args: argparse.Namespace, count: int, separate: bool) -> Result:
    with _server(args) as server:
        pairs = _clients(server.url, count, separate, args.size,
                         f"load{count}{'s' if separate else ''}-")
        try:
            results, memory = _run_movers(pairs, args.rate, args.duration, server)
        finally:
            for conn, _log in pairs:
                conn.close()
        return {"clients": count, "sessions": count if separate else 1,
                **_summary(results), "server_mib": [round(m) for m in memory],
                "alive": server.alive()}


def _hostile(url: str, stop: Any, counts: Result) -> None:
    """The costliest legal commands, as fast as they are answered."""
    conn = Connection(url.replace("/?", "/session/hostile?"), stream="none")
    conn.open(60)
    # as many points as one message carries (its 1 MiB text limit)
    points = np.random.default_rng(0).uniform(0, 4096, (60_000, 2)).round(1).tolist()
    image = np.zeros((4096, 4096), np.uint8)
    try:
        while not stop.is_set():
            for op, args, payload in (
                    ("layer.add_points", {"data": points}, None),
                    ("layer.add_image", {"shape": [4096, 4096], "dtype": "uint8"},
                     image.tobytes())):
                try:
                    conn.request(op, args, payload=payload, timeout=120)
                    counts["done"] = counts.get("done", 0) + 1
                except Exception:
                    counts["refused"] = counts.get("refused", 0) + 1
            for layer in conn.layers():
                conn.send_command("layer.remove", {"layer": layer["id"]})
    finally:
        conn.close()


def _hostile_process(url: str, stop: Any, answers: Any) -> None:
    counts: Result = {}
    _hostile(url, stop, counts)
    answers.put(counts)


def hostile(args: argparse.Namespace) -> Result:
    with _server(args) as server:
        pairs = _clients(server.url, 4, True, args.size, "calm-")
        try:
            _run_movers(pairs, args.rate, 3.0)  # warm: the sessions' first frames
            alone, _ = _run_movers(pairs, args.rate, args.hostile_s)
            # in a process of its own: decoding its megabytes of state here would hold
            # this process's lock from the four clients measured
            spawn = multiprocessing.get_context("spawn")
            stop, answers = spawn.Event(), spawn.Queue()
            attacker = spawn.Process(target=_hostile_process,
                                     args=(server.url, stop, answers))
            attacker.start()
            try:
                time.sleep(2.0)
                during, _ = _run_movers(pairs, args.rate, args.hostile_s)
                stop.set()
                counts = answers.get(timeout=180)
            finally:
                stop.set()
                attacker.join(30)
                if attacker.is_alive():
                    attacker.terminate()
        finally:
            for conn, _log in pairs:
                conn.close()
        a, d = _summary(alone), _summary(during)
        ratio = (d["latency_ms"]["p95"] / a["latency_ms"]["p95"]
                 if a["latency_ms"].get("p95") and d["latency_ms"].get("p95") else None)
        return {"alone": a, "during": d, "p95_ratio": ratio, "hostile_commands": counts,
                "alive": server.alive()}


def kill(args: argparse.Namespace) -> Result:
    import napari_engine

    with _server(args) as server:
        url = server.url.replace("/?", "/session/victim?")
        viewer = napari_engine.connect(url, stream="none")
        viewer.add_image(np.full((32, 32), 77, np.uint8), name="acknowledged")
        expected = viewer.screenshot()
        viewer.close()
        workers = [p for p in psutil.Process(server.pid).children()
                   if "napari_engine.server" in " ".join(p.cmdline())]
        killed = time.perf_counter()
        os.kill(workers[0].pid, signal.SIGKILL)  # the victim's: the first new session's
        again = napari_engine.connect(url, stream="none")
        try:
            back = time.perf_counter() - killed
            same = bool(np.array_equal(again.screenshot(), expected))
            names = [layer.name for layer in again.layers]
        finally:
            again.close()
        return {"back_after_s": back, "layers": names, "same_picture": same,
                "edit_kept": names.count("acknowledged") == 1 and same}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="8,32")
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--hostile-s", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--size", type=lambda v: tuple(int(x) for x in v.split("x")),
                        default=(320, 240))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--phases", default="load,hostile,kill")
    parser.add_argument("--out", type=Path, default=Path("bench-output/soak"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    phases = args.phases.split(",")
    results: Result = {"size": args.size, "rate": args.rate, "workers": args.workers}
    if "load" in phases:
        results["load"] = [load(args, int(n), separate)
                           for n in args.clients.split(",") for separate in (False, True)]
        for row in results["load"]:
            print(json.dumps(row), flush=True)
    if "hostile" in phases:
        results["hostile"] = hostile(args)
        print(json.dumps(results["hostile"], default=str), flush=True)
    if "kill" in phases and args.workers > 0:
        results["kill"] = kill(args)
        print(json.dumps(results["kill"]), flush=True)
    (args.out / "soak.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
