"""Link estimation and quality choice (pure: times are passed in)."""

from __future__ import annotations

import pytest

from napari_engine.server.adapt import (
    MAX_STEP,
    MIN_QUALITY,
    MIN_SAMPLE_BYTES,
    RATE_LEVELS,
    VIDEO_RAISE_AFTER_S,
    LinkEstimate,
    QualityController,
    VideoChoice,
    lossless_still_fits,
    rate_level,
)
from tests.server.links import link_at


def test_estimates_bandwidth_and_round_trip() -> None:
    link = link_at(100e6, 0.050)
    assert link.bandwidth_bps == pytest.approx(100e6, rel=0.15)  # not fooled by the delay
    assert link.min_rtt_s is not None and link.min_rtt_s >= 0.05
    assert link_at(10e6, 0.08).bandwidth_bps == pytest.approx(10e6, rel=0.15)


def test_a_frame_sent_to_an_idle_link_is_only_a_lower_bound() -> None:
    link = LinkEstimate()
    link.sent(1, 500_000, 0.0)
    link.acked(1, 0.5)  # a round trip and the transfer: not a rate measurement
    assert link.min_rtt_s == pytest.approx(0.5)
    assert link.bandwidth_bps == pytest.approx(8e6)  # at least 500 kB in 0.5 s
    link.sent(2, 500_000, 0.5)
    link.sent(3, 500_000, 0.5)  # queued behind 2: a real sample replaces the bound
    link.acked(2, 0.6)
    link.acked(3, 0.64)
    assert link.bandwidth_bps == pytest.approx(100e6)


def test_cumulative_acks_and_unknown_link() -> None:
    link = LinkEstimate()
    link.sent(1, 100_000, 0.0)
    link.sent(2, 100_000, 0.0)
    link.acked(2, 0.1)  # acknowledges both
    assert link.min_rtt_s == pytest.approx(0.1)
    assert lossless_still_fits(LinkEstimate(), 10**9)  # nothing known: assume fast


def test_quality_steps_down_on_a_thin_link_and_back_up_on_a_fast_one() -> None:
    thin, fast = link_at(10e6, 0.08), link_at(1e9, 0.001)
    control = QualityController(max_quality=80)
    for _ in range(10):
        control.update(500_000, thin)
    assert control.quality == MIN_QUALITY
    for _ in range(20):
        control.update(100_000, fast)
    assert control.quality == 80


def test_lossless_still_only_where_it_fits() -> None:
    assert lossless_still_fits(link_at(1e9, 0.001), 6_000_000)
    assert not lossless_still_fits(link_at(10e6, 0.08), 6_000_000)


def test_resolution_halves_once_quality_is_at_its_floor_and_comes_back() -> None:
    thin, fast = link_at(10e6, 0.08), link_at(1e9, 0.001)
    control = QualityController(max_quality=80)
    for _ in range(10):
        control.update(500_000, thin)
    assert control.quality == MIN_QUALITY and control.step == 4
    for _ in range(40):
        control.update(20_000, fast)
    assert control.step == 1 and control.quality == 80


def test_video_once_full_quality_jpeg_no_longer_fits_the_link() -> None:
    wan, lan = link_at(100e6, 0.05), link_at(1e9, 0.001)
    for link, video in ((wan, True), (lan, False)):
        quality = QualityController(max_quality=80, quality=80)
        assert not VideoChoice.video_pays(link, quality)  # nothing sent yet
        for _ in range(3):
            quality.update(430_000, link)  # 430 kB x 30 fps = 103 Mbit/s
        assert VideoChoice.video_pays(link, quality) is video
    unknown = QualityController(quality=30)
    assert not VideoChoice.video_pays(LinkEstimate(), unknown)  # unknown: JPEG


def test_video_rate_follows_the_link_down_at_once_and_up_slowly() -> None:
    assert rate_level(None) == RATE_LEVELS[-1]
    assert rate_level(10e6) == 4_000_000  # 60 % of a 10 Mbit/s link
    assert rate_level(100) == RATE_LEVELS[0]
    choice = VideoChoice()
    thin, wan = link_at(10e6, 0.08), link_at(100e6, 0.05)
    assert choice.rate(wan, now=0.0) == 32_000_000
    assert choice.rate(thin, now=1.0) == 4_000_000  # down: at once
    assert choice.rate(wan, now=2.0) == 4_000_000  # up: not yet
    assert choice.rate(wan, now=1.0 + VIDEO_RAISE_AFTER_S) == 32_000_000


def test_render_scale_follows_the_drawing_time() -> None:
    from napari_engine.server.adapt import RenderScale

    scale = RenderScale(target_s=1 / 30)
    assert scale.scale == 1.0  # nothing drawn yet
    scale.observe(0.010, 1.0)  # 10 ms at full size: fits
    assert scale.scale == 1.0
    for _ in range(4):
        scale.observe(0.080, 1.0)  # a zoom over two channels: 80 ms
    assert scale.scale == 0.5  # 20 ms at half size
    for _ in range(4):
        scale.observe(0.075, 0.5)  # a 3D volume: 300 ms at full size
    assert scale.scale == 0.25
    for _ in range(6):
        scale.observe(0.0005, 0.25)  # back to a cheap scene
    assert scale.scale == 1.0


def test_render_scale_counts_the_encoding_where_it_takes_turns_with_drawing() -> None:
    from napari_engine.server.adapt import RenderScale

    # a z-scroll on one core: 24 ms to draw and 13 ms to encode a full frame
    one_core, many = RenderScale(serial=True), RenderScale(serial=False)
    for scale in (one_core, many):
        scale.observe(0.024, 1.0)
        scale.observe_encode(0.013, 1.0)
    assert one_core.full_frame_s == pytest.approx(0.037)
    assert one_core.scale == 0.5  # 37 ms does not fit 33 ms; a quarter of it does
    assert many.full_frame_s == pytest.approx(0.024) and many.scale == 1.0  # they overlap
    many.observe_encode(0.200, 1.0)  # an encoder slower than the drawing is the limit
    assert many.full_frame_s == pytest.approx(0.1065) and many.scale == 0.5
    assert RenderScale(serial=True).full_frame_s is None  # nothing drawn yet


def test_credit_window_covers_the_round_trip_at_the_target_rate() -> None:
    from napari_engine.server.adapt import credit_window

    assert credit_window(LinkEstimate(), 4) == 2  # nothing known
    assert credit_window(link_at(1e9, 0.0005), 4) == 2  # loopback, LAN
    thin = link_at(10e6, 0.08, size=20_000)
    assert thin.min_rtt_s is not None and thin.min_rtt_s >= 0.08
    assert credit_window(thin, 8) == 4  # 80 ms at 30 frames/s, plus one
    assert credit_window(thin, 2) == 2  # never above what the client allows


def test_arrival_times_measure_the_rate_when_acks_bunch_up() -> None:
    link = LinkEstimate()
    size = 125_000  # 1 Mbit: 100 ms on a 10 Mbit/s link
    link.sent(1, size, 0.0)
    link.sent(2, size, 0.0)  # queued behind frame 1
    link.acked(1, 0.20, received=10.10, waited=0.05)
    # frame 2 arrived 100 ms after frame 1, but the client acked it only 10 ms later
    link.acked(2, 0.21, received=10.20, waited=0.08)
    assert link.bandwidth_bps == pytest.approx(10e6, rel=0.01)


def test_a_busy_client_does_not_talk_the_link_down() -> None:
    """Frames that waited for a busy client arrive 'late' by its clock: no rate sample."""
    link = LinkEstimate()
    size = 125_000
    for seq in range(1, 6):
        link.sent(seq, size, 0.0)
    link.acked(1, 0.02, received=5.00, waited=0.01)
    for seq in range(2, 6):  # each already waiting while the client decoded the last
        link.acked(seq, 0.02 + 0.05 * seq, received=5.00 + 0.05 * seq, waited=0.0)
    assert link.bandwidth_bps is None


def test_an_idle_frame_bounds_a_long_links_rate_from_below() -> None:
    wan = LinkEstimate()
    wan.sent(1, 500_000, 0.0)
    wan.acked(1, 0.09)  # 50 ms round trip + 40 ms to deliver: at least 44 Mbit/s
    assert wan.bandwidth_bps == pytest.approx(500_000 * 8 / 0.09)
    assert not lossless_still_fits(wan, 6_000_000)
    local = LinkEstimate()
    local.sent(1, 500_000, 0.0)
    local.acked(1, 0.015)  # a local link: nothing is assumed from an idle frame
    assert local.bandwidth_bps is None and lossless_still_fits(local, 6_000_000)


def test_still_quality_follows_the_link() -> None:
    from napari_engine.server.adapt import STILL_JPEG_QUALITY, still_jpeg_quality

    assert still_jpeg_quality(LinkEstimate()) == STILL_JPEG_QUALITY
    assert still_jpeg_quality(link_at(100e6, 0.05)) == STILL_JPEG_QUALITY
    assert still_jpeg_quality(link_at(10e6, 0.08)) == 85


def test_video_needs_a_measured_rate_not_the_lower_bound() -> None:
    link = LinkEstimate()
    link.sent(1, 500_000, 0.0)
    link.acked(1, 0.09)  # only an idle frame: a lower bound of 44 Mbit/s
    quality = QualityController(quality=30)
    assert link.bandwidth_bps is not None and link.measured_bps is None
    assert not VideoChoice.video_pays(link, quality)
    assert quality.update(500_000, link) == 30  # nor does the quality move on it


def test_big_frames_on_a_thin_link_get_no_more_than_two_in_flight() -> None:
    from napari_engine.server.adapt import credit_window

    thin = link_at(10e6, 0.08, size=20_000)
    assert credit_window(thin, 8) == 4
    thin.sent(99, 500_000, 100.0)  # a whole 1080p frame: 0.4 s of this link
    assert credit_window(thin, 8) == 2


def test_frames_paced_by_drawing_do_not_measure_the_link() -> None:
    """On a fast link frames arrive as far apart as they were drawn (30 ms): that is the
    renderer's pace, not the link's rate, and must not talk the quality down."""
    link = LinkEstimate()
    size = 500_000
    for seq in range(1, 10):
        link.sent(seq, size, 0.03 * seq)
        if seq > 1:  # two in flight: each acked 35 ms after it left, after the next left
            prev = 0.03 * (seq - 1)
            link.acked(seq - 1, prev + 0.035, received=1.0 + prev + 0.034, waited=0.02)
    assert link.measured_bps is None
    # the same frames spread out by a 100 Mbit/s link (40 ms each) do measure it
    link = LinkEstimate()
    for seq in range(1, 10):
        link.sent(seq, size, 0.03 * seq)
        if seq > 1:
            arrival = 0.04 * (seq - 1) + 0.03
            link.acked(seq - 1, arrival + 0.001, received=1.0 + arrival, waited=0.005)
    assert link.measured_bps == pytest.approx(100e6, rel=0.01)


def test_scheduling_noise_does_not_make_a_fast_link_look_thin() -> None:
    """A loopback link under CPU load (the flaky tiles test's cause): a 600 kB still
    crosses in 20 ms, then 85 kB moving frames leave every 50 ms; the client, starved of
    CPU, reads some of them 30 to 90 ms late (and acknowledges them as late). Those late
    reads pass the dispersion test and alone say "8 Mbit/s"; the still already proved
    far more, so a lossless still must still fit and the quality must not fall."""
    link, quality = LinkEstimate(), QualityController()
    link.sent(1, 600_000, 0.0)
    link.acked(1, 0.020, received=100.020, waited=0.5)
    late = [0.0, 0.030, 0.060, 0.090] * 3
    for i, delay in enumerate(late):
        seq, sent = i + 2, 0.1 + 0.05 * i
        link.sent(seq, 85_000, sent)
        read = sent + 0.003 + delay
        link.acked(seq, read + 0.001, received=100.0 + read, waited=0.01)
        quality.update(85_000, link)
    assert link._rates and max(link._rates) < 10e6  # the noise did reach the samples
    assert link.measured_bps is not None and link.measured_bps >= 200e6  # 600 kB in 20 ms
    assert lossless_still_fits(link, 640 * 480 * 2)
    assert quality.quality == quality.max_quality and quality.step == 1


def _idle_frame(link: LinkEstimate, seq: int, size: int, t: float, rtt: float) -> None:
    """A frame sent to an idle link and acked a round trip later."""
    link.sent(seq, size, t)
    link.acked(seq, t + rtt)


def test_the_estimate_forgets_what_is_older_than_its_window() -> None:
    link = LinkEstimate(window=4)
    _idle_frame(link, 1, 1_000_000, 0.0, 0.01)  # 800 Mbit/s demonstrated once
    assert link.floor_bps == pytest.approx(800e6)
    for i in range(2, 5):  # three more: still within the window of four
        _idle_frame(link, i, 100_000, float(i), 0.1)
    assert link.floor_bps == pytest.approx(800e6) and link.min_rtt_s == pytest.approx(0.01)
    _idle_frame(link, 5, 100_000, 5.0, 0.1)  # the fifth pushes the first out
    assert link.floor_bps == pytest.approx(8e6) and link.min_rtt_s == pytest.approx(0.1)
    small = LinkEstimate()
    _idle_frame(small, 1, MIN_SAMPLE_BYTES, 0.0, 0.001)  # too small to say anything
    assert small.floor_bps is None and small.min_rtt_s == pytest.approx(0.001)


def test_rate_samples_need_frames_spread_out_by_the_link() -> None:
    """Two frames sent 10 ms apart that arrive 50 ms apart: the link spread them (a rate
    sample); sent and arriving 10 ms apart: the sender paced them (no sample)."""
    def pair(arrival_gap: float, waited: float = 0.01) -> LinkEstimate:
        link = LinkEstimate()
        link.sent(1, 200_000, 0.0)
        link.sent(2, 200_000, 0.010)  # sent before the first ack: queued behind it
        link.acked(1, 0.030, received=100.0, waited=waited)
        link.acked(2, 0.030 + arrival_gap, received=100.0 + arrival_gap, waited=waited)
        return link

    spread = pair(0.050)
    assert spread.measured_bps is not None and spread.measured_bps >= 200_000 * 8 / 0.050
    assert pair(0.010).measured_bps is None  # as sent: the sender's pace
    assert pair(0.014).measured_bps is None  # within 1.2x the send gap + 2 ms
    assert pair(0.050, waited=0.0).measured_bps is None  # the client was busy, not waiting


def _known(rate_bps: float, rtt_s: float, last_size: int) -> LinkEstimate:
    """A link whose estimate is exactly this (the controllers' arithmetic, alone)."""
    return LinkEstimate(_rates=[rate_bps], _rtts=[rtt_s], last_size=last_size)


def test_quality_steps_exactly() -> None:
    link = _known(24e6, 0.02, 100_000)  # 24 Mbit/s at 30 fps: a budget of 100 kB a frame
    control = QualityController(max_quality=80, quality=80)
    assert control.update(100_000, link) == 80  # at the budget: keep
    assert control.update(100_001, link) == 65  # over: 15 down
    assert control.update(50_000, link) == 65  # half the budget: keep
    assert control.update(49_999, link) == 70  # under half: 5 up
    control.quality = MIN_QUALITY
    control.update(200_000, link)
    assert (control.quality, control.step) == (MIN_QUALITY, 2)  # quality at its floor
    control.update(200_000, link)
    control.update(200_000, link)
    assert control.step == MAX_STEP  # and no further
    control.update(12_000, link)  # 4 x 12 kB < half the budget: back up a step
    assert control.step == 2 and control.quality == MIN_QUALITY
    assert QualityController().update(1, LinkEstimate()) == 80  # nothing measured: keep


def test_credit_window_exactly() -> None:
    from napari_engine.server.adapt import credit_window

    link = _known(80e6, 0.1, 100_000)  # a round trip of 0.1 s at 30 fps: 3 frames + 1
    assert credit_window(link, 8) == 4
    assert credit_window(link, 3) == 3  # never past the client's own limit
    assert credit_window(link, 1) == 1
    # big frames: the link holds one of them per round trip, so two in flight
    assert credit_window(_known(80e6, 0.1, 1_000_000), 8) == 2
    assert credit_window(_known(80e6, 0.1, 500_000), 8) == 3  # two held, plus one
    assert credit_window(_known(80e6, 0.1, 0), 8) == 4  # nothing sent yet: the round trip
