"""OME-Zarr over HTTP and in S3: real servers on loopback (Python's HTTP server, moto's
S3 server), opened as the local files are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import napari_engine
from napari_engine.bench.stores import S3Endpoint, serve_http, serve_s3, write_pyramid
from napari_engine.data import DataError, open_data
from napari_engine.data.stores import PROXY_VARIABLES
from napari_engine.server.process import ServerProcess


@pytest.fixture(scope="module")
def pyramids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stores")
    for zarr_format in (2, 3):
        write_pyramid(folder, zarr_format=zarr_format, side=512, chunk=128)
    write_pyramid(folder, zarr_format=3, side=512, chunk=64, sharded=True)
    return folder


@pytest.fixture(scope="module")
def http_base(pyramids: Path) -> Iterator[str]:
    with serve_http(pyramids) as base:
        yield base


@pytest.fixture(scope="module")
def s3(pyramids: Path) -> Iterator[S3Endpoint]:
    with serve_s3(pyramids) as endpoint:
        yield endpoint


def _same_image(remote: str, local: Path) -> None:
    """The remote image's layer specs are the local file's, voxel for voxel."""
    theirs, ours = open_data(remote), open_data(str(local))
    assert len(theirs) == len(ours) == 1
    assert theirs[0].kwargs == ours[0].kwargs
    assert [level.shape for level in theirs[0].data] == [level.shape for level in ours[0].data]
    region = (slice(100, 300), slice(50, 400))
    np.testing.assert_array_equal(np.asarray(theirs[0].data[0][region]),
                                  np.asarray(ours[0].data[0][region]))


NAMES = ["pyramid-v2.ome.zarr", "pyramid-v3.ome.zarr", "pyramid-v3-sharded.ome.zarr"]


@pytest.mark.parametrize("name", NAMES)
def test_an_ome_zarr_over_http_opens_as_the_local_file(
        http_base: str, pyramids: Path, name: str) -> None:
    _same_image(f"{http_base}/{name}", pyramids / name)


@pytest.mark.parametrize("name", NAMES)
def test_an_ome_zarr_in_s3_opens_with_the_usual_environment(
        s3: S3Endpoint, pyramids: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3.environment.items():
        monkeypatch.setenv(key, value)
    _same_image(f"s3://{s3.bucket}/{name}", pyramids / name)


def test_what_cannot_be_opened_says_why(http_base: str, s3: S3Endpoint,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=r"missing\.ome\.zarr"):
        open_data(f"{http_base}/missing.ome.zarr")
    with pytest.raises(DataError, match=r"only http\(s\):// and s3://"):
        open_data("gs://bucket/image.ome.zarr")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(DataError, match="no-such-bucket"):
        open_data("s3://no-such-bucket/image.ome.zarr")


def test_a_server_shows_a_remote_image_as_the_local_one(
        http_base: str, s3: S3Endpoint, pyramids: Path) -> None:
    """``--data URL`` and a client's ``add_image(URL)``: the same picture as the file."""
    name = "pyramid-v3.ome.zarr"
    args = ["--token", "t", "--size", "320x240", "--interactive-scale", "1"]
    with ServerProcess([*args, "--data", str(pyramids / name)]) as local, \
            ServerProcess([*args, "--data", f"{http_base}/{name}", "--data-root",
                           f"s3://{s3.bucket}/"], env=s3.environment) as remote:
        ours = napari_engine.connect(local.url, stream="none")
        theirs = napari_engine.connect(remote.url, stream="none")
        try:
            expected = ours.screenshot()
            assert expected[..., :3].std() > 5  # a picture, not a blank canvas
            np.testing.assert_array_equal(theirs.screenshot(), expected)
            theirs.layers.clear()
            layer = theirs.add_image(f"s3://{s3.bucket}/{name}")
            assert layer.data[0].shape == (512, 512)
            np.testing.assert_array_equal(theirs.screenshot(), expected)
        finally:
            ours.close()
            theirs.close()


def test_s3_options_stand_in_for_the_environment(
        s3: S3Endpoint, pyramids: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--storage-option``'s keys (obstore's) instead of the AWS variables."""
    from napari_engine.data import stores

    for key in s3.environment:
        monkeypatch.delenv(key, raising=False)
    name = "pyramid-v3.ome.zarr"
    try:
        stores.configure({"endpoint": s3.url, "access_key_id": "testing",
                          "secret_access_key": "testing", "region": "us-east-1"})
        _same_image(f"s3://{s3.bucket}/{name}", pyramids / name)
        with pytest.raises(DataError, match="'bucket_key' is not valid"):
            stores.configure({"bucket_key": "x"})
    finally:
        stores.configure({})


def test_a_server_refuses_an_unknown_storage_option() -> None:
    server = ServerProcess(["--token", "t", "--storage-option", "bucket_key=x"])
    with pytest.raises(RuntimeError, match=r"storage options: .*'bucket_key'"):
        server.start()


def test_a_redirect_to_another_host_is_not_followed(pyramids: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A client may name URLs below a URL root only; a redirect there must not make the
    server fetch from another host (here 127.0.0.1 behind a root on ``localhost``), while
    a redirect on the same host is followed."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    asked: list[str] = []
    with serve_http(pyramids, before=lambda path: asked.append(path) and None) as elsewhere:
        def redirect(path: str) -> tuple[int, str] | None:
            if path.startswith("/moved/"):  # same host
                return 302, path.removeprefix("/moved")
            if path.startswith("/away/"):  # another host
                return 302, elsewhere + path.removeprefix("/away")
            return None

        with serve_http(pyramids, redirect=redirect) as here:
            local = here.replace("127.0.0.1", "localhost")
            _same_image(f"{local}/moved/{NAMES[0]}", pyramids / NAMES[0])
            with pytest.raises(DataError):
                open_data(f"{local}/away/{NAMES[0]}")
    assert asked == []
