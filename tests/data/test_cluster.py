"""Chunks computed on a real Dask cluster (``distributed.LocalCluster``, two worker
processes on loopback): the same chunks as computed here, from the sample, a remote
OME-Zarr over HTTP and a TIFF pyramid; what cannot travel, or a cluster gone, is
computed here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
from distributed import LocalCluster

from napari_engine.bench.stores import serve_http, write_pyramid
from napari_engine.data import cluster, loader
from napari_engine.data.cache import ChunkCache
from napari_engine.data.lazy_array import ChunkedArray
from napari_engine.data.open import open_data
from napari_engine.data.procedural import CHANNELS
from napari_engine.data.sample import sample_levels


def _cluster() -> LocalCluster:
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    with _cluster() as running:
        yield running


@pytest.fixture
def on_cluster(local_cluster: LocalCluster) -> Iterator[cluster.Cluster]:
    yield cluster.connect(local_cluster.scheduler_address)
    cluster.disconnect()


def _ran(on: cluster.Cluster) -> int:
    return sum(on.ran_on_workers().values())


def _region(levels: list[ChunkedArray], level: int) -> np.ndarray:
    return np.asarray(levels[level][3, :300, :300])


def test_sample_chunks_are_computed_on_the_workers(on_cluster: cluster.Cluster) -> None:
    before = _ran(on_cluster)
    remote = _region(sample_levels(CHANNELS[0], cache=ChunkCache(1 << 26)), 6)
    assert _ran(on_cluster) - before == 4  # 300 x 300 of 256 x 256 chunks
    cluster.disconnect()
    here = _region(sample_levels(CHANNELS[0], cache=ChunkCache(1 << 26)), 6)
    np.testing.assert_array_equal(remote, here)


def test_the_loader_reads_through_the_cluster(on_cluster: cluster.Cluster) -> None:
    """A draw's reads (of the coarsest level: nothing stands in for it) ask the loader,
    whose threads wait on the workers."""
    levels = sample_levels(CHANNELS[1], cache=ChunkCache(1 << 26))
    chunk_loader = loader.ChunkLoader(workers=2, per_source=2)
    arrived = threading.Event()
    chunk_loader.on_arrival(lambda _requester: arrived.set())
    before = _ran(on_cluster)
    try:
        context = loader.ReadContext(chunk_loader, "session", stamp=1)
        with loader.reading(context):
            levels[-1][2, :64, :64]
        assert context.asked == 1
        assert arrived.wait(60)
        assert chunk_loader.take_arrivals("session") is not None
        assert _ran(on_cluster) - before == 1
        with loader.reading(loader.ReadContext(chunk_loader, "session", stamp=2)) as again:
            drawn = levels[-1][2, :64, :64]
        assert again is not None and again.asked == 0
    finally:
        chunk_loader.close()
    cluster.disconnect()
    np.testing.assert_array_equal(
        drawn, sample_levels(CHANNELS[1], cache=ChunkCache(1 << 26))[-1][2, :64, :64])


def test_a_remote_ome_zarr_is_read_and_decoded_on_the_workers(
        on_cluster: cluster.Cluster, tmp_path: Path) -> None:
    pyramid = write_pyramid(tmp_path, zarr_format=3, side=512, chunk=128)
    with serve_http(pyramid.parent) as base:
        before = _ran(on_cluster)
        remote = np.asarray(open_data(f"{base}/{pyramid.name}")[0].data[0][:, :])
        assert _ran(on_cluster) > before
    local = np.asarray(open_data(str(pyramid))[0].data[0][:, :])
    np.testing.assert_array_equal(remote, local)


def test_a_tiff_pyramid_is_opened_again_on_the_workers(
        on_cluster: cluster.Cluster, tmp_path: Path) -> None:
    """A TIFF is read through an open file, which cannot travel: the workers open the
    file themselves (by its path)."""
    rng = np.random.default_rng(3)
    volume = rng.integers(0, 4000, (3, 512, 512), dtype=np.uint16)
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(volume, tile=(256, 256), subifds=1, metadata={"axes": "ZYX"})
        tif.write(volume[:, ::2, ::2], tile=(256, 256), subfiletype=1)
    levels = open_data(str(path))[0].data
    assert isinstance(levels, list) and isinstance(levels[0], ChunkedArray)
    before = _ran(on_cluster)
    np.testing.assert_array_equal(np.asarray(levels[0][1]), volume[1])
    np.testing.assert_array_equal(np.asarray(levels[1][2]), volume[2, ::2, ::2])
    # level 0's plane: four tiles; level 1 was read whole at open, for the contrast range
    assert _ran(on_cluster) - before == 4


def test_data_errors_are_raised_as_the_worker_raised_them(
        on_cluster: cluster.Cluster) -> None:
    def broken(index: tuple[int, ...]) -> np.ndarray:
        raise ValueError(f"chunk {index} is corrupt")

    with pytest.raises(ValueError, match=r"chunk \(1, 2\) is corrupt"):
        cluster.compute(broken, (1, 2))


def test_what_cannot_travel_is_computed_here(on_cluster: cluster.Cluster) -> None:
    lock = threading.Lock()  # cannot be pickled

    def guarded(index: tuple[int, ...]) -> np.ndarray:
        with lock:
            return np.full((2, 2), index[0], np.uint8)

    before = _ran(on_cluster)
    np.testing.assert_array_equal(cluster.compute(guarded, (7,)), np.full((2, 2), 7))
    assert _ran(on_cluster) == before


def test_a_cluster_that_goes_away_leaves_chunks_computed_here(
        caplog: pytest.LogCaptureFixture) -> None:
    with _cluster() as doomed:
        cluster.connect(doomed.scheduler_address)
    levels = sample_levels(CHANNELS[0], cache=ChunkCache(1 << 26))
    try:
        with caplog.at_level("WARNING"):
            region = _region(levels, 7)
    finally:
        cluster.disconnect()
    expected = _region(sample_levels(CHANNELS[0], cache=ChunkCache(1 << 26)), 7)
    np.testing.assert_array_equal(region, expected)
    assert "computing here" in caplog.text


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(cluster.ClusterError, match="cannot reach the Dask scheduler"):
        cluster.Cluster("tcp://127.0.0.1:1", timeout=1)


def test_the_address_comes_from_the_option_else_dasks_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cluster.ADDRESS_VARIABLE, raising=False)
    assert cluster.address_from(None) is None
    monkeypatch.setenv(cluster.ADDRESS_VARIABLE, "tcp://127.0.0.1:8786")
    assert cluster.address_from(None) == "tcp://127.0.0.1:8786"
    assert cluster.address_from("tcp://127.0.0.1:9999") == "tcp://127.0.0.1:9999"
