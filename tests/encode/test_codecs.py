"""Frame encoders: lossless ones are exact, JPEG is close, bad input is refused."""

from __future__ import annotations

import imagecodecs
import numpy as np
import pytest

from napari_engine.encode import Encoding, decode_frame, encode_frame


@pytest.fixture
def frame() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = np.zeros((120, 160, 4), np.uint8)
    img[..., 3] = 255
    yy, xx = np.mgrid[0:120, 0:160]
    img[..., 0] = (xx * 1.5).astype(np.uint8)
    img[..., 1] = (yy * 2).astype(np.uint8)
    img[40:80, 50:110, 2] = rng.integers(0, 255, (40, 60), dtype=np.uint8)
    return img


@pytest.mark.parametrize("encoding", [Encoding.ZSTD, Encoding.PNG])
def test_lossless_round_trip_is_exact(frame: np.ndarray, encoding: Encoding) -> None:
    data = encode_frame(frame, encoding)
    assert encoding.lossless
    np.testing.assert_array_equal(decode_frame(data, encoding, 160, 120), frame)


def test_jpeg_is_close_and_small(frame: np.ndarray) -> None:
    data = encode_frame(frame, Encoding.JPEG, quality=90)
    out = decode_frame(data, Encoding.JPEG, 160, 120)
    smooth = (slice(0, 30), slice(0, 160))  # away from the noise block
    err = np.abs(out[smooth][..., :3].astype(int) - frame[smooth][..., :3].astype(int))
    assert err.mean() < 3
    assert len(data) < frame.nbytes / 4


def test_non_contiguous_input_is_accepted(frame: np.ndarray) -> None:
    flipped = frame[::-1]
    out = decode_frame(encode_frame(flipped, Encoding.ZSTD), Encoding.ZSTD, 160, 120)
    np.testing.assert_array_equal(out, flipped)


def test_wrong_frames_are_refused(frame: np.ndarray) -> None:
    with pytest.raises(ValueError):
        encode_frame(frame[..., :3], Encoding.JPEG)
    with pytest.raises(ValueError):
        encode_frame(frame.astype(np.float32), Encoding.ZSTD)
    with pytest.raises(ValueError):
        decode_frame(encode_frame(frame, Encoding.ZSTD), Encoding.ZSTD, 10, 10)


def test_jpeg_keeps_full_colour_resolution_from_quality_90(frame: np.ndarray) -> None:
    """Visually lossless stills (quality 90 and up) are 4:4:4; moving frames are 4:2:0
    (a quarter of the colour samples): an alternating red/green line pattern survives
    only the former."""
    stripes = np.zeros((64, 64, 4), np.uint8)
    stripes[..., 3] = 255
    stripes[:, 0::2, 0] = 255
    stripes[:, 1::2, 1] = 255

    def colour_error(quality: int) -> float:
        out = decode_frame(encode_frame(stripes, Encoding.JPEG, quality=quality),
                           Encoding.JPEG, 64, 64)
        return float(np.abs(out[..., :2].astype(int) - stripes[..., :2]).mean())

    assert colour_error(90) < 20 < colour_error(89)


def test_every_decoded_frame_is_rgba_at_the_size_said(frame: np.ndarray) -> None:
    for encoding in Encoding:
        out = decode_frame(encode_frame(frame, encoding), encoding, 160, 120)
        assert out.shape == (120, 160, 4) and out.dtype == np.uint8
        assert (out[..., 3] == 255).all()  # opaque, whatever the codec carried
    rgb_png = imagecodecs.png_encode(np.ascontiguousarray(frame[..., :3]))
    np.testing.assert_array_equal(decode_frame(rgb_png, Encoding.PNG, 160, 120)[..., :3],
                                  frame[..., :3])
    with pytest.raises(ValueError, match=r"expected 120000"):  # 100 x 300 x 4
        decode_frame(encode_frame(frame, Encoding.ZSTD), Encoding.ZSTD, 300, 100)
    with pytest.raises(ValueError, match="expected"):
        decode_frame(encode_frame(frame, Encoding.JPEG), Encoding.JPEG, 161, 120)
