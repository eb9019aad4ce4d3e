"""Read TIFF, ImageJ hyperstack TIFF and OME-TIFF files as layer specs.

tifffile knows the axes of each series ('ZCYX' for an ImageJ hyperstack, 'CYX' for an
OME-TIFF, ...); a 'C' axis becomes one layer per channel and 'S' (samples) an RGB layer.
Every image of a multi-image OME-TIFF is opened (other files: their first series, as
napari's own reader does). A pyramid (OME-TIFF SubIFDs, whole-slide images) becomes a
multiscale layer, read lazily whatever its size; other files are loaded when small and
read lazily through zarr (``series.aszarr()``) when large. Pixel sizes come from OME
``PhysicalSize*`` or ImageJ resolution tags and ``spacing``; channel colours from OME
``Color`` or ImageJ LUTs (a ramp from black to a colour napari names).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr

from napari_engine.data.colors import colormap_for_hex, default_colormaps
from napari_engine.data.lazy_array import link_levels
from napari_engine.data.ome_zarr import data_range
from napari_engine.data.spec import DataError, LayerSpec, brief
from napari_engine.data.units import normalize_unit, units_kwarg
from napari_engine.data.zarr_arrays import chunked_zarr

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8")
_AXIS_LABELS = {"T": "t", "Z": "z", "Y": "y", "X": "x", "C": "c", "S": "rgb"}
_SMALL_BYTES = 256 * 1024 * 1024  # files this small (and not pyramids) are simply loaded


@dataclass
class _Series:
    """What is read from one series before any layer is made."""

    axes: str
    shape: tuple[int, ...]
    data: Any  # an array, or (a pyramid) a list of arrays, finest first
    sizes: dict[str, tuple[float, str | None]]
    names: list[str]
    colors: list[str | None]
    imagej: dict[str, Any]
    name: str  # the OME image's name ("" when it has none)

    @property
    def pyramid(self) -> bool:
        return isinstance(self.data, list)


def _series_count(tif: tifffile.TiffFile) -> int:
    """The series opened: every image of an OME-TIFF, else the first series."""
    return len(tif.series) if tif.is_ome else 1


#: what tifffile says (as a warning, reading on) of a file it could read only in part
_DAMAGE = ("invalid page offset", "failed to reshape", "truncated", "corrupt")


class _Damage(logging.Handler):
    """Collects tifffile's warnings that a file is damaged."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(word in message.lower() for word in _DAMAGE):
            self.said.append(message)


def _read(path: Path) -> list[_Series]:
    """The file's series; a truncated or damaged file is an error (tifffile reads on
    and shows part of it, one page of many, warning only in its log)."""
    damage = _Damage()
    logger = logging.getLogger("tifffile")
    logger.addHandler(damage)
    try:
        read = _series_of(path)
    finally:
        logger.removeHandler(damage)
    if damage.said:
        raise DataError(f"cannot read TIFF {path}: it is truncated or damaged "
                        f"({damage.said[0][:200]})")
    for index, opened in enumerate(read):
        if opened.data is None:
            opened.data = _lazy(path, index)
    return read


def _series_of(path: Path) -> list[_Series]:
    try:
        with tifffile.TiffFile(path) as tif:
            ome = ET.fromstring(tif.ome_metadata) if tif.is_ome and tif.ome_metadata else None
            if ome is not None:
                _files_stay_beside(path, ome)
            images = _all(ome, "Image") if ome is not None else []
            read = []
            for index in range(_series_count(tif)):
                series = tif.series[index]
                image = images[index] if index < len(images) else None
                names, colors = _ome_channels(image) if image is not None else ([], [])
                shape = tuple(series.shape)
                nbytes = int(np.prod(shape, dtype=np.int64)) * series.dtype.itemsize
                small = nbytes <= _SMALL_BYTES and len(series.levels) == 1
                read.append(_Series(
                    series.axes, shape, series.asarray() if small else None,
                    _pixel_sizes(tif, series.axes, image), names, colors,
                    tif.imagej_metadata or {},
                    (image.get("Name", "") if image is not None else "") or ""))
    except (OSError, ValueError, IndexError, KeyError, ET.ParseError,
            tifffile.TiffFileError) as exc:
        raise DataError(f"cannot read TIFF {path}: {brief(exc)}") from exc
    return read


def _lazy(path: Path, index: int) -> Any:
    """Series ``index`` read through zarr: one array, or a pyramid's levels."""
    try:
        opened = _opened(path, index)
        if isinstance(opened, zarr.Group):  # a pyramid: its levels "0", "1", ...
            levels = sorted(opened.array_keys(), key=int)
            pyramid = [chunked_zarr(opened[key], functools.partial(_opened, path, index, key))
                       for key in levels]
            link_levels(pyramid)
            return pyramid
        return chunked_zarr(opened, functools.partial(_opened, path, index))
    except Exception as exc:
        raise DataError(f"cannot read TIFF {path}: {brief(exc)}") from exc


def _files_stay_beside(path: Path, ome: ET.Element) -> None:
    """A multi-file OME-TIFF reads the files its metadata names (``UUID FileName``):
    each must be a file beside it, links resolved (a name like ``../../x.tif``, or a
    link out of the folder, would read what the server offers no one)."""
    folder = path.resolve().parent
    for element in ome.iter():
        name = element.get("FileName") if _named(element, "UUID") else None
        if name and (path.parent / name).resolve().parent != folder:
            raise DataError(f"cannot read TIFF {path}: it names a file outside its "
                            f"folder ({name!r})")


def _opened(path: Path, index: int, level: str | None = None) -> Any:
    """Series ``index`` of the TIFF (one ``level`` of its pyramid) as zarr opens it
    through tifffile's store: how a cluster's worker opens it again."""
    opened: Any = zarr.open(tifffile.imread(path, aszarr=True, series=index), mode="r")
    return opened if level is None else opened[level]


def _stem(path: Path) -> str:
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if path.name.lower().endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def _base_kwargs(read: _Series, spatial: list[int], rgb: bool) -> dict[str, Any]:
    """napari keywords every channel's layer shares: scale, axes, units."""
    axes = read.axes
    base: dict[str, Any] = {
        "scale": tuple(read.sizes.get(axes[i], (1.0, None))[0] for i in spatial),
        "translate": tuple(0.0 for _ in spatial),
        # Unknown axes ('Q', 'I', ...) get napari's default labels ('-3', '-2', ...).
        "axis_labels": tuple(_AXIS_LABELS.get(axes[i], str(k - len(spatial)))
                             for k, i in enumerate(spatial)),
        "multiscale": read.pyramid,
    }
    units = units_kwarg([read.sizes.get(axes[i], (1.0, None))[1] for i in spatial])
    if units is not None:
        base["units"] = units
    if rgb:
        base["rgb"] = True
    return base


def read_tiff(path: Path) -> list[LayerSpec]:
    """Layer specs for the TIFF at ``path``: one per channel of each image opened."""
    series = _read(path)
    stem = _stem(path)
    specs = []
    for index, read in enumerate(series):
        title = stem if len(series) == 1 else f"{stem} [{read.name or index}]"
        specs += _specs(read, title)
    return specs


def _specs(read: _Series, title: str) -> list[LayerSpec]:
    axes, shape = read.axes, read.shape
    rgb = "S" in axes and axes.endswith("S") and shape[-1] in (3, 4)
    channel_axis = axes.find("C")
    spatial = [i for i, a in enumerate(axes) if i != channel_axis and not (rgb and a == "S")]
    base = _base_kwargs(read, spatial, rgb)
    n_channels = 1 if channel_axis < 0 else shape[channel_axis]
    fallback = default_colormaps(n_channels)
    colors = read.colors or _imagej_colors(read.imagej)
    levels = read.data if read.pyramid else [read.data]
    specs = []
    for c in range(n_channels):
        if channel_axis < 0:
            data, name = levels, title
        else:
            data = [level[(slice(None),) * channel_axis + (c,)] for level in levels]
            name = read.names[c] if c < len(read.names) and read.names[c] else f"{title} [ch{c}]"
        kwargs = {**base, "name": name,
                  "contrast_limits": _contrast_limits(data[-1], read.imagej.get("Ranges"),
                                                      c, rgb),
                  "blending": "additive" if n_channels > 1 else "translucent"}
        if not rgb:
            color = colors[c] if c < len(colors) else None
            kwargs["colormap"] = (color if isinstance(color, dict)
                                  else colormap_for_hex(color, fallback[c]))
        specs.append(LayerSpec(data=data if read.pyramid else data[0], kwargs=kwargs))
    return specs


def _imagej_colors(imagej: dict[str, Any]) -> list[str | dict[str, Any] | None]:
    """ImageJ's channel LUTs: a LUT that ramps from black to one colour is that colour
    (ImageJ's Red, Green, Cyan, ... LUTs); any other (Fire, 16 colors, ...) is a
    colormap of its 256 colours, named after them (napari makes it)."""
    colors: list[str | dict[str, Any] | None] = []
    luts = imagej.get("LUTs")
    if luts is None:
        return colors
    if isinstance(luts, np.ndarray) and luts.ndim == 2:  # one channel's: the table itself
        luts = [luts]
    for lut in luts:
        table = np.asarray(lut, dtype=float)
        if table.shape != (3, 256) or not np.isfinite(table).all() or table.max() <= 0:
            colors.append(None)
            continue
        table = table / (255.0 if table.max() <= 255 else table.max())
        top = table[:, -1]
        ramp = np.outer(top, np.arange(256) / 255.0)
        if np.abs(table - ramp).max() <= 2.0 / 255:
            colors.append("".join(f"{round(v * 255):02x}" for v in top))
            continue
        rgba = np.vstack([table, np.ones(256)]).T.round(4)
        digest = hashlib.sha1(rgba.tobytes()).hexdigest()[:6]
        colors.append({"name": f"ImageJ LUT {digest}", "colors": rgba.tolist()})
    return colors


def _contrast_limits(layer: Any, ranges: Any, channel: int, rgb: bool) -> tuple[float, float]:
    """ImageJ display ranges when present, else min/max (of a subsample when the data is
    big; ``layer`` is a pyramid's coarsest level)."""
    if isinstance(ranges, (tuple, list)) and len(ranges) >= 2 * channel + 2:
        lo, hi = float(ranges[2 * channel]), float(ranges[2 * channel + 1])
        if hi > lo and not (lo == 0.0 and hi == 65535.0):
            return lo, hi
    if rgb and np.dtype(layer.dtype) == np.uint8:
        return 0.0, 255.0
    if isinstance(layer, np.ndarray):
        return data_range(layer)
    step = max(1, int(np.ceil((layer.size / 2**22) ** (1.0 / max(layer.ndim, 1)))))
    return data_range(layer[(slice(None, None, step),) * layer.ndim])


def _pixel_sizes(tif: tifffile.TiffFile, axes: str, image: ET.Element | None
                 ) -> dict[str, tuple[float, str | None]]:
    """Physical size and unit per axis letter, from the OME image's or ImageJ tags."""
    if image is not None:
        pixels = _first(image, "Pixels")
        return {} if pixels is None else _ome_sizes(pixels, axes)
    if not tif.is_imagej:
        return {}  # plain TIFF resolutions are usually DPI, not microscopy calibration
    return _imagej_sizes(tif, axes)


def _ome_sizes(pixels: ET.Element, axes: str) -> dict[str, tuple[float, str | None]]:
    sizes: dict[str, tuple[float, str | None]] = {}
    for axis in "XYZ":
        size = pixels.get(f"PhysicalSize{axis}")
        if size is not None and axis in axes and float(size) > 0:
            size_unit = pixels.get(f"PhysicalSize{axis}Unit", "µm")
            sizes[axis] = (float(size), normalize_unit(size_unit))
    interval = pixels.get("TimeIncrement")
    if interval is not None and "T" in axes and float(interval) > 0:
        sizes["T"] = (float(interval), normalize_unit(pixels.get("TimeIncrementUnit", "s")))
    return sizes


def _imagej_sizes(tif: tifffile.TiffFile, axes: str) -> dict[str, tuple[float, str | None]]:
    sizes: dict[str, tuple[float, str | None]] = {}
    imagej = tif.imagej_metadata or {}
    unit = normalize_unit(imagej.get("unit"))
    for axis, tag_name in (("X", "XResolution"), ("Y", "YResolution")):
        tag = tif.pages.first.tags.get(tag_name)
        if tag is None:
            continue
        num, den = tag.value
        if num > 0 and den > 0 and (num, den) != (1, 1):
            sizes[axis] = (den / num, unit)
    spacing = imagej.get("spacing")
    if spacing and "Z" in axes and float(spacing) > 0:
        sizes["Z"] = (float(spacing), unit)
    interval = imagej.get("finterval")
    if interval and "T" in axes and float(interval) > 0:
        sizes["T"] = (float(interval), normalize_unit(imagej.get("tunit", "s")))
    return sizes


def _named(element: ET.Element, tag: str) -> bool:
    return element.tag == tag or element.tag.endswith("}" + tag)


def _all(root: ET.Element, tag: str) -> list[ET.Element]:
    """Every element named ``tag``, in any namespace, in document order."""
    return [element for element in root.iter() if _named(element, tag)]


def _first(root: ET.Element, tag: str) -> ET.Element | None:
    """First element named ``tag`` in any namespace."""
    return next(iter(_all(root, tag)), None)


def _ome_channels(image: ET.Element) -> tuple[list[str], list[str | None]]:
    """Channel names and colours (as OME signed RGBA integers) of one OME image."""
    pixels = _first(image, "Pixels")
    if pixels is None:
        return [], []
    channels = [e for e in pixels if _named(e, "Channel")]
    return [c.get("Name", "") for c in channels], [c.get("Color") for c in channels]


__all__ = ["TIFF_SUFFIXES", "read_tiff"]
