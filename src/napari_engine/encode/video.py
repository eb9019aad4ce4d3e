"""Video: H.264 for continuous interaction over thin links (delta coding between frames).

While a user pans or scrolls through z or time, consecutive frames are mostly the same
picture moved or slightly changed; a video codec codes each frame as the difference from
the previous one (motion-compensated P-frames), which JPEG cannot. On the built-in
sample at 1920x1080, a moving P-frame is ~60 KiB where a JPEG q80 frame is ~420 KiB, at
about the same error and the same encode time (libx264 ``ultrafast``/``zerolatency``:
no B-frames, no lookahead, every frame comes out as soon as it goes in).

One encoder per client: a P-frame only decodes on top of the frames that client got.
Over TCP nothing is lost, so the decoder never needs a fresh keyframe, except after the
encoder is rebuilt (a new size or rate level), which always starts with one.

The rate is capped with x264's VBV (a "capped CRF"): on a fast link frames are as big as
their content needs at CRF 23; on a thin link each frame stays within the link's budget.
The cap cannot change inside an open encoder (PyAV exposes no reconfigure), so the rate
moves in coarse levels and the encoder is rebuilt when the level changes.

A hardware encoder (NVIDIA NVENC) is used when FFmpeg has one and it opens; otherwise
libx264 on the CPU. The client decodes on a hardware decoder the same way (NVDEC, VAAPI,
VideoToolbox, D3D11VA, Quick Sync: the first device FFmpeg opens), else on the CPU.
"""

from __future__ import annotations

import fractions
import logging
import os
from functools import lru_cache

import av
import numpy as np

log = logging.getLogger(__name__)

FPS = 30
CRF = 23
#: codecs tried in order; the first that opens wins (overridable for tests/benchmarks)
CODEC_PREFERENCE = ("h264_nvenc", "libx264")


def _options(codec: str, rate_bps: int) -> dict[str, str]:
    kbps = rate_bps // 1000
    if codec == "libx264":
        # a quarter second of buffer: a frame that changes everything (a z step) may
        # borrow from the following ones, and the link drains it within 250 ms
        return {"preset": "ultrafast", "tune": "zerolatency", "crf": str(CRF),
                "x264-params": f"vbv-maxrate={kbps}:vbv-bufsize={max(1, kbps // 4)}"}
    return {"preset": "p1", "tune": "ull", "rc": "vbr", "cq": str(CRF),
            "maxrate": str(rate_bps), "bufsize": str(rate_bps // 4), "zerolatency": "1"}


def _open(codec: str, width: int, height: int, rate_bps: int) -> av.VideoCodecContext:
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, FPS)
    ctx.framerate = fractions.Fraction(FPS, 1)
    ctx.gop_size = 1 << 30  # no periodic keyframes: TCP loses nothing
    ctx.max_b_frames = 0
    ctx.thread_count = 2
    ctx.options = _options(codec, rate_bps)
    ctx.open()
    return ctx


@lru_cache(maxsize=1)
def encoder_name() -> str:
    """The first codec of ``CODEC_PREFERENCE`` (or $NAPARI_ENGINE_VIDEO_CODEC) that opens."""
    wanted = os.environ.get("NAPARI_ENGINE_VIDEO_CODEC")
    for codec in ((wanted,) if wanted else CODEC_PREFERENCE):
        if codec not in av.codecs_available:
            continue
        try:
            _open(codec, 64, 64, 1_000_000)  # freed when collected
        except Exception as exc:  # no GPU, no driver: fall back to the next one
            log.debug("video codec %s unavailable: %s", codec, exc)
            continue
        log.info("video frames encoded with %s", codec)
        return codec
    raise RuntimeError(f"no H.264 encoder among {CODEC_PREFERENCE} opens here")


def _even(n: int) -> int:
    return n + (n & 1)


class VideoEncoder:
    """H.264 for one client. Not thread-safe: the engine's encoder thread owns it."""

    def __init__(self) -> None:
        self._ctx: av.VideoCodecContext | None = None
        self._shape: tuple[int, int] = (0, 0)
        self._rate = 0
        self._pts = 0

    @property
    def rate_bps(self) -> int:
        return self._rate

    def encode(self, frame: np.ndarray, rate_bps: int) -> tuple[bytes, bool]:
        """One RGBA frame -> (H.264 access unit, keyframe?)."""
        h, w = frame.shape[:2]
        if self._ctx is None or self._shape != (h, w) or rate_bps != self._rate:
            self.close()
            self._ctx = _open(encoder_name(), _even(w), _even(h), rate_bps)
            self._shape, self._rate, self._pts = (h, w), rate_bps, 0
        if (h | w) & 1:  # 4:2:0 needs even sizes: repeat the last row/column
            frame = np.pad(frame, ((0, h & 1), (0, w & 1), (0, 0)), mode="edge")
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgba")
        picture = picture.reformat(format="yuv420p")
        picture.pts = self._pts
        self._pts += 1
        packets = self._ctx.encode(picture)
        data = b"".join(bytes(p) for p in packets)
        if not data:
            raise RuntimeError("the video encoder held a frame back (it must not delay)")
        return data, any(p.is_keyframe for p in packets)

    def close(self) -> None:
        self._ctx = None


#: hardware decoders tried in order ($NAPARI_ENGINE_VIDEO_DECODER: one of them, or
#: ``software``); each needs its device present, else the CPU decodes
HWACCEL_PREFERENCE = ("cuda", "videotoolbox", "vaapi", "d3d11va", "qsv")


def _decoder(device: str) -> av.VideoCodecContext | None:
    """An H.264 decoder on ``device``, or None when it does not open on a device here."""
    from av.codec.hwaccel import HWAccel

    try:
        ctx = av.CodecContext.create("h264", "r", hwaccel=HWAccel(
            device_type=device, allow_software_fallback=True))
    except Exception as exc:  # no driver, no permission
        log.debug("hardware H.264 decoder %s unavailable: %s", device, exc)
        return None
    assert isinstance(ctx, av.VideoCodecContext)
    return ctx if ctx.is_hwaccel else None  # FFmpeg opened it on no device


def open_decoder() -> tuple[av.VideoCodecContext, str]:
    """The first hardware H.264 decoder that opens here, else FFmpeg's software one:
    (context, the device type or ``software``)."""
    from av.codec.hwaccel import hwdevices_available

    wanted = os.environ.get("NAPARI_ENGINE_VIDEO_DECODER")
    devices = (wanted,) if wanted else HWACCEL_PREFERENCE
    available = set(hwdevices_available())
    for device in devices:
        if device in available:
            ctx = _decoder(device)
            if ctx is not None:
                log.info("video frames decoded on %s", device)
                return ctx, device
    ctx = av.CodecContext.create("h264", "r")
    assert isinstance(ctx, av.VideoCodecContext)
    return ctx, "software"


class VideoDecoder:
    """The client's side: H.264 access units back to RGBA frames, in order."""

    def __init__(self) -> None:
        self._ctx, self.device = open_decoder()

    def decode(self, data: bytes | memoryview, width: int, height: int) -> np.ndarray:
        # each message is one whole access unit: decode it directly, as the parser would
        # hold it back until the next one starts
        frames = self._ctx.decode(av.Packet(bytes(data)))
        if not frames:
            raise ValueError("the H.264 data held no picture (missing keyframe?)")
        out = frames[-1].to_ndarray(format="rgba")
        return np.ascontiguousarray(out[:height, :width])
