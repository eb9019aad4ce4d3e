"""The stream policy: how each client's next frame is encoded, and when the scene has
rested long enough for a still. Pure: no GL, no napari, no sockets, no clock of its own.

The rules, in plain words (``choose``):

* ``video`` clients, and ``auto`` clients once the link measured too thin for
  full-quality JPEG (``adapt.VideoChoice``), get H.264 while the scene moves, at the rate
  cap the link carries.
* Other ``auto`` and ``tiles`` clients get JPEG tiles while moving (only what changed; a
  pan moves the client's picture), and for ``auto`` whole JPEG frames at half or a
  quarter of the resolution once even the lowest JPEG quality does not fit the link.
* Once the scene rests: lossless where it crosses the link within ``MAX_STILL_SECONDS``
  (tiles, or one zstd frame for ``video``), visually lossless JPEG at the quality the
  link carries otherwise.
* ``jpeg`` clients always get whole JPEG frames at their own quality; ``lossless``
  clients always get zstd frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from napari_engine.protocol import StreamMode
from napari_engine.server.adapt import (
    LinkEstimate,
    QualityController,
    RenderScale,
    VideoChoice,
    lossless_still_fits,
    still_jpeg_quality,
)

#: with no frame drawn for this long, the scene counts as resting (not being moved)
RESTED_S = 0.25

#: stream modes that get a still (lossless where the link carries it) once the scene rests
STILL_MODES = frozenset({StreamMode.AUTO, StreamMode.TILES, StreamMode.VIDEO})
#: stream modes whose clients get tile updates (``auto`` between its video frames)
TILE_MODES = frozenset({StreamMode.AUTO, StreamMode.TILES})


class Codec(StrEnum):
    """What a frame's payload is (the header's ``encoding``)."""

    JPEG = "jpeg"
    ZSTD = "zstd"
    PNG = "png"
    TILES = "tiles"
    H264 = "h264"


@dataclass(frozen=True, slots=True)
class FrameEncoding:
    """How one frame is encoded for one client; hashable, so frames encoded the same way
    for several clients are encoded once (``quality``: JPEG quality of ``jpeg`` frames and
    lossy ``tiles``, None for lossless ones; ``rate_bps``: the H.264 rate cap; ``step``:
    whole frames subsampled by this factor, for a link too thin for the full size)."""

    codec: Codec
    quality: int | None = None
    rate_bps: int | None = None
    step: int = 1

    @property
    def lossless(self) -> bool:
        if self.codec is Codec.TILES:
            return self.quality is None
        return self.codec in (Codec.ZSTD, Codec.PNG)

    @property
    def whole_frame(self) -> bool:
        """A self-contained frame that replaces the client's picture."""
        return self.codec in (Codec.JPEG, Codec.ZSTD, Codec.PNG)


@dataclass
class ClientStream:
    """What the policy knows about one client's stream."""

    mode: StreamMode
    max_quality: int
    link: LinkEstimate = field(default_factory=LinkEstimate)
    quality: QualityController = field(default_factory=QualityController)
    video: VideoChoice = field(default_factory=VideoChoice)
    #: bytes of the last lossless whole frame sent (a guess for the next still's size)
    last_lossless_bytes: int | None = None

    @classmethod
    def for_client(cls, mode: StreamMode, jpeg_quality: int) -> ClientStream:
        return cls(mode, jpeg_quality,
                   quality=QualityController(max_quality=jpeg_quality, quality=jpeg_quality))

    @property
    def gets_stills(self) -> bool:
        return self.mode in STILL_MODES

    @property
    def gets_tiles(self) -> bool:
        return self.mode in TILE_MODES


def lossless_fits(stream: ClientStream, canvas_pixels: int) -> bool:
    """Whether a lossless still crosses this client's link quickly (its size guessed
    from the last one, or 2 bytes a pixel before any)."""
    return lossless_still_fits(stream.link, stream.last_lossless_bytes or canvas_pixels * 2)


def choose(stream: ClientStream, *, still: bool, now: float, canvas_pixels: int,
           lossless: Codec = Codec.ZSTD) -> FrameEncoding:
    """How ``stream``'s next frame is encoded (see the module's rules)."""
    mode = stream.mode
    if not still and (mode is StreamMode.VIDEO or (
            mode is StreamMode.AUTO and stream.video.video_pays(stream.link, stream.quality))):
        return FrameEncoding(Codec.H264, rate_bps=stream.video.rate(stream.link, now))
    if mode in TILE_MODES:
        if still:
            return FrameEncoding(Codec.TILES, None if lossless_fits(stream, canvas_pixels)
                                 else still_jpeg_quality(stream.link))
        if mode is StreamMode.AUTO and stream.quality.step > 1:
            return FrameEncoding(Codec.JPEG, stream.quality.quality, step=stream.quality.step)
        return FrameEncoding(Codec.TILES, stream.quality.quality)
    if mode is StreamMode.LOSSLESS or (mode is StreamMode.VIDEO
                                       and lossless_fits(stream, canvas_pixels)):
        return FrameEncoding(lossless)
    if mode is StreamMode.VIDEO:
        return FrameEncoding(Codec.JPEG, still_jpeg_quality(stream.link))
    return FrameEncoding(Codec.JPEG, stream.max_quality)


def screenshot_encoding(name: str) -> FrameEncoding:
    """A screenshot's lossless whole frame, in the encoding the client asked for."""
    codec = Codec(name)
    if codec not in (Codec.ZSTD, Codec.PNG):
        raise ValueError(f"screenshots are lossless: zstd or png, not {name}")
    return FrameEncoding(codec)


def is_still(*, render_dirty: bool, since_last_render: float, still_delay: float) -> bool:
    """The scene has rested: nothing to redraw, and no frame drawn for ``still_delay``."""
    return not render_dirty and since_last_render >= still_delay


def observe_sent(stream: ClientStream, encoding: FrameEncoding, *, still: bool,
                 size: int) -> None:
    """After a frame left: remember a lossless whole frame's size (the next still's
    guess), and let a moving JPEG frame or tile update steer the JPEG quality."""
    if encoding.lossless and encoding.whole_frame:
        stream.last_lossless_bytes = size
    elif not still and encoding.codec in (Codec.JPEG, Codec.TILES):
        stream.quality.update(size, stream.link)


def moving_scale(configured: float | None, *, render_scale: RenderScale, pan: bool,
                 since_last_render: float) -> float:
    """The resolution of the next frame while the scene moves: the configured one, or
    (None, ``--interactive-scale auto``) full size for a 2D pan drawn as strips and for
    the first frame after a rest (a single change, a label stroke or a layer toggle,
    must stay a small change for clients that get tiles), otherwise whatever draws within
    the frame budget."""
    if configured is not None:
        return configured
    if pan or since_last_render > RESTED_S:
        return 1.0
    return render_scale.scale
