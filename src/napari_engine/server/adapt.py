"""Fit the stream to each client's link: pure decisions from acknowledgement timing.

Every frame a client acknowledges says how long it took to get there. From the bytes
and times of acknowledged frames the server estimates the client's delivery rate and
round trip (exponential moving averages), and chooses:

* the JPEG quality while the scene moves: the largest quality (up to the client's own)
  whose frames fit the link at the target frame rate, stepping down fast when frames
  are too big and back up slowly; below the lowest quality, half the resolution (then a
  quarter), as vtk.js does while interacting;
* the still: lossless where the link carries it in about a frame time, visually
  lossless JPEG (quality 95, 4:4:4) where a lossless still would hold the link for long
  (over a 10 Mbit/s link a 6 MiB still blocks every interaction for 5 s).

No I/O and no clock of its own: callers pass times in, tests drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_QUALITY = 30
MAX_STEP = 4  # moving frames at down to a quarter of the width and height
STILL_JPEG_QUALITY = 95
#: a lossless still may hold the link for at most this long
MAX_STILL_SECONDS = 0.25


@dataclass
class LinkEstimate:
    """Delivery rate and round trip of one client, from its acknowledgements."""

    alpha: float = 0.3
    bandwidth_bps: float | None = None
    rtt_s: float | None = None
    _sent: dict[int, tuple[int, float]] = field(default_factory=dict)
    _last_ack: float | None = None

    def sent(self, seq: int, size: int, t: float) -> None:
        self._sent[seq] = (size, t)

    def acked(self, seq: int, t: float) -> None:
        """Cumulative: every frame up to ``seq`` has arrived by ``t``."""
        done = sorted(s for s in self._sent if s <= seq)
        for s in done:
            size, sent_t = self._sent.pop(s)
            rtt = max(t - sent_t, 1e-4)
            # the link was busy with this frame from when it left (or the previous one
            # landed, if it queued behind it) until now
            start = sent_t if self._last_ack is None else max(sent_t, self._last_ack)
            busy = max(t - start, 1e-4)
            if size > 16_384:  # small frames say more about latency than about bandwidth
                self.bandwidth_bps = self._mix(self.bandwidth_bps, size * 8 / busy)
            self.rtt_s = self._mix(self.rtt_s, rtt)
        self._last_ack = t

    def _mix(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.alpha) * old + self.alpha * new


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
        if link.bandwidth_bps is None:
            return self.quality
        budget = link.bandwidth_bps / 8 / self.target_fps
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


def lossless_still_fits(link: LinkEstimate, lossless_bytes: int) -> bool:
    """Whether a lossless still of this size crosses the link quickly enough."""
    if link.bandwidth_bps is None:
        return True  # nothing known yet: assume a fast link, as on loopback
    return lossless_bytes * 8 / link.bandwidth_bps <= MAX_STILL_SECONDS
