"""Deterministic integer hashing of lattice coordinates (splitmix64).

The procedural sample must give the same voxel values whatever order regions are read in and
whether or not they were cached, so randomness comes from hashing coordinates, never from a
stateful random generator.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

U64 = NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


def splitmix64(x: U64) -> U64:
    """The splitmix64 finalizer: a fast, well-mixed bijection on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        return z ^ (z >> _S31)


def hash_coords(seed: int, *coords: NDArray[np.integer]) -> U64:
    """One well-mixed uint64 per (broadcast) coordinate tuple; negative coordinates are fine."""
    h = splitmix64(np.asarray([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    for c in coords:
        h = splitmix64(h ^ np.asarray(c).astype(np.int64).astype(np.uint64))
    return h


def unit_field(h: U64, field: int, bits: int = 10) -> NDArray[np.float32]:
    """Bits ``[field*bits, (field+1)*bits)`` of ``h`` as floats in [0, 1): several per hash."""
    mask = np.uint64((1 << bits) - 1)
    raw = (h >> np.uint64(field * bits)) & mask
    return ((raw.astype(np.float32) + np.float32(0.5)) / np.float32(1 << bits)).astype(np.float32)
