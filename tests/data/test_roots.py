"""What a client may open (``data.roots``): paths below the roots after resolving,
regular files and folders only, URLs below URL roots; outside, the same answer whether
or not the path exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from napari_engine.data.roots import DataRoots, OutsideRoots
from napari_engine.data.spec import DataError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    inside = tmp_path / "data"
    (inside / "sub").mkdir(parents=True)
    (inside / "sub" / "cells.tif").write_bytes(b"II*\x00")
    (tmp_path / "secret.tif").write_bytes(b"secret")
    (inside / "escape.tif").symlink_to(tmp_path / "secret.tif")
    (inside / "inner.tif").symlink_to(inside / "sub" / "cells.tif")
    os.mkfifo(inside / "pipe.tif")
    return tmp_path


def test_paths_below_a_root_resolve_to_what_is_opened(tree: Path) -> None:
    roots = DataRoots.of([str(tree / "data")])
    target = str(tree / "data" / "sub" / "cells.tif")
    assert roots.check(target) == target
    assert roots.check(f"file://{target}") == target
    assert roots.check(str(tree / "data" / "sub" / ".." / "sub" / "cells.tif")) == target
    assert roots.check(str(tree / "data" / "inner.tif")) == target  # a link that stays
    assert roots.check(str(tree / "data" / "sub")) == str(tree / "data" / "sub")


@pytest.mark.parametrize("name", ["secret.tif", "data/../secret.tif", "data/escape.tif",
                                  "missing.tif", "data/../missing.tif"])
def test_outside_is_one_answer_whether_or_not_it_exists(tree: Path, name: str) -> None:
    roots = DataRoots.of([str(tree / "data")])
    with pytest.raises(OutsideRoots) as refused:
        roots.check(str(tree / name))
    assert str(refused.value) == f"{str(tree / name)!r} is not below the server's data " \
                                 "roots (--data-root)"
    with pytest.raises(OutsideRoots):
        roots.check("~/" + name)


def test_only_regular_files_and_folders_are_opened(tree: Path) -> None:
    roots = DataRoots.of([str(tree / "data")])
    with pytest.raises(DataError, match="not a regular file or folder"):
        roots.check(str(tree / "data" / "pipe.tif"))  # a FIFO would block the reader
    with pytest.raises(DataError, match="no such file"):
        roots.check(str(tree / "data" / "gone.tif"))


def test_urls_only_below_a_url_root() -> None:
    roots = DataRoots.of(["https://host/lab/", "s3://bucket"])
    assert roots.check("https://host/lab/a.ome.zarr") == "https://host/lab/a.ome.zarr"
    assert roots.check("s3://bucket/x/a.ome.zarr") == "s3://bucket/x/a.ome.zarr"
    for url in ["https://host/other/a.zarr", "https://host/lab/../other/a.zarr",
                "https://host/lab/%2e%2e/other", "https://host/labx/a.zarr",
                "s3://bucket2/a.zarr", "http://169.254.169.254/latest/meta-data/"]:
        with pytest.raises(OutsideRoots):
            roots.check(url)
    with pytest.raises(OutsideRoots):  # no URL roots: no URL
        DataRoots.of(["/tmp"]).check("https://host/lab/a.ome.zarr")


def test_the_default_roots_are_the_data_folders_and_the_working_directory(
        tmp_path: Path) -> None:
    assert DataRoots.defaults([str(tmp_path / "a.ome.zarr"), "https://h/p/b.ome.zarr"]) == [
        str(tmp_path), "https://h/p/", os.getcwd()]
    # a store at the top of a bucket or host: that bucket or host, never every URL
    roots = DataRoots.of(DataRoots.defaults(["s3://bucket/", "https://host"]))
    assert roots.urls == ("s3://bucket/", "https://host/")
    for url in ["s3://other-bucket/secret.zarr", "http://169.254.169.254/latest/"]:
        with pytest.raises(OutsideRoots):
            roots.check(url)
