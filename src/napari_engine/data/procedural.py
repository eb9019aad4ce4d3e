"""The procedural fluorescence volume: cells, tissue density, background and camera noise.

This module turns the geometric pieces (:mod:`cells`, :mod:`tissue`, :mod:`render`) into
uint16 chunks that look like a two-channel confocal volume. Everything is a pure function of
(channel, level, chunk index), so chunks can be computed in any order, on any thread, and
recomputed after cache eviction with identical results.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray

from napari_engine.data.cells import CellLattice
from napari_engine.data.hashing import hash_coords, unit_field
from napari_engine.data.render import render_membrane, render_nuclei
from napari_engine.data.tissue import tissue_density

F32 = NDArray[np.float32]
_NOISE_TILE = 512


@dataclass(frozen=True)
class Channel:
    """How one fluorescence channel looks."""

    name: str
    render: Callable[[CellLattice, int, int, int, int, int, int], F32]  # -> signal, peak ~1
    gain: float  # counts at the peak of a bright cell
    autofluorescence: float  # counts added in proportion to tissue density
    background: float  # dark offset in counts
    colormap: str


CHANNELS: tuple[Channel, ...] = (
    Channel("nuclei", render_nuclei, gain=3400.0, autofluorescence=120.0, background=100.0,
            colormap="green"),
    Channel("membrane", render_membrane, gain=1800.0, autofluorescence=220.0, background=110.0,
            colormap="magenta"),
)


@dataclass(frozen=True)
class ProceduralVolume:
    """A deterministic, infinite-detail-looking (Z, Y, X) volume; level L is 2**L coarser."""

    shape: tuple[int, int, int] = (2**14, 2**17, 2**17)
    chunk_yx: int = 256
    seed: int = 2024
    lattice: CellLattice = field(default_factory=CellLattice)
    read_noise: float = 6.0  # counts
    photons_per_count: float = 0.35  # shot noise: variance = counts / photons_per_count

    def level_shape(self, level: int) -> tuple[int, int, int]:
        """Shape of pyramid level ``level`` (each axis halved per level, at least 1)."""
        z, y, x = self.shape
        return (max(z >> level, 1), max(y >> level, 1), max(x >> level, 1))

    def n_levels(self, max_coarsest_side: int = 256) -> int:
        """Number of levels so that the coarsest level's largest side is <= max_coarsest_side."""
        level = 0
        while max(self.level_shape(level)) > max_coarsest_side:
            level += 1
        return level + 1

    def chunk(self, channel: Channel, level: int, z: int, y_start: int, x_start: int,
              ny: int, nx: int) -> NDArray[np.uint16]:
        """One (1, ny, nx) uint16 chunk of ``channel`` at ``level``."""
        voxel = float(2**level)
        cells = channel.render(self.lattice, level, z, y_start, x_start, ny, nx)
        z0 = (z + 0.5) * voxel - 0.5
        density = tissue_density(self.seed, z0, y_start, ny, x_start, nx, voxel)
        # Cells live where the tissue is dense enough; the rest is empty mounting medium.
        t = np.clip((density - 0.38) / 0.25, 0.0, 1.0)
        occupancy = t * t * (3.0 - 2.0 * t)
        signal = (channel.gain * occupancy) * np.maximum(cells, 0.0)
        signal += channel.autofluorescence * density + channel.background
        # Shot + read noise; a coarse voxel averages 8**level voxels, so its noise is smaller.
        variance = signal * (1.0 / (self.photons_per_count * 8.0**level)) + self.read_noise**2
        key = (zlib.crc32(channel.name.encode()), level, z, y_start, x_start)
        signal += np.sqrt(variance) * _noise_window(self.seed, key, ny, nx)
        out = np.clip(signal, 0.0, 65535.0) + 0.5
        return out.astype(np.uint16)[None]


def _noise_window(seed: int, key: tuple[int, ...], ny: int, nx: int) -> F32:
    """A deterministic (ny, nx) window of standard-normal-ish noise for ``key``.

    Hashing every voxel costs more than the rest of a chunk; instead a fixed tile of hashed
    noise is cut at a per-chunk hashed offset (and transposed or flipped), which is
    indistinguishable from fresh white noise to the eye.
    """
    tile = _noise_tile(seed)
    h = int(hash_coords(seed, *[np.array([k]) for k in key])[0])
    oy = h % (_NOISE_TILE - ny + 1) if ny <= _NOISE_TILE else 0
    ox = (h >> 20) % (_NOISE_TILE - nx + 1) if nx <= _NOISE_TILE else 0
    window = tile[oy : oy + ny, ox : ox + nx]
    if (h >> 40) & 1:
        window = window[::-1]
    if (h >> 41) & 1:
        window = window[:, ::-1]
    return window


@cache
def _noise_tile(seed: int) -> F32:
    """Approximately standard-normal noise (sum of four uniforms), hashed once per seed."""
    iy, ix = np.meshgrid(np.arange(_NOISE_TILE), np.arange(_NOISE_TILE), indexing="ij")
    h = hash_coords(seed ^ 0x5EED, iy, ix)
    total = sum(unit_field(h, k, 16) for k in range(4))
    return np.asarray((total - 2.0) * np.float32(np.sqrt(3.0)), dtype=np.float32)
