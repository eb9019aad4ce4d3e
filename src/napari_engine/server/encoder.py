"""The encoder stage: turns a render's pixels into each reserved client's frame and sends
it, on a thread of its own.

The engine thread reserves frames (takes the clients' credits, builds each header) and
hands them over as one ``EncodeJob``; this thread encodes each distinct encoding once,
sends the frames in order, and reports back through typed jobs (``FrameSent`` per frame,
for the link estimate; ``FramesEncoded`` per job, for the encodings worth keeping and
the credits of frames it could not send). It never touches the engine's objects: what
it needs travels in the job, and it builds the final header as a new object.

One thread, so frames leave in render order and the encoding of frame N overlaps the
drawing of frame N + 1 (simplejpeg, zstd and libx264 release the GIL); updates with many
tiles get a second pair of hands (``tiles``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from napari_engine.encode import Encoding, encode_frame
from napari_engine.encode.motion import PanDelta
from napari_engine.encode.tiles import TileState, encode_update
from napari_engine.encode.video import VideoEncoder
from napari_engine.protocol import FrameHeader, Tile
from napari_engine.server.jobs import FramesEncoded, FrameSent, Job
from napari_engine.server.policy import Codec, FrameEncoding
from napari_engine.server.session import ClientSink

log = logging.getLogger(__name__)

#: JPEG quality for a lossy encoding that names none
DEFAULT_QUALITY = 80


@dataclass(frozen=True, slots=True)
class FrameOrder:
    """One frame reserved for one client (its credit taken), waiting to be encoded."""

    client_id: int
    sink: ClientSink
    header: FrameHeader
    encoding: FrameEncoding
    tiles: TileState | None = None  # the picture of a client that takes tile updates
    video: VideoEncoder | None = None  # set for frames that go as H.264


@dataclass(frozen=True, slots=True)
class EncodeJob:
    """A render's pixels and the frames reserved from it."""

    session: str
    render_no: int
    pixels: np.ndarray
    started: float  # time.perf_counter() when the render began
    cached: Mapping[FrameEncoding, tuple[bytes, float]]
    orders: tuple[FrameOrder, ...]
    pan: PanDelta | None = None  # how ``pixels`` were drawn over an earlier frame


def encode_whole(pixels: np.ndarray, encoding: FrameEncoding) -> bytes:
    """One whole frame (subsampled by the encoding's step)."""
    step = encoding.step
    return encode_frame(pixels[::step, ::step], Encoding(encoding.codec.value),
                        quality=encoding.quality or DEFAULT_QUALITY)


def _ms(seconds: float) -> float:
    return seconds * 1e3


class FrameEncoder:
    """The encoder thread; ``report`` takes its typed jobs back to the engine thread."""

    def __init__(self, report: Callable[[Job], None]) -> None:
        self._report = report
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="napari-engine-encode")
        # a second pair of hands for updates with many tiles (see ``tiles``)
        self._tile_pool = ThreadPoolExecutor(1, thread_name_prefix="napari-engine-tiles")

    def submit(self, job: EncodeJob) -> None:
        self._pool.submit(self._run, job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._tile_pool.shutdown(wait=False, cancel_futures=True)

    def _sent(self, session: str, order: FrameOrder, header: FrameHeader, size: int,
              at: float) -> None:
        """Network thread: the frame left (the link estimate needs when, not when it was
        queued)."""
        self._report(FrameSent(session, order.client_id, header.seq, size, at,
                               order.encoding, header.still))

    def _run(self, job: EncodeJob) -> None:
        fresh: dict[FrameEncoding, tuple[bytes, float]] = {}
        unsent = list(job.orders)
        moving_s, scale = 0.0, 1.0
        try:
            for order in job.orders:
                t0 = time.perf_counter()
                header, payload = self._encode(order, job, fresh)
                if not header.still:
                    moving_s, scale = moving_s + time.perf_counter() - t0, header.scale
                order.sink.send_frame(header, payload, functools.partial(
                    self._sent, job.session, order, header, len(payload)))
                unsent.remove(order)
        except Exception:
            log.exception("encoding frame %d of session %r failed", job.render_no,
                          job.session)
        finally:
            self._report(FramesEncoded(
                job.session, job.render_no,
                tuple((enc, data, s) for enc, (data, s) in fresh.items()),
                tuple((o.client_id, o.header.seq) for o in unsent),
                (moving_s, scale) if moving_s else None))

    def _encode(self, order: FrameOrder, job: EncodeJob,
                fresh: dict[FrameEncoding, tuple[bytes, float]]) -> tuple[FrameHeader, bytes]:
        t0 = time.perf_counter()
        codec = order.encoding.codec
        changes: dict[str, object] = {}
        if codec is Codec.TILES:
            payload = self._tiles(order, job, changes)
        elif codec is Codec.H264:
            assert order.video is not None and order.encoding.rate_bps is not None
            payload, changes["keyframe"] = order.video.encode(job.pixels,
                                                              order.encoding.rate_bps)
        else:
            if order.tiles is not None:
                # a whole frame replaces the client's picture: its next tile update
                # starts from nothing rather than from a picture it no longer shows
                order.tiles.shown = None
            cached = job.cached.get(order.encoding) or fresh.get(order.encoding)
            if cached is None:
                cached = (encode_whole(job.pixels, order.encoding), time.perf_counter() - t0)
                fresh[order.encoding] = cached
            payload = cached[0]
            t0 = time.perf_counter() - cached[1]
        timings = dataclasses.replace(order.header.timings,
                                      encode_ms=_ms(time.perf_counter() - t0),
                                      server_ms=_ms(time.perf_counter() - job.started))
        return order.header.with_encoding(timings=timings, **changes), payload

    def _tiles(self, order: FrameOrder, job: EncodeJob, changes: dict[str, object]) -> bytes:
        """Only the tiles that differ from what this client shows (after shifting its
        picture when the view only panned)."""
        assert order.tiles is not None
        header = order.header
        update = encode_update(order.tiles, job.pixels, lossless=order.encoding.lossless,
                               quality=order.encoding.quality or DEFAULT_QUALITY,
                               view=header.view, scale=header.scale, pool=self._tile_pool,
                               refine=header.still, pan=job.pan)
        changes["tiles"] = tuple(Tile(*entry) for entry in update.index)
        changes["shift"] = update.shift
        return update.payload
