"""napari itself accepts every spec (ViewerModel needs no Qt or OpenGL), and browsing the huge
sample never makes napari materialize a big level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_engine.data import LayerSpec, open_data, sample_layers
from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray

napari_components = pytest.importorskip("napari.components")

FILES = ["dna_conf_wf_zcyx_u16.tif", "chromosomes_zyx_u16.tif",
         "cancer_cell_migration_tyx_u16.tif", "neuron_4ch_cyx_u16.ome.tiff",
         "nuclei_plk1.ome.zarr"]


def _add_all(specs: list[LayerSpec]) -> Any:
    viewer = napari_components.ViewerModel()
    for spec in specs:
        layer = viewer.add_image(spec.data, **spec.kwargs)
        assert layer.name == spec.kwargs["name"]
        assert layer.multiscale == spec.kwargs["multiscale"]
        assert tuple(layer.contrast_limits) == pytest.approx(spec.kwargs["contrast_limits"])
        expected = spec.data if isinstance(spec.data, list) else [spec.data]
        got = layer.data if layer.multiscale else [layer.data]
        assert [tuple(a.shape) for a in got] == [tuple(a.shape) for a in expected]
        assert tuple(layer.scale) == pytest.approx(spec.kwargs["scale"])
        assert tuple(layer.axis_labels) == spec.kwargs["axis_labels"]
    return viewer


@pytest.mark.parametrize("name", FILES)
def test_napari_accepts_file_specs(name: str, shared_data: Path) -> None:
    specs = open_data(str(shared_data / name))
    viewer = _add_all(specs)
    # Move to the middle of every slider and make sure a slice is produced.
    for axis in range(viewer.dims.ndim - 2):
        lo, hi, _ = viewer.dims.range[axis]
        viewer.dims.set_point(axis, (lo + hi) / 2)
    for layer in viewer.layers:
        plane = np.asarray(layer._slice.image.raw)
        assert plane.ndim >= 2
        assert plane.max() > plane.min(), f"{layer.name}: the slice is flat (no data read?)"


def test_napari_browses_the_sample_without_materializing_big_levels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[tuple[tuple[int, ...], int]] = []
    materialized: list[tuple[int, ...]] = []
    read_block = ChunkedArray.read_box
    to_array = ChunkedArray.__array__

    def spy_read(self: ChunkedArray, lo: list[int], hi: list[int]) -> np.ndarray:
        reads.append((self.shape, int(np.prod([h - low for low, h in zip(lo, hi, strict=True)]))))
        return read_block(self, lo, hi)

    def spy_array(self: ChunkedArray, *args: Any, **kwargs: Any) -> np.ndarray:
        materialized.append(self.shape)
        return to_array(self, *args, **kwargs)

    monkeypatch.setattr(ChunkedArray, "read_box", spy_read)
    monkeypatch.setattr(ChunkedArray, "__array__", spy_array)
    specs = sample_layers(cache=ChunkCache(64 * 1024 * 1024))
    viewer = _add_all(specs)
    level0 = specs[0].data[0]
    z_lo, z_hi, _ = viewer.dims.range[0]
    viewer.dims.set_point(0, (z_lo + z_hi) / 2)
    viewer.dims.set_point(0, z_lo + (z_hi - z_lo) / 3)
    for layer in viewer.layers:
        plane = np.asarray(layer._slice.image.raw)
        assert plane.shape[-2:] != (0, 0) and plane.max() > plane.min()
    assert reads, "napari read no data"
    assert all(shape != level0.shape for shape in materialized)
    assert max(size for _, size in reads) <= 256 * 256 * 64  # at most the coarsest level
