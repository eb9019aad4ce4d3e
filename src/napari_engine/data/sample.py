"""The built-in sample: a petabyte-scale, two-channel procedural volume as napari layer specs.

It exists so that the very first run shows what remote rendering is for: data far too large to
move, browsed interactively. Levels are :class:`ChunkedArray` objects computing chunks on
demand; nothing is computed until napari asks for a region.
"""

from __future__ import annotations

import os

import numpy as np

from napari_engine.data.cache import ChunkCache, default_cache
from napari_engine.data.lazy_array import ChunkedArray, link_levels
from napari_engine.data.procedural import CHANNELS, Channel, ProceduralVolume
from napari_engine.data.spec import LayerSpec

SCALE_UM = (0.5, 0.25, 0.25)
CONTRAST_LIMITS = (0.0, 2500.0)


def sample_levels(
    channel: Channel, volume: ProceduralVolume | None = None, cache: ChunkCache | None = None
) -> list[ChunkedArray]:
    """The pyramid of one channel, finest first, halving every axis until the largest side is
    at most 256 voxels."""
    volume = volume if volume is not None else ProceduralVolume()
    cache = cache if cache is not None else default_cache()
    step = volume.chunk_yx
    levels = []
    for level in range(volume.n_levels()):
        shape = volume.level_shape(level)

        def compute(index: tuple[int, ...], level: int = level,
                    shape: tuple[int, int, int] = shape) -> np.ndarray:
            z, cy, cx = index
            y0, x0 = cy * step, cx * step
            ny, nx = min(step, shape[1] - y0), min(step, shape[2] - x0)
            return volume.chunk(channel, level, z, y0, x0, ny, nx)

        key = ("procedural-sample", volume, channel.name, level)
        levels.append(ChunkedArray(shape, np.uint16, (1, step, step), compute, key, cache,
                                   source="procedural-sample", concurrency=_cores()))
    link_levels(levels)
    return levels


def _cores() -> int:
    """The sample's chunks are computed: at most one thread a core computes them."""
    return max(1, len(os.sched_getaffinity(0)))


def sample_layers(cache: ChunkCache | None = None) -> list[LayerSpec]:
    """The built-in procedural sample: one multiscale LayerSpec per channel."""
    specs = []
    for channel in CHANNELS:
        kwargs = {
            "name": f"sample {channel.name}",
            "multiscale": True,
            "scale": SCALE_UM,
            "translate": (0.0, 0.0, 0.0),
            "colormap": channel.colormap,
            "contrast_limits": CONTRAST_LIMITS,
            "blending": "additive",
            "axis_labels": ("z", "y", "x"),
            "units": ("um", "um", "um"),
        }
        specs.append(LayerSpec(data=sample_levels(channel, cache=cache), kwargs=kwargs))
    return specs
