"""The stream policy, without GL or sockets: which encoding each client's next frame
takes, and when the scene has rested."""

from __future__ import annotations

import pytest

from napari_engine.protocol import StreamMode
from napari_engine.server.adapt import LinkEstimate, QualityController, RenderScale
from napari_engine.server.policy import (
    ClientStream,
    Codec,
    FrameEncoding,
    choose,
    is_still,
    moving_scale,
    observe_sent,
    screenshot_encoding,
)
from tests.server.links import link_at

PIXELS = 640 * 480


def _stream(mode: StreamMode, link: LinkEstimate | None = None,
            quality: int = 80) -> ClientStream:
    stream = ClientStream.for_client(mode, quality)
    if link is not None:
        stream.link = link
    return stream


def _choose(stream: ClientStream, still: bool) -> FrameEncoding:
    return choose(stream, still=still, now=0.0, canvas_pixels=PIXELS)


def test_unknown_fast_link_tiles_while_moving_lossless_tiles_at_rest() -> None:
    for mode in (StreamMode.AUTO, StreamMode.TILES):
        stream = _stream(mode)
        assert _choose(stream, False) == FrameEncoding(Codec.TILES, 80)
        still = _choose(stream, True)
        assert still == FrameEncoding(Codec.TILES, None) and still.lossless


def test_a_thin_link_gets_a_visually_lossless_jpeg_still() -> None:
    thin = link_at(10e6, rtt_s=0.08)
    still = _choose(_stream(StreamMode.TILES, thin), True)
    assert still.codec is Codec.TILES and not still.lossless
    assert still.quality == 85  # below 20 Mbit/s
    medium = _stream(StreamMode.TILES, link_at(30e6))
    medium.last_lossless_bytes = 4_000_000  # 1.1 s at 30 Mbit/s: too long for a still
    assert _choose(medium, True).quality == 90
    assert _choose(_stream(StreamMode.VIDEO, thin), True) == FrameEncoding(Codec.JPEG, 85)


def test_auto_takes_video_once_the_quality_had_to_fall() -> None:
    stream = _stream(StreamMode.AUTO, link_at(10e6))
    stream.quality = QualityController(max_quality=80, quality=50)
    moving = _choose(stream, False)
    assert moving.codec is Codec.H264 and moving.rate_bps == 4_000_000  # 60 % of 10 Mbit/s
    assert _choose(stream, True).codec is Codec.TILES  # the still is never video


def test_auto_at_reduced_resolution_sends_whole_frames() -> None:
    stream = _stream(StreamMode.AUTO)
    stream.quality = QualityController(max_quality=80, quality=30, step=2)
    assert _choose(stream, False) == FrameEncoding(Codec.JPEG, 30, step=2)
    stream.mode = StreamMode.TILES  # tiles never go below full resolution
    assert _choose(stream, False) == FrameEncoding(Codec.TILES, 30)


@pytest.mark.parametrize("mode, still, expected", [
    (StreamMode.JPEG, False, FrameEncoding(Codec.JPEG, 60)),
    (StreamMode.JPEG, True, FrameEncoding(Codec.JPEG, 60)),
    (StreamMode.LOSSLESS, False, FrameEncoding(Codec.ZSTD)),
    (StreamMode.VIDEO, False, FrameEncoding(Codec.H264, rate_bps=64_000_000)),
    (StreamMode.VIDEO, True, FrameEncoding(Codec.ZSTD)),
])
def test_fixed_modes(mode: StreamMode, still: bool, expected: FrameEncoding) -> None:
    assert _choose(_stream(mode, quality=60), still) == expected


def test_lossless_encodings() -> None:
    assert FrameEncoding(Codec.ZSTD).lossless and FrameEncoding(Codec.PNG).lossless
    assert not FrameEncoding(Codec.JPEG, 95).lossless
    assert not FrameEncoding(Codec.H264, rate_bps=1).lossless
    assert FrameEncoding(Codec.TILES).lossless and not FrameEncoding(Codec.TILES, 80).lossless
    assert screenshot_encoding("png") == FrameEncoding(Codec.PNG)
    with pytest.raises(ValueError):
        screenshot_encoding("jpeg")


def test_a_lossless_still_guess_follows_the_last_one_sent() -> None:
    stream = _stream(StreamMode.VIDEO, link_at(50e6))
    assert _choose(stream, True).codec is Codec.ZSTD  # 2 bytes a pixel: 0.6 MB in 0.1 s
    observe_sent(stream, FrameEncoding(Codec.ZSTD), still=True, size=4_000_000)
    assert stream.last_lossless_bytes == 4_000_000
    assert _choose(stream, True).codec is Codec.JPEG  # 4 MB would hold the link 0.64 s


def test_moving_frames_steer_the_quality_stills_do_not() -> None:
    stream = _stream(StreamMode.TILES, link_at(10e6))
    observe_sent(stream, FrameEncoding(Codec.TILES, 95), still=True, size=3_000_000)
    assert stream.quality.quality == 80
    observe_sent(stream, FrameEncoding(Codec.TILES, 80), still=False, size=3_000_000)
    assert stream.quality.quality < 80


def test_the_scene_rests_after_the_still_delay_with_nothing_to_draw() -> None:
    assert is_still(render_dirty=False, since_last_render=0.3, still_delay=0.3)
    assert not is_still(render_dirty=False, since_last_render=0.29, still_delay=0.3)
    assert not is_still(render_dirty=True, since_last_render=9.0, still_delay=0.3)


def test_moving_frames_follow_the_drawing_time_unless_told_otherwise() -> None:
    slow = RenderScale()
    slow.observe(0.2, 1.0)  # a full draw takes 200 ms: a quarter of the pixels fits 33 ms
    busy = {"render_scale": slow, "pan": False, "since_last_render": 0.01}
    assert moving_scale(None, **busy) == 0.25  # the default, --interactive-scale auto
    assert moving_scale(1.0, **busy) == 1.0 and moving_scale(0.5, **busy) == 0.5
    assert moving_scale(None, **{**busy, "pan": True}) == 1.0  # drawn as strips: cheap
    assert moving_scale(None, **{**busy, "since_last_render": 1.0}) == 1.0  # after a rest
    assert moving_scale(None, **{**busy, "render_scale": RenderScale()}) == 1.0  # unknown


def test_the_command_line_defaults_are_the_documented_ones() -> None:
    from napari_engine.server.cli import build_parser

    args = build_parser().parse_args([])
    assert args.interactive_scale is None  # auto
    assert args.still_delay == 0.3 and args.pan_redraw == "strips"
    assert build_parser().parse_args(["--interactive-scale", "auto"]).interactive_scale is None
