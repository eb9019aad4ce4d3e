"""Read TIFF, ImageJ hyperstack TIFF and OME-TIFF files as layer specs.

tifffile knows the axes of the first series ('ZCYX' for an ImageJ hyperstack, 'CYX' for an
OME-TIFF, ...); a 'C' axis becomes one layer per channel and 'S' (samples) an RGB layer. Pixel
sizes come from OME ``PhysicalSize*`` or ImageJ resolution tags and ``spacing``. Files are
wrapped lazily with ``series.aszarr()`` so large TIFFs are only read where viewed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr

from napari_engine.data.colors import colormap_for_hex, default_colormaps
from napari_engine.data.ome_zarr import data_range
from napari_engine.data.spec import DataError, LayerSpec, lazy_from_zarr
from napari_engine.data.units import normalize_unit, units_kwarg

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8")
_AXIS_LABELS = {"T": "t", "Z": "z", "Y": "y", "X": "x", "C": "c", "S": "rgb"}
_SMALL_BYTES = 256 * 1024 * 1024  # files this small are simply loaded


@dataclass
class _Series:
    """What is read from the file's first series before any layer is made."""

    axes: str
    shape: tuple[int, ...]
    data: Any
    sizes: dict[str, tuple[float, str | None]]
    names: list[str]
    colors: list[str | None]
    imagej: dict[str, Any]


def _read_series(path: Path) -> _Series:
    """The first series: small files loaded, larger ones read lazily through zarr."""
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape = tuple(series.shape)
            nbytes = int(np.prod(shape, dtype=np.int64)) * series.dtype.itemsize
            names, colors = _ome_channels(tif.ome_metadata) if tif.is_ome else ([], [])
            read = _Series(series.axes, shape,
                           series.asarray() if nbytes <= _SMALL_BYTES else None,
                           _pixel_sizes(tif, series.axes), names, colors,
                           tif.imagej_metadata or {})
    except (OSError, ValueError, IndexError, KeyError, tifffile.TiffFileError) as exc:
        raise DataError(f"cannot read TIFF {path}: {exc}") from exc
    if read.data is None:
        try:
            store = tifffile.imread(path, aszarr=True)
            read.data = lazy_from_zarr(zarr.open_array(store, mode="r"))
        except Exception as exc:
            raise DataError(f"cannot read TIFF {path}: {exc}") from exc
    return read


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
        "multiscale": False,
    }
    units = units_kwarg([read.sizes.get(axes[i], (1.0, None))[1] for i in spatial])
    if units is not None:
        base["units"] = units
    if rgb:
        base["rgb"] = True
    return base


def read_tiff(path: Path) -> list[LayerSpec]:
    """Layer specs for the first series of the TIFF at ``path`` (one per channel)."""
    read = _read_series(path)
    axes, shape, stem = read.axes, read.shape, _stem(path)
    rgb = "S" in axes and axes.endswith("S") and shape[-1] in (3, 4)
    channel_axis = axes.find("C")
    spatial = [i for i, a in enumerate(axes) if i != channel_axis and not (rgb and a == "S")]
    base = _base_kwargs(read, spatial, rgb)
    n_channels = 1 if channel_axis < 0 else shape[channel_axis]
    fallback = default_colormaps(n_channels)
    specs = []
    for c in range(n_channels):
        if channel_axis < 0:
            layer, name = read.data, stem
        else:
            layer = read.data[(slice(None),) * channel_axis + (c,)]
            name = read.names[c] if c < len(read.names) and read.names[c] else f"{stem} [ch{c}]"
        kwargs = {**base, "name": name,
                  "contrast_limits": _contrast_limits(layer, read.imagej.get("Ranges"), c, rgb),
                  "blending": "additive" if n_channels > 1 else "translucent"}
        if not rgb:
            kwargs["colormap"] = (colormap_for_hex(read.colors[c], fallback[c])
                                  if c < len(read.colors) else fallback[c])
        specs.append(LayerSpec(data=layer, kwargs=kwargs))
    return specs


def _contrast_limits(layer: Any, ranges: Any, channel: int, rgb: bool) -> tuple[float, float]:
    """ImageJ display ranges when present, else min/max (of a subsample when the data is big)."""
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


def _pixel_sizes(tif: tifffile.TiffFile, axes: str) -> dict[str, tuple[float, str | None]]:
    """Physical size and unit per axis letter, from OME metadata or ImageJ tags."""
    if tif.is_ome and tif.ome_metadata:
        pixels = _find(ET.fromstring(tif.ome_metadata), "Pixels")
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


def _find(root: ET.Element, tag: str) -> ET.Element | None:
    """First element named ``tag`` in any namespace."""
    for element in root.iter():
        if element.tag == tag or element.tag.endswith("}" + tag):
            return element
    return None


def _ome_channels(ome_xml: str | None) -> tuple[list[str], list[str | None]]:
    """Channel names and colours (as OME signed RGBA integers) of the first OME image."""
    if not ome_xml:
        return [], []
    try:
        root = ET.fromstring(ome_xml)
    except ET.ParseError:
        names = re.findall(r'<Channel[^>]*\bName="([^"]*)"', ome_xml)
        return names, [None] * len(names)
    pixels = _find(root, "Pixels")
    if pixels is None:
        return [], []
    channels = [e for e in pixels if e.tag == "Channel" or e.tag.endswith("}Channel")]
    return [c.get("Name", "") for c in channels], [c.get("Color") for c in channels]
