"""``open_data``: decide what a path is and hand it to the right reader.

Every failure becomes a :class:`DataError` with a one-line message that names the path and the
reason, because the message travels to a remote user rather than to a log.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_engine.data.loader import exact
from napari_engine.data.ome_zarr import is_ome_zarr, read_ome_zarr
from napari_engine.data.spec import DataError, LayerSpec
from napari_engine.data.stores import (
    ZIPPED_ZARR_SUFFIXES,
    is_remote,
    remote_store,
    zipped_store,
)
from napari_engine.data.tiff import TIFF_SUFFIXES, read_tiff

#: files (not folders) ``open_data`` reads, by their name's ending
FILE_SUFFIXES = TIFF_SUFFIXES + ZIPPED_ZARR_SUFFIXES


def open_data(path_or_url: str) -> list[LayerSpec]:
    """Layer specs for a local OME-Zarr directory or TIFF/OME-TIFF file, or an OME-Zarr
    over HTTP(S) or in S3 (``data.stores``). What the readers read of the data (a
    coarsest level's range, for contrast limits) is read exactly, even in a draw's
    reading context."""
    with exact():
        return _open(path_or_url)


def _open(path_or_url: str) -> list[LayerSpec]:
    text = str(path_or_url).strip()
    if is_remote(text):
        return read_ome_zarr(text, store=remote_store(text))
    if text.lower().startswith("file://"):
        text = text[len("file://") :]
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(f"no such file or directory: {path}")
    if path.is_dir():
        image = _ome_zarr_image(path)
        if image is None:
            raise DataError(f"not an OME-Zarr image (no multiscales metadata): {path}")
        return read_ome_zarr(image)
    if path.name.lower().endswith(TIFF_SUFFIXES):
        return read_tiff(path)
    if path.name.lower().endswith(ZIPPED_ZARR_SUFFIXES):
        return read_ome_zarr(path, store=zipped_store(path))
    if path.name.lower() in ("zarr.json", ".zattrs", ".zgroup"):
        return _open(str(path.parent))
    raise DataError(
        f"unsupported file type {path.suffix or '(none)'!r} (expected OME-Zarr, zipped "
        f"OME-Zarr (.ozx) or TIFF): {path}"
    )


def _ome_zarr_image(path: Path) -> Path | None:
    """The OME-Zarr image group at ``path``, following a bioformats2raw layout to image 0."""
    if is_ome_zarr(path):
        return path
    for marker in (path / ".zattrs", path / "zarr.json"):
        if marker.is_file():
            try:
                text = marker.read_text(errors="replace")
                json.loads(text)
            except (OSError, ValueError):
                return None
            if "bioformats2raw.layout" in text and is_ome_zarr(path / "0"):
                return path / "0"
    return None
