"""Render one plane of a cell population at any pyramid level, consistently across levels.

Each cell contributes a sum of 3D Gaussians ("terms": one positive blob for a nucleus; a
positive minus a narrower negative blob, i.e. a shell, for a membrane). A level-L voxel is the
mean of a 2**L cube of level-0 voxels; averaging a Gaussian over a box of width w is close to
widening it by w**2/12 in variance with the mass unchanged, which is what every level renders.
So coarse levels look like blurred fine ones and their means agree.

Three regimes keep the cost per 256x256 plane roughly constant while the number of cells per
plane grows 4-8x per level:

* exact (cells many voxels apart): every Gaussian separably, as one matrix product
  ``(G_y * a)^T @ G_x`` over the cells near the plane;
* splat (cells a few voxels apart): cell masses splatted bilinearly into the plane, then blurred
  with one Gaussian per term (matrix products again);
* mean (cells sub-voxel): the population's mean density, since single cells no longer show.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from napari_engine.data.cells import CellLattice

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

EXACT_MIN_SPACING = 24.0  # cell spacing (in the level's voxels) at or above which cells are exact
SPLAT_MIN_SPACING = 4.0  # ... at or above which cells are splatted; below that, mean density
_TRUNCATE = 3.0  # Gaussians are cut at this many sigmas
_TWO_PI_1_5 = (2.0 * np.pi) ** 1.5


@dataclass(frozen=True)
class Term:
    """One Gaussian per cell: sigma is ``sigma_factor`` times the cell's nucleus sigma."""

    sigma_factor: float
    weight: float


NUCLEUS: tuple[Term, ...] = (Term(1.0, 1.0),)
# Equal-peak difference of Gaussians: zero at the centre, a shell at ~2.2 sigma, peak 1.
MEMBRANE: tuple[Term, ...] = (Term(1.8, 1.0 / 0.18298), Term(1.4, -1.0 / 0.18298))


def _grid(start: int, n: int, voxel: float) -> F64:
    """Level-0 coordinates of the centres of level voxels ``start .. start + n - 1``."""
    return (np.arange(start, start + n, dtype=np.float64) + 0.5) * voxel - 0.5


def render_plane(
    lattice: CellLattice,
    terms: tuple[Term, ...],
    level: int,
    z_index: int,
    y_start: int,
    x_start: int,
    ny: int,
    nx: int,
) -> F32:
    """Cell signal (peak about 1 for a bright cell) of level ``level``'s plane ``z_index``,
    rows ``y_start:y_start+ny``, columns ``x_start:x_start+nx``."""
    voxel = float(2**level)
    spacing = lattice.spacing_xy / voxel
    if spacing < SPLAT_MIN_SPACING:
        return np.full((ny, nx), _mean_value(lattice, terms), dtype=np.float32)
    z0 = (z_index + 0.5) * voxel - 0.5
    ys, xs = _grid(y_start, ny, voxel), _grid(x_start, nx, voxel)
    box_var = voxel * voxel / 12.0
    f_max = max(t.sigma_factor for t in terms)
    margin_xy = _TRUNCATE * np.sqrt((f_max * lattice.sigma_max) ** 2 + box_var)
    margin_z = _TRUNCATE * np.sqrt((f_max * lattice.z_ratio * lattice.sigma_max) ** 2 + box_var)
    cells = lattice.cells_in_box(
        (z0 - margin_z, ys[0] - margin_xy, xs[0] - margin_xy),
        (z0 + margin_z, ys[-1] + margin_xy, xs[-1] + margin_xy),
    )
    out = np.zeros((ny, nx), dtype=np.float32)
    if len(cells) == 0:
        return out
    rows_y: list[F32] = []
    rows_x: list[F32] = []
    for term in terms:
        s = term.sigma_factor * cells.sigma
        sz = s * lattice.z_ratio
        s_eff = np.sqrt(s * s + box_var)
        sz_eff = np.sqrt(sz * sz + box_var)
        # Peak of the box-averaged Gaussian on this plane (mass preserved).
        peak = (term.weight * cells.amplitude * (s / s_eff) ** 2 * (sz / sz_eff)
                * np.exp(-((z0 - cells.z) ** 2) / (2.0 * sz_eff * sz_eff)))
        keep = np.abs(peak) > 1e-3 * abs(term.weight)
        if not np.any(keep):
            continue
        if spacing >= EXACT_MIN_SPACING:
            rows_y.append(_gaussian_rows(ys, cells.y[keep], s_eff[keep]) * peak[keep, None].astype(np.float32))
            rows_x.append(_gaussian_rows(xs, cells.x[keep], s_eff[keep]))
        else:
            mass = peak[keep] * 2.0 * np.pi * (s_eff[keep] / voxel) ** 2
            mean_sigma = term.sigma_factor * 0.5 * (lattice.sigma_min + lattice.sigma_max)
            blur = float(np.sqrt(mean_sigma**2 + box_var) / voxel)
            py = (cells.y[keep] + 0.5) / voxel - 0.5 - y_start
            px = (cells.x[keep] + 0.5) / voxel - 0.5 - x_start
            out += _splat_blur(py, px, mass, blur, ny, nx)
    if rows_y:
        out += np.concatenate(rows_y).T @ np.concatenate(rows_x)
    return out


def _gaussian_rows(coords: F64, centres: F64, sigmas: F64) -> F32:
    """``exp(-(coord - centre)**2 / (2 sigma**2))`` with one row per centre."""
    d = (coords[None, :] - centres[:, None]).astype(np.float32)
    inv = (-0.5 / (sigmas * sigmas)).astype(np.float32)[:, None]
    return np.exp(d * d * inv)


@lru_cache(maxsize=64)
def _blur_matrix(n: int, margin: int, sigma: float) -> F32:
    """Rows that blur a padded axis of ``n + 2 * margin`` samples down to the ``n`` inner ones."""
    offsets = np.arange(n + 2 * margin)[None, :] - (np.arange(n)[:, None] + margin)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel[np.abs(offsets) > margin] = 0.0
    matrix = (kernel / (np.sqrt(2.0 * np.pi) * sigma)).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def _splat_blur(py: F64, px: F64, mass: F64, sigma: float, ny: int, nx: int) -> F32:
    """Bilinearly splat ``mass`` at (py, px) (plane voxel units) and blur with ``sigma``."""
    # Bilinear splatting itself blurs by ~1/6 voxel^2; take it out of the Gaussian.
    sigma = float(np.sqrt(max(sigma * sigma - 1.0 / 6.0, 0.2)))
    margin = int(np.ceil(_TRUNCATE * sigma)) + 1
    height, width = ny + 2 * margin, nx + 2 * margin
    fy, fx = np.floor(py), np.floor(px)
    ty, tx = py - fy, px - fx
    iy, ix = fy.astype(np.int64) + margin, fx.astype(np.int64) + margin
    inside = (iy >= 0) & (iy < height - 1) & (ix >= 0) & (ix < width - 1)
    iy, ix, ty, tx, mass = iy[inside], ix[inside], ty[inside], tx[inside], mass[inside]
    flat = iy * width + ix
    index = np.concatenate([flat, flat + 1, flat + width, flat + width + 1])
    weights = np.concatenate([mass * (1 - ty) * (1 - tx), mass * (1 - ty) * tx,
                              mass * ty * (1 - tx), mass * ty * tx])
    grid = np.bincount(index, weights, minlength=height * width)
    plane = grid.reshape(height, width).astype(np.float32)
    by = _blur_matrix(ny, margin, sigma)
    bx = by if nx == ny else _blur_matrix(nx, margin, sigma)
    return by @ plane @ bx.T


def _mean_value(lattice: CellLattice, terms: tuple[Term, ...]) -> float:
    """Mean signal per voxel of the population: what sub-voxel cells average to."""
    moment = lattice.mean_moment
    return float(
        sum(t.weight * _TWO_PI_1_5 * t.sigma_factor**3 * lattice.z_ratio for t in terms) * moment
    )
