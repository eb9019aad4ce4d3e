"""A slowly varying tissue density field: a few octaves of smooth (cubic B-spline) value noise.

Real specimens are not uniform: there are dense regions, sparse regions and empty background.
The field is evaluated per chunk plane cheaply: hashed lattice values on a small grid are
upsampled with B-spline interpolation matrices, so one plane costs two small matrix products.
Octaves much finer than a coarse level's voxel are replaced by their mean, so coarse levels look
like blurred fine levels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from napari_engine.data.hashing import hash_coords, unit_field

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# (period in level-0 voxels along y/x, amplitude). z periods are half (z voxels are twice as deep).
OCTAVES: tuple[tuple[float, float], ...] = (
    (32768.0, 0.5), (8192.0, 0.3), (2048.0, 0.2), (512.0, 0.12),
)
# B-spline interpolation of uniform lattice values shrinks their spread; this restores it.
_CONTRAST = 2.6


_STEP = 8  # the field is smooth: evaluate it every _STEP voxels and interpolate linearly


@lru_cache(maxsize=512)
def _axis_matrix(start: int, n: int, voxel: float, period: float) -> tuple[F64, int]:
    """:func:`_bspline_matrix` at every ``_STEP``-th level voxel from ``start`` (covering ``n``
    voxels); cached because neighbouring chunks share rows and columns."""
    samples = np.arange(start, start + n + _STEP, _STEP, dtype=np.float64)
    matrix, first = _bspline_matrix((samples + 0.5) * voxel - 0.5, period)
    matrix.setflags(write=False)
    return matrix, first


@lru_cache(maxsize=16)
def _upsample_matrix(n: int) -> F64:
    """Linear interpolation from samples every ``_STEP`` voxels to ``n`` voxels."""
    n_samples = (n + _STEP - 1) // _STEP + 1
    pos = np.arange(n) / _STEP
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    matrix = np.zeros((n, n_samples))
    matrix[np.arange(n), base] = 1.0 - frac
    matrix[np.arange(n), base + 1] += frac
    matrix.setflags(write=False)
    return matrix


def _bspline_matrix(coords: F64, period: float) -> tuple[F64, int]:
    """Cubic B-spline weights from lattice values to ``coords`` (level-0 units) and the first
    lattice index the columns refer to."""
    u = coords / period
    base = np.floor(u)
    t = u - base
    t2, t3 = t * t, t * t * t
    weights = np.stack(
        [(1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6],
        axis=1,
    )
    first = int(base.min()) - 1
    cols = base.astype(np.int64) - 1 - first
    n_lattice = int(cols.max()) + 4
    matrix = np.zeros((coords.size, n_lattice), dtype=np.float64)
    rows = np.arange(coords.size)
    for k in range(4):
        matrix[rows, cols + k] = weights[:, k]
    return matrix, first


def tissue_density(
    seed: int, z: float, y_start: int, ny: int, x_start: int, nx: int, voxel_size: float
) -> F32:
    """Density in [0, 1] on the plane at level-0 depth ``z``, for level voxels
    ``y_start:y_start+ny`` x ``x_start:x_start+nx``; ``voxel_size`` is the level's voxel size in
    level-0 voxels (2**level)."""
    up_y, up_x = _upsample_matrix(ny), _upsample_matrix(nx)
    total = np.full((up_y.shape[1], up_x.shape[1]), 0.5, dtype=np.float64)
    for octave, (period, amplitude) in enumerate(OCTAVES):
        # Fade octaves out as the voxel approaches their period: their mean is 0.5 anyway.
        fade = float(np.clip(2.0 - 2.0 * voxel_size / period * 4.0, 0.0, 1.0))
        if fade == 0.0:
            continue
        wy, y0 = _axis_matrix(y_start, ny, voxel_size, period)
        wx, x0 = _axis_matrix(x_start, nx, voxel_size, period)
        wz, z0 = _bspline_matrix(np.array([z], dtype=np.float64), period / 2)
        kz = np.arange(wz.shape[1])[:, None, None] + z0
        ky = np.arange(wy.shape[1])[None, :, None] + y0
        kx = np.arange(wx.shape[1])[None, None, :] + x0
        lattice = unit_field(hash_coords(seed * 131 + octave, kz, ky, kx), 0, 16).astype(np.float64)
        plane = np.tensordot(wz[0], lattice - 0.5, axes=1)
        total += (fade * amplitude * _CONTRAST) * (wy @ plane @ wx.T)
    return np.clip(up_y @ total @ up_x.T, 0.0, 1.0).astype(np.float32)
