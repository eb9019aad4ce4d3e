"""Cells on a jittered 3D lattice: where they are, how big and how bright (all hashed).

Each lattice site holds at most one cell; its position jitter, presence, radius and brightness
come from one 64-bit hash of the site, so any box of space can be populated independently and
identically every time. Coordinates and sizes are in level-0 voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from napari_engine.data.hashing import hash_coords, unit_field

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class CellLattice:
    """Statistics of the cell population (level-0 voxels; z voxels are twice as deep as xy)."""

    seed: int = 7
    spacing_xy: float = 32.0
    spacing_z: float = 16.0
    jitter: float = 0.35  # fraction of the spacing, either way
    presence: float = 0.85  # fraction of lattice sites holding a cell
    sigma_min: float = 5.0  # Gaussian sigma of a nucleus in y/x
    sigma_max: float = 8.0
    z_ratio: float = 0.6  # sigma_z / sigma_xy (anisotropic voxels make cells look round)

    def cells_in_box(self, lo: tuple[float, float, float], hi: tuple[float, float, float]) -> Cells:
        """All cells whose centres lie in the box ``[lo, hi]`` (z, y, x)."""
        spacing = (self.spacing_z, self.spacing_xy, self.spacing_xy)
        axes = []
        for a, b, s in zip(lo, hi, spacing, strict=True):
            first = int(np.floor(a / s - 0.5 - self.jitter))
            last = int(np.ceil(b / s - 0.5 + self.jitter))
            axes.append(np.arange(first, last + 1, dtype=np.int64))
        kz, ky, kx = np.meshgrid(*axes, indexing="ij")
        kz, ky, kx = kz.ravel(), ky.ravel(), kx.ravel()
        h = hash_coords(self.seed, kz, ky, kx)
        jit = 2.0 * self.jitter
        z = (kz + 0.5 + (unit_field(h, 0) - 0.5) * jit) * self.spacing_z
        y = (ky + 0.5 + (unit_field(h, 1) - 0.5) * jit) * self.spacing_xy
        x = (kx + 0.5 + (unit_field(h, 2) - 0.5) * jit) * self.spacing_xy
        keep = (
            (unit_field(h, 3) < self.presence)
            & (z >= lo[0]) & (z <= hi[0])
            & (y >= lo[1]) & (y <= hi[1])
            & (x >= lo[2]) & (x <= hi[2])
        )
        h = h[keep]
        spread = self.sigma_max - self.sigma_min
        sigma = self.sigma_min + spread * unit_field(h, 4).astype(np.float64)
        amplitude = 0.45 + 0.55 * unit_field(h, 5).astype(np.float64)
        return Cells(z=z[keep].astype(np.float64), y=y[keep].astype(np.float64),
                     x=x[keep].astype(np.float64), sigma=sigma, amplitude=amplitude)

    @cached_property
    def mean_moment(self) -> float:
        """Mean of ``amplitude * sigma**3`` per level-0 voxel over the population, for the
        mean-density rendering of coarse levels (estimated from a fixed block of sites)."""
        n = 24
        hi = (n * self.spacing_z, n * self.spacing_xy, n * self.spacing_xy)
        cells = self.cells_in_box((0.0, 0.0, 0.0), hi)
        return float(np.sum(cells.amplitude * cells.sigma**3)) / (hi[0] * hi[1] * hi[2])


@dataclass(frozen=True)
class Cells:
    """A population of cells as parallel arrays (level-0 voxel units)."""

    z: F64
    y: F64
    x: F64
    sigma: F64
    amplitude: F64

    def __len__(self) -> int:
        return int(self.z.size)
