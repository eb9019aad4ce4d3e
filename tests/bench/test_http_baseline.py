"""The napari-over-HTTP baseline reads a real OME-Zarr from a real HTTP server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from napari_engine.bench.http_baseline import http_server, local_napari, write_volume
from napari_engine.bench.netem import EmulatedLink, LinkProfile
from napari_engine.data.ome_zarr import read_ome_zarr


def test_volume_over_http_reads_like_the_files(tmp_path: Path) -> None:
    volume = write_volume(tmp_path / "small.ome.zarr", shape=(8, 96, 128),
                          chunks=(4, 32, 32), levels=3)
    local = zarr.open_group(str(volume), mode="r")
    assert [local[str(n)].shape for n in range(3)] == [(8, 96, 128), (8, 48, 64),
                                                       (8, 24, 32)]
    with http_server(volume.parent) as port:
        specs = read_ome_zarr(f"http://127.0.0.1:{port}/{volume.name}")
        assert len(specs) == 1 and specs[0].kwargs["multiscale"]
        remote = specs[0].data
        np.testing.assert_array_equal(np.asarray(remote[1][3]), local["1"][3])
        assert specs[0].kwargs["scale"] == (1.0, 1.0, 1.0)


def test_local_napari_draws_the_remote_volume_through_a_link(tmp_path: Path) -> None:
    volume = write_volume(tmp_path / "small.ome.zarr", shape=(8, 256, 256),
                          chunks=(4, 64, 64), levels=2)
    with http_server(volume.parent) as port:
        link = EmulatedLink("127.0.0.1", port, LinkProfile("test", delay_ms=10.0))
        link.start()
        try:
            result = local_napari(f"http://127.0.0.1:{link.port}/{volume.name}", (320, 240),
                                  2, timeout=120)
        finally:
            link.stop()
    assert "error" not in result and "timed_out_s" not in result, result
    assert 0 < result["metadata_s"] <= result["first_frame_s"] <= result["full_resolution_s"]
    assert link.bytes_down > 0  # the chunks napari needed crossed the link
