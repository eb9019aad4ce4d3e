"""Frame encoders: lossless ones are exact, JPEG is close, bad input is refused."""

from __future__ import annotations

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
