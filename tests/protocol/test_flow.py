"""Frame credits: a bounded number of frames in flight, cumulative acks."""

from __future__ import annotations

import pytest

from napari_engine.protocol import FrameCredits


def test_credits_bound_frames_in_flight() -> None:
    credits = FrameCredits(2)
    credits.sent(1)
    credits.sent(2)
    assert not credits.can_send()
    with pytest.raises(RuntimeError):
        credits.sent(3)
    assert credits.acked(1)
    assert credits.can_send() and credits.in_flight == 1


def test_acks_are_cumulative_and_unknown_acks_are_harmless() -> None:
    credits = FrameCredits(3)
    credits.window = 3
    for seq in (5, 6, 7):
        credits.sent(seq)
    assert credits.acked(6)
    assert credits.in_flight == 1
    assert not credits.acked(100)  # unknown, but releases everything up to it
    assert credits.in_flight == 0


def test_sequence_numbers_must_increase() -> None:
    credits = FrameCredits(3)
    credits.sent(5)
    with pytest.raises(ValueError):
        credits.sent(5)


def test_a_frame_that_was_never_sent_returns_its_credit() -> None:
    credits = FrameCredits(1)
    credits.sent(3)
    credits.cancel(3)
    assert credits.can_send()
    credits.cancel(99)  # unknown: nothing happens


def test_the_window_stays_within_the_clients_limit() -> None:
    credits = FrameCredits(4)
    assert credits.window == 2  # until the server knows the link
    credits.window = 10
    assert credits.window == 4
    credits.window = 0
    assert credits.window == 1
    credits.sent(1)
    assert not credits.can_send()
