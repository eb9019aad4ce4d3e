"""The server's browsed folders: listings stay inside them and say what opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_engine.server.browsing import default_roots, listing


def test_a_listing_shows_folders_then_files_and_what_the_server_opens(tmp_path: Path
                                                                      ) -> None:
    (tmp_path / "b.tif").write_bytes(b"II*\0")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "plate.ome.zarr").mkdir()
    (tmp_path / "plate.ome.zarr" / "zarr.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".secret").mkdir()
    listed = listing(tmp_path, "")
    assert [(e["name"], e["dir"], e["openable"]) for e in listed["entries"]] == [
        ("plate.ome.zarr", True, True), ("sub", True, False), ("a.txt", False, False),
        ("b.tif", False, True)]
    assert listed["entries"][-1]["size"] == 4 and listed["path"] == ""
    assert listing(tmp_path, "sub")["path"] == "sub"


def test_a_listing_never_leaves_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError, match="outside"):
        listing(root, "link")  # a symbolic link out of it
    with pytest.raises(ValueError, match="not a folder"):
        listing(root, "missing")


def test_default_roots_are_the_data_folders_and_the_save_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    roots = default_roots([str(data / "a.tif"), str(data / "b.zarr"), "s3://bucket/x"],
                          tmp_path / "saved")
    assert roots == [data.resolve(), (tmp_path / "saved").resolve()]
    assert listing(tmp_path / "saved", "")["entries"] == []  # nothing saved yet
