"""Saving layers where the data is, with napari's own writers, atomically.

napari's writers (``napari.save_layers``, through npe2) write one file for one layer and
a folder of files for several. They write in place, so a crash mid-write would leave a
half-written file where the last good one was; here they write into a scratch folder
next to the target (the same file system), and the result is renamed into place.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from napari.layers import Layer

from napari_engine.server import napari_compat


def save_atomically(layers: list[Layer], target: Path) -> list[Path]:
    """Write ``layers`` to ``target`` (napari picks the writer from its extension);
    returns the paths written. Raises ``ValueError`` when no napari writer takes them."""
    import napari

    napari_compat.napari_writers()
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".saving-", dir=target.parent))
    try:
        written = [Path(p) for p in napari.save_layers(str(scratch / target.name), layers)]
        if not written:
            raise ValueError(f"no napari writer saves {len(layers)} layer(s) as "
                             f"{target.suffix or 'a folder'}")
        out = scratch / target.name
        # napari may add the extension of the writer it picked
        moved, final = (out, target) if out.exists() else (
            written[0], target.with_name(written[0].name))
        if moved.is_dir() and final.exists():
            # a folder cannot replace another in one rename: the old one goes first
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        moved.replace(final)
        return sorted(p for p in final.rglob("*") if p.is_file()) if final.is_dir() else [
            final]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
