"""A server whose chunks are computed on a real Dask cluster (``distributed.LocalCluster``,
two worker processes on loopback): it draws what a server computing them itself draws,
the built-in sample's and a remote OME-Zarr's, and keeps drawing when the cluster goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from distributed import LocalCluster

import napari_engine
from napari_engine.bench.stores import serve_http, write_pyramid
from napari_engine.data.cluster import ADDRESS_VARIABLE, Cluster
from napari_engine.server.process import ServerProcess

ARGS = ["--token", "t", "--size", "320x240", "--journal-dir", "none",
        "--interactive-scale", "1"]


@pytest.fixture(scope="module")
def remote_zarr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pyramid = write_pyramid(tmp_path_factory.mktemp("cluster"), zarr_format=3, side=512,
                            chunk=128)
    with serve_http(pyramid.parent) as base:
        yield f"{base}/{pyramid.name}"


def _root(url: str) -> list[str]:
    """The server's option that lets clients open ``url`` (its folder)."""
    return ["--data-root", url.rsplit("/", 1)[0] + "/"]


def _pictures(server: ServerProcess, url: str) -> list[np.ndarray]:
    """The sample's first view, zoomed in on it, and the remote OME-Zarr."""
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        shots = [viewer.screenshot()]
        viewer.scene.camera.zoom = viewer.scene.camera.zoom * 8
        shots.append(viewer.screenshot())
        viewer.layers.clear()
        viewer.add_image(url)
        shots.append(viewer.screenshot())
        return shots
    finally:
        viewer.close()


def test_a_server_on_a_cluster_draws_what_it_draws_alone(remote_zarr: str) -> None:
    """The address from ``DASK_SCHEDULER_ADDRESS``; the chunks are computed by the
    workers, and the pictures are those of a server computing its own."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as local:
        watcher = Cluster(local.scheduler_address)
        try:
            with ServerProcess([*ARGS, *_root(remote_zarr)],
                               env={ADDRESS_VARIABLE: local.scheduler_address}) as on:
                on_cluster = _pictures(on, remote_zarr)
            ran = watcher.ran_on_workers()
        finally:
            watcher.close()
    assert len(ran) == 2 and all(count > 0 for count in ran.values()), ran
    with ServerProcess([*ARGS, *_root(remote_zarr)], env={ADDRESS_VARIABLE: ""}) as alone:
        here = _pictures(alone, remote_zarr)
    for shot, expected in zip(on_cluster, here, strict=True):
        assert shot.std() > 0
        np.testing.assert_array_equal(shot, expected)


def test_a_server_keeps_drawing_when_its_cluster_goes(remote_zarr: str,
                                                      tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    local = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                         host="127.0.0.1", dashboard_address="127.0.0.1:0")
    with local, ServerProcess([*ARGS, *_root(remote_zarr), "--dask-scheduler",
                               local.scheduler_address, "--log-level", "WARNING"],
                              log_path=log) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            viewer.layers.clear()
            viewer.add_image(remote_zarr)
            first = viewer.screenshot()
            local.close()
            viewer.scene.camera.zoom = viewer.scene.camera.zoom * 4  # chunks not read yet
            zoomed = viewer.screenshot()
        finally:
            viewer.close()
    assert first.std() > 0 and zoomed.std() > 0
    assert not np.array_equal(first, zoomed)
    assert "computing here" in log.read_text()


def test_an_unreachable_scheduler_stops_the_server_with_a_clear_error() -> None:
    server = ServerProcess([*ARGS, "--dask-scheduler", "not-an-address"])
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler"):
        server.start()
