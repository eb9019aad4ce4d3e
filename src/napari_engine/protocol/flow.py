"""Frame flow control: at most a fixed number of unacknowledged frames per client.

The rule, as in jupyter_rfb and VirtualGL's frame spoiling: the server may only send a
frame while the client has a credit; each frame takes one, each ``ack`` gives back every
credit up to and including the acknowledged sequence number (acks are cumulative, so a
lost or coalesced ack does no harm). A client that falls behind therefore receives fewer,
newer frames and never a growing backlog.
"""

from __future__ import annotations


class FrameCredits:
    """Tracks the frames one client has not yet acknowledged."""

    def __init__(self, max_in_flight: int = 2) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._window = min(2, max_in_flight)
        self._in_flight: list[int] = []  # ascending sequence numbers

    @property
    def window(self) -> int:
        """How many frames may be in flight now: the server sizes it to the link's round
        trip (``adapt.credit_window``), never above the client's ``max_in_flight``."""
        return self._window

    @window.setter
    def window(self, value: int) -> None:
        self._window = max(1, min(self.max_in_flight, int(value)))

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def can_send(self) -> bool:
        return len(self._in_flight) < self._window

    def sent(self, seq: int) -> None:
        """Record that frame ``seq`` went out; sequence numbers must increase."""
        if not self.can_send():
            raise RuntimeError("no credit left: the caller must check can_send() first")
        if self._in_flight and seq <= self._in_flight[-1]:
            raise ValueError(f"frame sequence numbers must increase ({seq} after "
                             f"{self._in_flight[-1]})")
        self._in_flight.append(seq)

    def cancel(self, seq: int) -> None:
        """Frame ``seq`` was reserved but never sent: give its credit back."""
        if seq in self._in_flight:
            self._in_flight.remove(seq)

    def acked(self, seq: int) -> bool:
        """Release every frame up to ``seq``; False if ``seq`` was never in flight."""
        known = seq in self._in_flight
        self._in_flight = [s for s in self._in_flight if s > seq]
        return known
