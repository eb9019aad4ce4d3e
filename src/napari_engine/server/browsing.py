"""The server's folders a client may browse (``--browse``; by default those of the
``--data`` paths and the save directory): what the window's File > Open lists, so a
person picks files where the data is, not on their own disk.

A listing never leaves its folder (the path is resolved, symbolic links included, and
must stay below it), skips hidden entries, and says which entries the server opens
(TIFF files, OME-Zarr folders).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_engine.data import FILE_SUFFIXES

#: entries listed at most (a folder of a million files lists its first ones)
MAX_ENTRIES = 5000
_ZARR_MARKERS = (".zattrs", ".zgroup", "zarr.json")


def default_roots(data: Sequence[str], save_dir: Path | None) -> list[Path]:
    """The folders of the ``--data`` paths, then the save directory (no repeats)."""
    roots: list[Path] = []
    for path in data:
        if "://" in path:
            continue
        folder = Path(path).expanduser().resolve().parent
        if folder not in roots:
            roots.append(folder)
    if save_dir is not None and save_dir.resolve() not in roots:
        roots.append(save_dir.resolve())
    return roots


def openable(path: Path, is_dir: bool) -> bool:
    """Whether the server's readers open ``path`` (a TIFF, a zipped OME-Zarr, an
    OME-Zarr folder)."""
    if is_dir:
        return any((path / marker).exists() for marker in _ZARR_MARKERS)
    return path.name.lower().endswith(FILE_SUFFIXES)


def listing(root: Path, relative: str) -> dict[str, Any]:
    """The entries of ``root / relative``: folders first, then files, by name.
    ``ValueError`` (said plainly) for a path outside ``root`` or not a folder."""
    base = root.resolve()
    if not base.exists() and not relative:  # a save directory nothing was saved in yet
        return {"path": "", "folder": str(base), "entries": [], "truncated": False}
    folder = (base / relative).resolve() if relative else base
    if not folder.is_relative_to(base):
        raise ValueError(f"{relative!r} is outside the browsed folder")
    if not folder.is_dir():
        raise ValueError(f"{relative!r} is not a folder on the server")
    entries = []
    children = sorted((c for c in folder.iterdir() if not c.name.startswith(".")),
                      key=lambda c: (not c.is_dir(), c.name.lower()))
    for child in children[:MAX_ENTRIES]:
        is_dir = child.is_dir()
        entries.append({"name": child.name, "dir": is_dir,
                        "size": None if is_dir else child.stat().st_size,
                        "openable": openable(child, is_dir)})
    return {"path": folder.relative_to(base).as_posix() if folder != base else "",
            "folder": str(folder), "entries": entries,
            "truncated": len(children) > MAX_ENTRIES}
