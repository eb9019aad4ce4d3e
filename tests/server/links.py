"""Links for the pure stream tests: an estimate built from simulated frames and acks."""

from __future__ import annotations

from napari_engine.server.adapt import LinkEstimate


def link_at(bandwidth_bps: float, rtt_s: float = 0.05, frames: int = 20,
            size: int = 500_000) -> LinkEstimate:
    """Two frames in flight (as with two credits): each new frame leaves when the one
    before the last is acknowledged, so it queues behind the previous one."""
    link = LinkEstimate()
    serialise = size * 8 / bandwidth_bps
    link_free, acks = 0.0, [0.0, 0.0]
    for seq in range(1, frames + 1):
        sent = acks[-2]
        link.sent(seq, size, sent)
        link_free = max(link_free, sent) + serialise
        arrive = link_free + rtt_s
        link.acked(seq, arrive)
        acks.append(arrive)
    return link
