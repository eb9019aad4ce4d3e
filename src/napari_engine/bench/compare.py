"""Stream designs side by side over emulated links: the engine against simpler designs.

For each link preset and each design, the same interaction phases are driven against the
same server and data: a 2D pan, a zoom, a z-scroll, and a 3D rotation. Designs:

* ``naive-png``: one full PNG frame per command, no coalescing (a request/response
  viewer: each event is sent, its frame awaited, then the next event);
* ``jpeg``: plain JPEG full frames at a fixed quality (the foundation's stream);
* ``auto``: the engine's adaptive stream (JPEG quality and resolution, H.264 when the
  link is thin, a lossless or visually lossless still at rest);
* ``tiles``: only changed tiles, pans reuse the client's picture (shift + strips);
* ``video``: H.264 while moving, whatever the link.

Quality is the PSNR/SSIM of the last moving frame of a phase against the lossless frame
of the same render (asked for with a screenshot once the phase ends).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_engine.bench.driver import FrameLog, continuous, open_client
from napari_engine.bench.netem import PRESETS, emulated_link, port_of
from napari_engine.bench.quality import psnr, ssim
from napari_engine.bench.stats import summary_ms
from napari_engine.client.connection import Connection, Frame
from napari_engine.protocol import FrameHeader

Result = dict[str, Any]
Make = Callable[[int], tuple[str, dict[str, Any]]]

DESIGNS = ("naive-png", "jpeg", "auto", "tiles", "video")
PHASES = ("pan", "zoom", "zscroll", "rotate")


class _View:
    """Where a phase starts: the middle of the data at ``zoom``, z in the middle."""

    def __init__(self, conn: Connection, zoom: float) -> None:
        layer, dims = conn.layers()[0], conn.section("dims")
        shape, scale = layer["shape"], layer["scale"]
        self.center = [s * d / 2.0 for s, d in zip(shape, scale, strict=True)]
        self.zoom = zoom
        self.nz = int(dims["nsteps"][0])
        self.z0 = int(dims["current_step"][0])

    def reset(self, conn: Connection, ndisplay: int = 2) -> None:
        conn.send_command("dims.set", {"ndisplay": ndisplay})
        if ndisplay == 2:
            conn.send_command("camera.set", {"center": self.center[-2:], "zoom": self.zoom,
                                             "angles": [0.0, 0.0, 90.0]})
        else:
            conn.send_command("view.reset")
        conn.request("sync")

    def make(self, phase: str) -> Make:
        y, x = self.center[-2:]
        px = 1.0 / self.zoom  # one screen pixel in world units
        if phase == "pan":  # 10 px right and 3 px down per event: 600 px/s at 60 Hz
            return lambda i: ("camera.set", {"center": [y + 3 * i * px, x + 10 * i * px]})
        if phase == "zoom":  # in for a second, out for a second, ...: 1 % per event
            return lambda i: ("camera.set", {"zoom": self.zoom * 1.01 ** (
                i % 120 if i % 120 < 60 else 120 - i % 120)})
        if phase == "zscroll":
            return lambda i: ("dims.set", {"step": [0, (self.z0 + i) % self.nz]})
        if phase == "rotate":  # 2 degrees per event around the vertical axis
            return lambda i: ("camera.set", {"angles": [0.0, 2.0 * i, 90.0]})
        raise ValueError(f"unknown phase {phase!r}")


def _full_size(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A reduced moving frame brought back to full size (nearest), for comparison."""
    if image.shape[:2] == shape[:2]:
        return image
    fy, fx = -(-shape[0] // image.shape[0]), -(-shape[1] // image.shape[1])
    return np.repeat(np.repeat(image, fy, axis=0), fx, axis=1)[:shape[0], :shape[1]]


def _quality(conn: Connection, last: Frame | None) -> Result:
    """PSNR/SSIM of ``last`` against the lossless full draw of the same view (the
    screenshot draws the scene whole again when ``last`` was reduced or drawn as pan
    strips)."""
    if last is None:
        return {"psnr_db": None, "ssim": None}
    truth_frame = conn.request("screenshot")
    if truth_frame.header.view != last.header.view:
        return {"psnr_db": None, "ssim": None, "note": "the scene moved on"}
    truth = truth_frame.decode()
    shown = _full_size(last.decode(), truth.shape)
    db = psnr(shown, truth)  # inf when identical: JSON has no inf, so say so instead
    return {"psnr_db": db if math.isfinite(db) else None, "identical": not math.isfinite(db),
            "ssim": ssim(shown, truth)}


def _frame_stats(frames: list[tuple[float, FrameHeader, int]], seconds: float
                 ) -> Result:
    moving = [f for f in frames if not f[1].still]
    lat = [received - h.input_t for received, h, _ in frames if h.input_t is not None]
    encodings: dict[str, int] = {}
    for _r, h, _s in moving:
        encodings[h.encoding] = encodings.get(h.encoding, 0) + 1
    return {"frames": len(frames), "fps": len(frames) / seconds,
            "latency_ms": summary_ms(lat),
            "bytes_per_frame": (sum(f[2] for f in moving) / len(moving)) if moving else None,
            "bytes_per_s": sum(f[2] for f in frames) / seconds,
            "encodings": encodings}


def _is_still(header: FrameHeader) -> bool:
    return header.still


class _LastFrame:
    def __init__(self) -> None:
        self.frame: Frame | None = None

    def __call__(self, frame: Frame) -> None:
        if not frame.header.still:
            self.frame = frame


def streamed_phase(conn: Connection, log: FrameLog, last: _LastFrame, make: Make,
                   duration: float, rate: float, *, wants_still: bool) -> Result:
    start, end, sent, last_t = continuous(conn, duration, rate, make)
    # the frame of the last event, then the quality of what the client shows
    log.wait_for(lambda h: h.input_t == last_t, 10)
    settled = time.perf_counter()
    frames = log.since(start, settled)
    out = {"commands_sent": sent, **_frame_stats(frames, end - start)}
    moving = last.frame
    out["time_to_still_ms"] = None
    if wants_still:  # before the quality's lossless screenshot, which would delay it
        still = log.first(_is_still, 10, after=settled)
        if still is not None:
            out["time_to_still_ms"] = (still[0] - end) * 1e3
            out["still_bytes"] = still[2]
    out.update(_quality(conn, moving))
    time.sleep(0.2)
    return out


def naive_phase(conn: Connection, make: Make, duration: float, rate: float) -> Result:
    """One full PNG frame per command, in order, none skipped: each event's frame is
    awaited before the next event is sent, so events queue up on a slow link."""
    start = time.perf_counter()
    lat, sizes, i = [], [], 0
    while time.perf_counter() - start < duration:
        due = start + i / rate  # when the event happened
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        op, args = make(i)
        conn.send_command(op, args)
        frame = conn.request("screenshot", {"encoding": "png"})
        lat.append(time.perf_counter() - due)
        sizes.append(len(frame.payload))
        i += 1
    seconds = time.perf_counter() - start
    return {"commands_sent": i, "frames": len(sizes), "fps": len(sizes) / seconds,
            "latency_ms": summary_ms(lat),
            "bytes_per_frame": (sum(sizes) / len(sizes)) if sizes else None,
            "bytes_per_s": sum(sizes) / seconds, "encodings": {"png": len(sizes)},
            "psnr_db": None, "identical": True, "ssim": 1.0, "time_to_still_ms": 0.0}


def measure_design(url: str, size: tuple[int, int], design: str, phases: list[str],
                   args: Any) -> Result:
    stream = "none" if design == "naive-png" else design
    conn, log = open_client(url, size=size, stream=stream, quality=args.quality)
    last = _LastFrame()
    conn.on_frame(last)
    out: Result = {}
    try:
        view = _View(conn, args.zoom)
        for phase in phases:
            t_reset = time.perf_counter()
            view.reset(conn, ndisplay=3 if phase == "rotate" else 2)
            time.sleep(0.5)  # let the previous phase's frames pass
            if design not in ("naive-png", "jpeg"):  # and the view's still: a settled view
                log.first(_is_still, 10, after=t_reset)
            make = view.make(phase)
            if design == "naive-png":
                out[phase] = naive_phase(conn, make, args.duration, args.rate)
            else:
                rate = args.zrate if phase == "zscroll" else args.rate
                out[phase] = streamed_phase(conn, log, last, make, args.duration, rate,
                                            wants_still=design != "jpeg")
        view.reset(conn, ndisplay=2)
    finally:
        conn.close()
    return out


def measure_links(url: str, size: tuple[int, int], args: Any) -> list[Result]:
    """Every design over every link, against the same server."""
    port = port_of(url)
    out = []
    for name in args.links:
        row: Result = {"link": name, "rtt_ms": PRESETS[name].rtt_ms,
                       "bandwidth_mbit": (PRESETS[name].bandwidth_bps or 0) / 1e6,
                       "designs": {}}
        for design in args.designs:
            with emulated_link(port, PRESETS[name]) as link:
                row["designs"][design] = measure_design(link.url_for(url), size, design,
                                                        args.phases, args)
            print(f"  {name} {design}: " + ", ".join(
                f"{p} {r['fps']:.1f} fps" for p, r in row["designs"][design].items()),
                flush=True)
        out.append(row)
    return out
