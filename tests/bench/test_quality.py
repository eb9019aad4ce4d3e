"""PSNR and SSIM behave as the definitions say."""

from __future__ import annotations

import numpy as np

from napari_engine.bench.quality import psnr, ssim


def _img(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((64, 80, 4), np.uint8)
    img[..., :3] = rng.integers(0, 255, (64, 80, 3))
    img[..., 3] = 255
    return img


def test_identical_frames() -> None:
    a = _img()
    assert psnr(a, a) == float("inf")
    assert ssim(a, a) == 1.0


def test_known_error_and_ordering() -> None:
    a = _img()
    b = a.copy()
    b[..., :3] = np.clip(a[..., :3].astype(int) + 10, 0, 255).astype(np.uint8)
    # a uniform error of (nearly) 10 levels: 10*log10(255^2/100) = 28.1 dB
    assert 27.5 < psnr(b, a) < 28.5
    noisy = np.clip(a.astype(int) + np.random.default_rng(1).normal(0, 40, a.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    assert ssim(noisy, a) < ssim(b, a) <= 1.0
    assert psnr(noisy, a) < psnr(b, a)
