"""Fit the stream to each client's link: pure decisions from acknowledgement timing.

Every frame a client acknowledges says how long it took to get there. From the bytes
and times of acknowledged frames the server estimates the client's delivery rate and
round trip (the largest recent delivery rate, the smallest recent round trip), and chooses:

* the JPEG quality while the scene moves: the largest quality (up to the client's own)
  whose frames fit the link at the target frame rate, stepping down fast when frames
  are too big and back up slowly; below the lowest quality, half the resolution (then a
  quarter), as vtk.js does while interacting;
* H.264 instead of JPEG for moving frames (``auto``) once full-quality JPEG no longer
  fits the link at the target frame rate, with a rate cap that follows the link;
* the still: lossless where the link carries it in about a frame time, visually
  lossless JPEG (quality 95, 4:4:4) where a lossless still would hold the link for long
  (over a 10 Mbit/s link a 6 MiB still blocks every interaction for 5 s).

No I/O and no clock of its own: callers pass times in, tests drive it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_QUALITY = 30
#: frames smaller than this say nothing about the link's rate
MIN_SAMPLE_BYTES = 16_384
#: a client that waited at least this long for a frame was not busy when it arrived
CLIENT_WAITED_S = 0.001
#: a link spreads frames out: arrival gaps above the send gap times this count as its rate
DISPERSION = 1.2
#: a round trip above this is a network's, not a local link's (see ``bandwidth_bps``)
FLOOR_MIN_RTT_S = 0.03
MAX_STEP = 4  # moving frames at down to a quarter of the width and height
STILL_JPEG_QUALITY = 95
#: a lossless still may hold the link for at most this long
MAX_STILL_SECONDS = 0.25


@dataclass
class LinkEstimate:
    """Delivery rate and round trip of one client, from its acknowledgements."""

    window: int = 16
    _rates: list[float] = field(default_factory=list)
    _rtts: list[float] = field(default_factory=list)
    _sent: dict[int, tuple[int, float]] = field(default_factory=dict)
    _last_ack: float | None = None
    _last_received: float | None = None
    _last_sent: float | None = None
    _floors: list[float] = field(default_factory=list)
    last_size: int = 0  # bytes of the last frame sent

    @property
    def floor_bps(self) -> float | None:
        """What the link has demonstrably carried lately: the largest of recent frames'
        size over their round trip (every byte of a frame crossed within it, so the link
        carries at least that much)."""
        return max(self._floors) if self._floors else None

    @property
    def measured_bps(self) -> float | None:
        """``bandwidth_bps`` once there are real rate samples, never below ``floor_bps``:
        a sample is the spacing of two arrivals, which a busy CPU (the client's, the
        server's) stretches as a thin link would; only such stretched samples pass the
        dispersion test on a fast link, so without the floor scheduling noise alone
        would make loopback look like a 10 Mbit/s link."""
        if not self._rates:
            return None
        return max(max(self._rates), self.floor_bps or 0.0)

    @property
    def min_rtt_s(self) -> float | None:
        """The smallest recent round trip: the link's own delay, without the time frames
        spent queued behind each other (which grows with the frames in flight)."""
        return min(self._rtts) if self._rtts else None

    @property
    def bandwidth_bps(self) -> float | None:
        """The highest delivery rate among recent samples (as BBR does): a sender that
        is limited by how fast frames are drawn measures less than the link carries, and
        averaging those would talk the quality down for nothing. Before any sample, on a
        link with a long round trip, a lower bound from frames sent to an idle link (their
        size over their round trip), so the first still does not hold a thin link for
        seconds; on a short round trip nothing is assumed (a local link is fast)."""
        if self._rates:
            return self.measured_bps
        rtt = self.min_rtt_s
        if self._floors and rtt is not None and rtt > FLOOR_MIN_RTT_S:
            return self.floor_bps
        return None

    def sent(self, seq: int, size: int, t: float) -> None:
        self._sent[seq] = (size, t)
        self.last_size = size

    def acked(self, seq: int, t: float, received: float | None = None,
              waited: float | None = None) -> None:
        """Cumulative: every frame up to ``seq`` has arrived by ``t`` (the server's clock;
        ``received``: when frame ``seq`` arrived by the client's clock, and ``waited``: how
        long the client had waited for it, if it says)."""
        done = sorted(s for s in self._sent if s <= seq)
        for s in done:
            size, sent_t = self._sent.pop(s)
            rtt = max(t - sent_t, 1e-4)
            self._rtts = [*self._rtts[-(self.window - 1):], rtt]
            # Only a frame that queued behind the previous one measures the link's rate:
            # it kept the link busy from the previous arrival to its own. A frame sent to
            # an idle link also waited a round trip, which says nothing about bandwidth.
            # The client's arrival times measure that best (the acks' spacing also holds
            # the client's decoding, which can bunch them up), but only when the client
            # was waiting for the frame: one that was already there arrived earlier than
            # the client got to it, and its spacing measures the client, not the link.
            queued = self._last_ack is not None and sent_t < self._last_ack
            if size > MIN_SAMPLE_BYTES:
                self._floors = [*self._floors[-(self.window - 1):], size * 8 / rtt]
            if size > MIN_SAMPLE_BYTES and queued:
                busy: float | None
                if received is None:
                    busy = max(t - self._last_ack, 1e-4)  # type: ignore[operator]
                elif (s == seq and self._last_received is not None
                        and waited is not None and waited >= CLIENT_WAITED_S):
                    busy = max(received - self._last_received, 1e-4)
                else:
                    busy = None  # the client was the bottleneck: no link sample
                # Frames that arrived as far apart as they were sent were paced by the
                # sender (drawing), not spread by the link: no sample either (the
                # dispersion test of packet-pair probing, BBR's "application limited").
                gap = sent_t - (self._last_sent if self._last_sent is not None else sent_t)
                if busy is not None and busy > gap * DISPERSION + 0.002:
                    self._rates = [*self._rates[-(self.window - 1):], size * 8 / busy]
            self._last_ack = t
            self._last_sent = sent_t
        if done and received is not None:
            self._last_received = received


@dataclass
class QualityController:
    """JPEG quality for moving frames, from frame sizes and the estimated link."""

    max_quality: int = 80
    target_fps: float = 30.0
    quality: int = 80
    step: int = 1  # subsampling of moving frames: 2 = half width and height

    def update(self, frame_bytes: int, link: LinkEstimate) -> int:
        """Adjust after a moving frame of ``frame_bytes`` (sent at the current quality and
        step): quality first, then resolution once quality is at its floor."""
        bandwidth = link.measured_bps  # not the idle-frame lower bound: see VideoChoice
        if bandwidth is None:
            return self.quality
        budget = bandwidth / 8 / self.target_fps
        if frame_bytes > budget:
            if self.quality > MIN_QUALITY:
                self.quality = max(MIN_QUALITY, self.quality - 15)
            elif self.step < MAX_STEP:
                self.step *= 2  # a quarter of the pixels
        elif frame_bytes < budget / 2:
            if self.step > 1 and frame_bytes * 4 < budget / 2:
                self.step //= 2
            elif self.step == 1 and self.quality < self.max_quality:
                self.quality = min(self.max_quality, self.quality + 5)
        return self.quality


def credit_window(link: LinkEstimate, max_in_flight: int, target_fps: float = 30.0) -> int:
    """Frames in flight that keep ``target_fps`` going over the link's round trip (two at
    least: one drawn while the other travels), within the client's own limit. Sized from
    the smallest recent round trip, so frames queued in flight do not talk it up, and no
    more than the link holds in one round trip (its bandwidth-delay product) of frames
    the size of the last one, plus one: big frames on a thin link would only queue."""
    rtt = link.min_rtt_s
    wanted = 2 if rtt is None else max(2, math.ceil(rtt * target_fps) + 1)
    bandwidth = link.bandwidth_bps
    if rtt is not None and bandwidth is not None and link.last_size > 0:
        held = bandwidth * rtt / 8 / link.last_size
        wanted = min(wanted, max(2, math.ceil(held) + 1))
    return max(1, min(max_in_flight, wanted))


#: JPEG quality of a still that is not lossless, by the link's rate (bits per second):
#: visually lossless (4:4:4) where the link carries it; on a thin link a 1080p frame of
#: noisy microscopy at quality 95 is ~2 MB, which would hold 10 Mbit/s for 1.8 s
STILL_QUALITY_BY_RATE = ((50e6, STILL_JPEG_QUALITY), (20e6, 90), (0.0, 85))


def still_jpeg_quality(link: LinkEstimate) -> int:
    bandwidth = link.bandwidth_bps
    if bandwidth is None:
        return STILL_JPEG_QUALITY
    return next(q for rate, q in STILL_QUALITY_BY_RATE if bandwidth >= rate)


def lossless_still_fits(link: LinkEstimate, lossless_bytes: int) -> bool:
    """Whether a lossless still of this size crosses the link quickly enough."""
    if link.bandwidth_bps is None:
        return True  # nothing known yet: assume a fast link, as on loopback
    return lossless_bytes * 8 / link.bandwidth_bps <= MAX_STILL_SECONDS


#: bit rate caps of the video encoder (bits per second)
RATE_LEVELS = (1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000, 32_000_000,
               64_000_000)


def rate_level(bandwidth_bps: float | None, share: float = 0.6) -> int:
    """The highest rate level within ``share`` of the link (the top level if unknown)."""
    if bandwidth_bps is None:
        return RATE_LEVELS[-1]
    fitting = [r for r in RATE_LEVELS if r <= bandwidth_bps * share]
    return fitting[-1] if fitting else RATE_LEVELS[0]


#: a higher video rate level is taken only after the link kept up for this long
VIDEO_RAISE_AFTER_S = 3.0


@dataclass
class VideoChoice:
    """When ``auto`` streams moving frames as H.264, and at which rate cap.

    JPEG frames stand alone (any frame can be skipped, each is crisp); video frames cost a
    fraction of the bytes but depend on each other. So ``auto`` sends JPEG while the link
    carries full-quality JPEG at the target frame rate, and video once it does not: once
    the JPEG quality controller had to step below the client's quality (or resolution)
    on a measured rate. The rate cap follows the link down at once (a backlog is the
    worst outcome) and up only after it held for a while (each change rebuilds the
    encoder: one keyframe).
    """

    rate_bps: int | None = None
    _changed_at: float = float("-inf")

    @staticmethod
    def video_pays(link: LinkEstimate, quality: QualityController) -> bool:
        # measured rates only: the lower bound from idle frames is too low to trade
        # picture quality for (a busy client on a local link also has a long round trip)
        if link.measured_bps is None:
            return False
        return quality.quality < quality.max_quality or quality.step > 1

    def rate(self, link: LinkEstimate, now: float) -> int:
        wanted = rate_level(link.bandwidth_bps)
        current = self.rate_bps
        if current is None or wanted < current or (
                wanted > current and now - self._changed_at >= VIDEO_RAISE_AFTER_S):
            if wanted != current:
                self._changed_at = now
            self.rate_bps = wanted
        assert self.rate_bps is not None
        return self.rate_bps


#: resolutions moving frames may be drawn at when the scale follows the drawing time
RENDER_SCALES = (1.0, 0.5, 0.25)


@dataclass
class RenderScale:
    """The resolution of moving frames, from how long frames take to make: the GL draw
    and readback, and the encoding (not data loading, which does not shrink with the
    frame).

    Keeps estimates of what a full-resolution frame costs to draw and to encode (a frame
    at scale s costs about s^2 of it: the fragments and the pixels are the work on a CPU)
    and draws moving frames at the largest scale whose cost fits the frame budget, as
    vtk.js does while the user interacts. Drawing and encoding overlap (the encoder has
    threads of its own) where the server has cores for both; on one core they take turns
    (``serial``), and the budget holds their sum. Stills are always full resolution.
    """

    target_s: float = 1.0 / 30
    alpha: float = 0.5
    full_draw_s: float | None = None
    full_encode_s: float | None = None
    serial: bool = False

    def observe(self, draw_s: float, scale: float) -> None:
        self.full_draw_s = self._blend(self.full_draw_s, draw_s / (scale * scale))

    def observe_encode(self, encode_s: float, scale: float) -> None:
        """A moving frame drawn at ``scale`` took ``encode_s`` to encode (every encoding
        it was sent in)."""
        self.full_encode_s = self._blend(self.full_encode_s, encode_s / (scale * scale))

    def _blend(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.alpha) * old + self.alpha * new

    @property
    def full_frame_s(self) -> float | None:
        """What one full-resolution frame costs, as the server's cores spend it."""
        if self.full_draw_s is None:
            return None
        encode = self.full_encode_s or 0.0
        if self.serial:
            return self.full_draw_s + encode
        return max(self.full_draw_s, encode)

    @property
    def scale(self) -> float:
        full = self.full_frame_s
        if full is None:
            return 1.0
        for scale in RENDER_SCALES:
            if full * scale * scale <= self.target_s:
                return scale
        return RENDER_SCALES[-1]
