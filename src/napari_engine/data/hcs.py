"""An OME-Zarr HCS plate (or one well) as one image: its wells side by side.

As napari-ome-zarr shows a plate: the first field of every well, tiled in the plate's
rows and columns at every resolution level (a missing well is black), lazily: each well
is read only where a view needs it. A well opened by itself shows its fields side by
side in a row. Axes, channels, scale and colours are the first field's.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from napari_engine.data.lazy_array import ChunkedArray
from napari_engine.data.ome_zarr import image_specs, ome_attrs
from napari_engine.data.spec import DataError, LayerSpec

_opened = itertools.count()


def _grid_of_plate(plate: dict[str, Any]) -> list[list[str | None]]:
    """Each row's well paths, by column (None: no well there)."""
    rows, columns = plate.get("rows") or [], plate.get("columns") or []
    grid: list[list[str | None]] = [[None] * len(columns) for _ in rows]
    for well in plate.get("wells") or []:
        row, column = well.get("rowIndex"), well.get("columnIndex")
        if isinstance(row, int) and isinstance(column, int) and row < len(rows) and \
                column < len(columns):
            grid[row][column] = str(well["path"])
    return grid


def _fields(group: zarr.Group, well: str) -> list[str]:
    images = ome_attrs(group[well]).get("well", {}).get("images") or []  # type: ignore[arg-type]
    return [f"{well}/{image['path']}" for image in images]


def read_hcs(group: zarr.Group, path: Path | str, leaf: str) -> list[LayerSpec]:
    """Layer specs for the plate (or well) ``group``."""
    attrs = ome_attrs(group)
    try:
        grid: list[list[str | None]]
        if "plate" in attrs:
            grid = [[None if w is None else next(iter(_fields(group, w)), None) for w in row]
                    for row in _grid_of_plate(attrs["plate"])]
        else:  # one well: its fields in a row
            grid = [[str(image["path"]) for image in attrs["well"].get("images") or []]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read the HCS metadata of {path}: {exc}") from exc
    first = next((image for row in grid for image in row if image is not None), None)
    if first is None:
        raise DataError(f"the HCS plate {path} has no images")
    field = group[first]
    if not isinstance(field, zarr.Group):
        raise DataError(f"cannot read OME-Zarr {path}: {first} is not an image")
    name = str(attrs.get("plate", {}).get("name") or "") or leaf.removesuffix(
        ".zarr").removesuffix(".ome")

    def tile(array: Any) -> ChunkedArray:
        """The level ``array`` is of the first image, of every image in the grid, side
        by side (y, then x): one chunk a well per plane (or per chunk of the leading
        axes), read from that well's array."""
        dataset = array.path.rsplit("/", 1)[-1]
        wells: list[list[Any]] = [[group[f"{image}/{dataset}"] if image is not None
                                   else None for image in row] for row in grid]
        height, width = (int(n) for n in array.shape[-2:])
        lead = tuple(int(c) for c in array.chunks[:-2])
        shape = (*(int(n) for n in array.shape[:-2]), height * len(grid),
                 width * max(len(row) for row in grid))
        dtype = np.dtype(array.dtype)

        def compute(index: tuple[int, ...]) -> np.ndarray:
            box = tuple(slice(i * c, min((i + 1) * c, n))
                        for i, c, n in zip(index[:-2], lead, shape[:-2], strict=True))
            row, column = index[-2], index[-1]
            well = wells[row][column] if column < len(wells[row]) else None
            if well is None or tuple(well.shape[-2:]) != (height, width):
                return np.zeros((*(b.stop - b.start for b in box), height, width), dtype)
            return np.asarray(well[box]).astype(dtype, copy=False)

        return ChunkedArray(shape, dtype, (*lead, height, width), compute,
                            ("hcs", next(_opened)), source=("hcs", str(array.store)))

    return image_specs(field, path, leaf, tile, name)
