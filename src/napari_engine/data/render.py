"""Render one plane of the cell population at any pyramid level, consistently across levels.

Nuclei are 3D Gaussian blobs. Membranes are a soft Voronoi tessellation of the same cells:
with ``S = sum(g_i)`` and ``Q = sum(g_i**2)`` over wide Gaussians ``g_i`` around each cell,
``1 - Q / S**2`` is ~0 where one cell dominates and rises to ~1/2 on the boundary between two
cells, in a band about ``sigma**2 / spacing`` wide -- thin bright walls between cells, like a
membrane stain, at the cost of two linear fields.

A level-L voxel stands for the mean of a 2**L cube of level-0 voxels. Averaging a Gaussian over
a box of width w is close to widening it by w**2/12 in variance with its mass unchanged, which
is what every level renders, so coarse levels look like blurred fine ones and their means agree.
Membrane walls are widened to at least about one voxel of the level, with their brightness
lowered to keep the mean.

Three regimes keep the cost per plane roughly constant while the number of cells per plane
grows 4-8x per level:

* exact (cells many voxels apart): every Gaussian separably, as one matrix product
  ``(G_y * a)^T @ G_x`` over the cells near the plane;
* splat (cells a few voxels apart): cell weights splatted bilinearly into the plane, then
  blurred with one Gaussian (matrix products again);
* mean (cells about a voxel apart or closer): the population's mean, since cells no longer show.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from numpy.typing import NDArray

from napari_engine.data.cells import CellLattice, Cells

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

EXACT_MIN_SPACING = 24.0  # cell spacing (in the level's voxels) at or above which cells are exact
SPLAT_MIN_SPACING = 4.0  # ... at or above which cells are splatted; below that, the mean
MEMBRANE_WIDTH = 2.5  # width of a membrane wall at level 0, in level-0 voxels (approximately)
_TRUNCATE = 3.0  # Gaussians are cut at this many sigmas
_MEMBRANE_TRUNCATE = 4.5
_TWO_PI_1_5 = (2.0 * np.pi) ** 1.5


class _Plane:
    """Geometry of one requested plane: level voxel size and level-0 coordinates."""

    def __init__(self, level: int, z_index: int, y_start: int, x_start: int, ny: int, nx: int):
        self.voxel = float(2**level)
        self.box_var = self.voxel * self.voxel / 12.0
        self.z = (z_index + 0.5) * self.voxel - 0.5
        self.y_start, self.x_start, self.ny, self.nx = y_start, x_start, ny, nx
        self.ys = (np.arange(y_start, y_start + ny, dtype=np.float64) + 0.5) * self.voxel - 0.5
        self.xs = (np.arange(x_start, x_start + nx, dtype=np.float64) + 0.5) * self.voxel - 0.5

    def regime(self, lattice: CellLattice) -> str:
        spacing = lattice.spacing_xy / self.voxel
        if spacing >= EXACT_MIN_SPACING:
            return "exact"
        return "splat" if spacing >= SPLAT_MIN_SPACING else "mean"

    def cells(self, lattice: CellLattice, reach_xy: float, reach_z: float) -> Cells:
        """Cells whose Gaussians (cut at ``reach`` level-0 voxels) can touch this plane."""
        return lattice.cells_in_box(
            (self.z - reach_z, self.ys[0] - reach_xy, self.xs[0] - reach_xy),
            (self.z + reach_z, self.ys[-1] + reach_xy, self.xs[-1] + reach_xy),
        )


def render_nuclei(lattice: CellLattice, level: int, z_index: int, y_start: int, x_start: int,
                  ny: int, nx: int) -> F32:
    """Nuclear signal (about 1 at the centre of a bright nucleus) of level ``level``'s plane
    ``z_index``, rows ``y_start:y_start+ny``, columns ``x_start:x_start+nx``."""
    plane = _Plane(level, z_index, y_start, x_start, ny, nx)
    regime = plane.regime(lattice)
    if regime == "mean":
        value = _TWO_PI_1_5 * lattice.z_ratio * lattice.mean_moment
        return np.full((ny, nx), value, dtype=np.float32)
    s_max = lattice.sigma_max
    cells = plane.cells(lattice, _TRUNCATE * np.sqrt(s_max**2 + plane.box_var),
                        _TRUNCATE * np.sqrt((lattice.z_ratio * s_max) ** 2 + plane.box_var))
    s = cells.sigma
    s_eff = np.sqrt(s * s + plane.box_var)
    sz = lattice.z_ratio * s
    sz_eff = np.sqrt(sz * sz + plane.box_var)
    # Peak of the box-averaged Gaussian on this plane (mass preserved).
    peak = (cells.amplitude * (s / s_eff) ** 2 * (sz / sz_eff)
            * np.exp(-((plane.z - cells.z) ** 2) / (2.0 * sz_eff * sz_eff)))
    mean_sigma = float(np.sqrt((0.5 * (lattice.sigma_min + s_max)) ** 2 + plane.box_var))
    return _gaussian_sum(plane, regime, cells, peak, s_eff, mean_sigma)


def membrane_sigma(lattice: CellLattice, voxel: float) -> float:
    """Sigma (level-0 voxels) of the wide Gaussians whose soft Voronoi gives walls about
    ``max(MEMBRANE_WIDTH, voxel)`` wide."""
    return float(np.sqrt(max(MEMBRANE_WIDTH, voxel) * lattice.spacing_xy * 0.5))


def render_membrane(lattice: CellLattice, level: int, z_index: int, y_start: int, x_start: int,
                    ny: int, nx: int) -> F32:
    """Membrane signal (about 1 on a wall between two cells) of the given plane."""
    plane = _Plane(level, z_index, y_start, x_start, ny, nx)
    regime = plane.regime(lattice)
    if regime == "mean":
        return np.full((ny, nx), membrane_mean(lattice), dtype=np.float32)
    sigma = membrane_sigma(lattice, plane.voxel)
    sigma_z = sigma * lattice.z_ratio
    # A wider cut than for nuclei: far from every cell the ratio Q / S**2 still matters, and a
    # narrower cut shows as seams between chunks.
    cut = _MEMBRANE_TRUNCATE
    cells = plane.cells(lattice, cut * sigma + 2.0 * plane.voxel, cut * sigma_z)
    weight = np.exp(-((plane.z - cells.z) ** 2) / (2.0 * sigma_z * sigma_z))
    sigmas = np.full(len(cells), sigma)
    total = _gaussian_sum(plane, regime, cells, weight, sigmas, sigma, cut)
    squares = _gaussian_sum(plane, regime, cells, weight * weight, sigmas / np.sqrt(2.0),
                            sigma / np.sqrt(2.0), cut * np.sqrt(2.0))
    # Nowhere near any cell (rare) counts as inside a cell, not on a wall.
    diversity = np.where(total > 1e-6, 1.0 - squares / np.maximum(total * total, 1e-30), 0.0)
    # Thin walls at level 0; wider but dimmer walls at coarse levels (same mean).
    dimming = MEMBRANE_WIDTH / max(MEMBRANE_WIDTH, plane.voxel)
    return (np.clip(2.0 * diversity, 0.0, 1.0) * dimming).astype(np.float32)


@cache
def membrane_mean(lattice: CellLattice) -> float:
    """Mean membrane signal per voxel, measured once on a few level-0 planes."""
    planes = [render_membrane(lattice, 0, z, 4096, 4096, 256, 256) for z in range(0, 64, 8)]
    return float(np.mean(planes))


def _gaussian_sum(plane: _Plane, regime: str, cells: Cells, peak: F64, sigma: F64,
                  mean_sigma: float, truncate: float = _TRUNCATE) -> F32:
    """``sum_i peak_i * exp(-|p - c_i|**2 / (2 sigma_i**2))`` over the plane (y/x only; the z
    factor is in ``peak``). In the splat regime every sigma is replaced by ``mean_sigma``."""
    keep = np.abs(peak) > 1e-6
    if not np.any(keep):
        return np.zeros((plane.ny, plane.nx), dtype=np.float32)
    peak, sigma = peak[keep], sigma[keep]
    if regime == "exact":
        gy = _gaussian_rows(plane.ys, cells.y[keep], sigma) * peak[:, None].astype(np.float32)
        gx = _gaussian_rows(plane.xs, cells.x[keep], sigma)
        return gy.T @ gx
    voxel = plane.voxel
    mass = peak * 2.0 * np.pi * (sigma / voxel) ** 2
    py = (cells.y[keep] + 0.5) / voxel - 0.5 - plane.y_start
    px = (cells.x[keep] + 0.5) / voxel - 0.5 - plane.x_start
    return _splat_blur(py, px, mass, mean_sigma / voxel, plane.ny, plane.nx, truncate)


def _gaussian_rows(coords: F64, centres: F64, sigmas: F64) -> F32:
    """``exp(-(coord - centre)**2 / (2 sigma**2))`` with one row per centre."""
    d = (coords[None, :] - centres[:, None]).astype(np.float32)
    inv = (-0.5 / (sigmas * sigmas)).astype(np.float32)[:, None]
    return np.exp(d * d * inv)


@lru_cache(maxsize=64)
def _blur_matrix(n: int, margin: int, sigma: float, transposed: bool = False) -> F32:
    """Rows that blur a padded axis of ``n + 2 * margin`` samples down to the ``n`` inner ones
    (or, ``transposed``, the same as contiguous columns, for right-multiplication)."""
    offsets = np.arange(n + 2 * margin)[None, :] - (np.arange(n)[:, None] + margin)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel[np.abs(offsets) > margin] = 0.0
    matrix = (kernel / (np.sqrt(2.0 * np.pi) * sigma)).astype(np.float32)
    if transposed:
        matrix = np.ascontiguousarray(matrix.T)
    matrix.setflags(write=False)
    return matrix


def _splat_blur(py: F64, px: F64, mass: F64, sigma: float, ny: int, nx: int,
                truncate: float = _TRUNCATE) -> F32:
    """Bilinearly splat ``mass`` at (py, px) (plane voxel units) and blur with ``sigma``, cut at
    ``truncate`` sigmas."""
    # Bilinear splatting itself blurs by ~1/6 voxel^2; take it out of the Gaussian.
    sigma = float(np.sqrt(max(sigma * sigma - 1.0 / 6.0, 0.2)))
    margin = int(np.ceil(truncate * sigma)) + 1
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
    bx_t = _blur_matrix(nx, margin, sigma, transposed=True)
    out: F32 = np.asarray(by @ plane @ bx_t, dtype=np.float32)
    return out
