"""Picture quality of a streamed frame against the lossless frame of the same render.

PSNR over RGB, and SSIM on luma with the usual 7x7 uniform window and constants of
Wang et al. (2004), as scikit-image computes it by default; both need only numpy and
scipy, which napari already brings.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter


def psnr(shown: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over the RGB channels (inf when identical)."""
    err = np.mean((shown[..., :3].astype(np.float64) - truth[..., :3]) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def _luma(img: np.ndarray) -> np.ndarray:
    rgb = img[..., :3].astype(np.float64)
    return np.asarray(rgb @ np.array([0.299, 0.587, 0.114]))


def ssim(shown: np.ndarray, truth: np.ndarray, window: int = 7) -> float:
    """Mean structural similarity of the luma planes (1.0 when identical)."""
    x, y = _luma(shown), _luma(truth)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = window * window
    cov_norm = n / (n - 1)  # sample covariance, as scikit-image
    mx, my = uniform_filter(x, window), uniform_filter(y, window)
    vx = cov_norm * (uniform_filter(x * x, window) - mx * mx)
    vy = cov_norm * (uniform_filter(y * y, window) - my * my)
    vxy = cov_norm * (uniform_filter(x * y, window) - mx * my)
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    pad = (window - 1) // 2  # leave out the border, where the window runs off the image
    return float(s[pad:-pad, pad:-pad].mean())
