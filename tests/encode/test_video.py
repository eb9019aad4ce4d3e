"""H.264 frames: delta coding between frames, decoded in order by the client."""

from __future__ import annotations

import numpy as np
import pytest

from napari_engine.encode.video import VideoDecoder, VideoEncoder


def _scene(shift: int, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    """Smooth blobs moved by ``shift`` pixels (a pan over cell-like content)."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    xx = xx + shift
    img = np.zeros((*shape, 4), np.uint8)
    img[..., 0] = (127 + 120 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.uint8)
    img[..., 1] = (127 + 120 * np.cos(xx / 17.0 + yy / 11.0)).astype(np.uint8)
    img[..., 2] = 40
    img[..., 3] = 255
    return img


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    err = np.mean((a[..., :3].astype(np.float64) - b[..., :3]) ** 2)
    return float(10 * np.log10(255**2 / max(err, 1e-9)))


def test_a_pan_codes_as_small_deltas_and_decodes_in_order() -> None:
    enc, dec = VideoEncoder(), VideoDecoder()
    sizes, keys = [], []
    for i in range(8):
        frame = _scene(3 * i)
        data, key = enc.encode(frame, 8_000_000)
        sizes.append(len(data))
        keys.append(key)
        out = dec.decode(data, 320, 240)
        assert out.shape == (240, 320, 4)
        assert _psnr(out, frame) > 30  # no frame of delay: this is this frame
    assert keys[0] and not any(keys[1:])
    assert max(sizes[1:]) < sizes[0] / 3


def test_odd_sizes_and_rate_changes_start_a_new_stream() -> None:
    enc, dec = VideoEncoder(), VideoDecoder()
    frame = _scene(0, (101, 157))
    data, key = enc.encode(frame, 4_000_000)
    assert key and dec.decode(data, 157, 101).shape == (101, 157, 4)
    _data, key = enc.encode(_scene(2, (101, 157)), 4_000_000)
    assert not key
    data, key = enc.encode(_scene(4, (101, 157)), 2_000_000)  # a new rate cap
    assert key
    assert _psnr(dec.decode(data, 157, 101), _scene(4, (101, 157))) > 28


def test_a_decoder_without_the_keyframe_says_so() -> None:
    enc = VideoEncoder()
    enc.encode(_scene(0), 8_000_000)
    delta, _ = enc.encode(_scene(5), 8_000_000)
    with pytest.raises(ValueError):
        VideoDecoder().decode(delta, 320, 240)


def test_the_rate_cap_reaches_the_encoder() -> None:
    from napari_engine.encode.video import _options

    x264 = _options("libx264", 4_000_000)
    assert x264["preset"] == "ultrafast" and x264["tune"] == "zerolatency"
    assert x264["x264-params"] == "vbv-maxrate=4000:vbv-bufsize=1000"  # a quarter second
    nvenc = _options("h264_nvenc", 4_000_000)
    assert nvenc["maxrate"] == "4000000" and nvenc["bufsize"] == "1000000"
    assert nvenc["zerolatency"] == "1"


def test_a_thin_cap_makes_smaller_frames() -> None:
    rng = np.random.default_rng(0)
    noisy = [np.clip(_scene(0).astype(int) + rng.integers(-40, 40, (240, 320, 4)), 0, 255)
             .astype(np.uint8) for _ in range(6)]  # every frame new detail: rate-bound

    def sizes(rate: int) -> int:
        encoder = VideoEncoder()
        return sum(len(encoder.encode(frame, rate)[0]) for frame in noisy)

    assert sizes(1_000_000) < sizes(64_000_000) / 2


def test_the_decoder_uses_a_hardware_device_only_where_one_opens(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Here (no GPU) every hardware device FFmpeg was built with fails to open or opens
    on no device, and the frames are decoded on the CPU, equal to a software decoder's."""
    enc = VideoEncoder()
    frames = [_scene(4 * i) for i in range(3)]
    units = [enc.encode(f, 4_000_000)[0] for f in frames]
    dec = VideoDecoder()
    monkeypatch.setenv("NAPARI_ENGINE_VIDEO_DECODER", "software")
    plain = VideoDecoder()
    assert plain.device == "software"
    first = VideoDecoder().decode(units[0], 320, 240)
    for unit in units:
        np.testing.assert_array_equal(dec.decode(unit, 320, 240), plain.decode(unit, 320, 240))
    if dec.device != "software":  # a machine with a decoder: it is really used
        assert dec._ctx.is_hwaccel
    # a device asked for by name that does not open here falls back to the CPU
    from av.codec.hwaccel import hwdevices_available
    for device in set(hwdevices_available()) & {"cuda", "vaapi", "qsv"}:
        monkeypatch.setenv("NAPARI_ENGINE_VIDEO_DECODER", device)
        asked = VideoDecoder()
        assert asked.device in (device, "software")
        np.testing.assert_array_equal(asked.decode(units[0], 320, 240), first)
