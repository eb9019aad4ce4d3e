"""Read local OME-Zarr images (NGFF 0.4 on zarr v2, NGFF 0.5 on zarr v3) as lazy layer specs.

Only the metadata is read eagerly (plus the coarsest level when contrast limits are unknown);
every level is wrapped as a dask array over the zarr array, so the server reads just the chunks
a view needs. A channel axis becomes one layer per channel, as napari's ``channel_axis`` does,
so each channel gets its own name, colour and contrast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from napari_engine.data.colors import colormap_for_hex, default_colormaps
from napari_engine.data.lazy_array import ChunkedArray, level_offsets, link_levels
from napari_engine.data.spec import DataError, LayerSpec, brief
from napari_engine.data.units import units_kwarg
from napari_engine.data.zarr_arrays import chunked_zarr

log = logging.getLogger(__name__)


#: what an OME-Zarr group napari-engine opens says it is: an image, an HCS plate, a well
_OME_KINDS = ('"multiscales"', '"plate"', '"well"')


def is_ome_zarr(path: Path) -> bool:
    """Whether ``path`` is a directory that looks like an OME-Zarr image, plate or well
    (cheap, no parsing)."""
    if not path.is_dir():
        return False
    for marker in (path / ".zattrs", path / "zarr.json"):
        if marker.is_file():
            text = marker.read_text(errors="replace")
            return any(kind in text for kind in _OME_KINDS)
    return False


def ome_attrs(group: zarr.Group) -> dict[str, Any]:
    """A group's OME metadata (NGFF 0.5 keeps it under ``ome``, 0.4 at the top)."""
    attrs = dict(group.attrs)
    ome = attrs.get("ome")
    return {**attrs, **ome} if isinstance(ome, dict) else attrs


def _multiscales_attrs(group: zarr.Group) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``multiscales[0]`` entry and the ``omero`` block, for NGFF 0.4 and 0.5 layouts."""
    attrs = ome_attrs(group)
    multiscales = attrs.get("multiscales")
    if not isinstance(multiscales, list) or not multiscales:
        raise ValueError("no 'multiscales' metadata")
    omero = attrs.get("omero")
    return multiscales[0], omero if isinstance(omero, dict) else {}


def _transforms(entry: dict[str, Any], ndim: int) -> tuple[list[float], list[float]]:
    """Scale and translation from a list of coordinateTransformations (identity if absent)."""
    scale = [1.0] * ndim
    translate = [0.0] * ndim
    for transform in entry.get("coordinateTransformations", []) or []:
        kind = transform.get("type")
        if kind == "scale" and "scale" in transform:
            scale = [a * float(b) for a, b in zip(scale, transform["scale"], strict=True)]
        elif kind == "translation" and "translation" in transform:
            translate = [a + float(b) for a, b in
                         zip(translate, transform["translation"], strict=True)]
    return scale, translate


def _axes(meta: dict[str, Any], ndim: int) -> list[dict[str, Any]]:
    """Axes as dicts (NGFF 0.3 lists plain names; default to the last ``ndim`` of tczyx)."""
    axes = meta.get("axes")
    if not axes:
        return [{"name": n} for n in "tczyx"[-ndim:]] if ndim <= 5 else [
            {"name": f"dim_{i}"} for i in range(ndim)]
    out = [a if isinstance(a, dict) else {"name": str(a)} for a in axes]
    if len(out) != ndim:
        raise ValueError(f"{len(out)} axes in metadata but the arrays have {ndim} dimensions")
    for axis in out:
        if "type" not in axis and axis.get("name") == "c":
            axis["type"] = "channel"
    return out


def _image_group(group: zarr.Group) -> zarr.Group:
    """The image group: ``group``, or a bioformats2raw layout's first image ("0")."""
    layout = ome_attrs(group)
    if ("multiscales" not in layout and "plate" not in layout
            and "bioformats2raw.layout" in layout):
        image = group["0"]
        if isinstance(image, zarr.Group):
            return image
    return group


def read_ome_zarr(path: Path | str, store: Any = None) -> list[LayerSpec]:
    """Layer specs for the first multiscale image of the OME-Zarr at ``path`` (a local
    path; or a URL, read through ``store``: ``data.stores.remote_store``), then one labels
    layer per label image in its ``labels`` group, in their ``image-label`` colours. A
    label image opened itself is a labels layer."""
    try:
        from napari_engine.data.stores import contained_store, is_remote  # (a cycle)

        if store is None:  # a URL as zarr opens it (fsspec); a folder, links kept inside
            store = str(path) if is_remote(str(path)) else contained_store(path)
        root = zarr.open_group(store, mode="r")
        group = _image_group(root)
    except Exception as exc:  # zarr raises many types for malformed stores
        raise DataError(f"cannot read OME-Zarr {path}: {brief(exc)}") from exc
    leaf = Path(str(path).rstrip("/")).name
    attrs = ome_attrs(group)
    if "plate" in attrs or "well" in attrs:
        from napari_engine.data.hcs import read_hcs  # a plate is read as a tiled image

        return read_hcs(group, path, leaf)
    if "image-label" in attrs:
        return [_as_labels(spec, attrs["image-label"])
                for spec in image_specs(group, path, leaf)]
    return image_specs(group, path, leaf) + _label_specs(group, path)


#: a label image of one level up to this size is read into memory, to be painted (napari
#: paints no multiscale labels; a larger one is read as shown, and refuses a brush)
EDITABLE_LABELS_BYTES = 256 << 20


def _label_specs(image: zarr.Group, path: Path | str) -> list[LayerSpec]:
    """The image's label images (``labels/<name>``), as labels layers; one that cannot
    be read is left out (the image still opens), with a warning in the log."""
    try:
        labels = image["labels"]
    except Exception:  # no labels group
        return []
    if not isinstance(labels, zarr.Group):
        return []
    names = ome_attrs(labels).get("labels")
    specs = []
    for name in names if isinstance(names, list) else []:
        try:
            group = labels[str(name)]
            if not isinstance(group, zarr.Group):
                raise DataError("not a group")
            metadata = ome_attrs(group).get("image-label") or {}
            specs += [_as_labels(spec, metadata)
                      for spec in image_specs(group, f"{path}/labels/{name}", str(name))]
        except Exception as exc:
            log.warning("label image %r of %s not opened: %s", name, path, exc)
    return specs


def _as_labels(spec: LayerSpec, metadata: Any) -> LayerSpec:
    """An image layer's spec as a labels layer's, in the ``image-label`` colours (labels
    the metadata gives no colour to keep napari's)."""
    kwargs = {k: v for k, v in spec.kwargs.items()
              if k not in ("colormap", "contrast_limits", "blending")}
    colors = metadata.get("colors") if isinstance(metadata, dict) else None
    colormap = {int(c["label-value"]): [float(v) / 255 for v in c["rgba"]]
                for c in colors or [] if isinstance(c, dict)
                and "label-value" in c and isinstance(c.get("rgba"), list)
                and len(c["rgba"]) == 4}
    if colormap:
        kwargs["colormap"] = colormap
    data = spec.data
    if isinstance(data, ChunkedArray) and data.nbytes <= EDITABLE_LABELS_BYTES:
        data = np.asarray(data)  # in memory: painted and saved as napari's own labels
    return LayerSpec(data=data, kwargs=kwargs, kind="labels")


def image_specs(group: zarr.Group, path: Path | str, leaf: str,
                tile: Callable[[Any], ChunkedArray] = chunked_zarr,
                name: str | None = None) -> list[LayerSpec]:
    """Layer specs for the multiscale image of ``group`` (one per channel); ``tile``
    makes each level's data from its array, and ``name`` names it (an HCS plate tiles
    its wells, and is named after the plate)."""
    try:
        meta, omero = _multiscales_attrs(group)
        datasets = meta.get("datasets") or []
        if not datasets:
            raise ValueError("'multiscales' lists no datasets")
        arrays: list[Any] = [group[d["path"]] for d in datasets]
    except DataError:
        raise
    except Exception as exc:  # zarr raises many types for malformed stores
        raise DataError(f"cannot read OME-Zarr {path}: {exc}") from exc
    if not all(isinstance(arr, zarr.Array) for arr in arrays):
        raise DataError(f"cannot read OME-Zarr {path}: a dataset is not an array")
    ndim = arrays[0].ndim
    axes = _axes(meta, ndim)
    scale, translate = _transforms(datasets[0], ndim)
    # Transformations shared by all datasets come after them (NGFF 0.4+).
    outer_scale, outer_translate = _transforms(meta, ndim)
    scale = [a * b for a, b in zip(scale, outer_scale, strict=True)]
    translate = [a * s + b for a, s, b in zip(translate, outer_scale, outer_translate, strict=True)]

    channel_axis = next((i for i, a in enumerate(axes) if a.get("type") == "channel"), None)
    levels = [tile(arr) for arr in arrays]
    placed = [_transforms(d, ndim) for d in datasets]
    for level, offset in zip(levels, level_offsets([arr.shape for arr in arrays],
                                                   [p[0] for p in placed],
                                                   [p[1] for p in placed]), strict=True):
        level.offset = offset
    keep = [i for i in range(ndim) if i != channel_axis]
    base: dict[str, Any] = {
        "scale": tuple(scale[i] for i in keep),
        "translate": tuple(translate[i] for i in keep),
        "axis_labels": tuple(str(axes[i].get("name", f"dim_{i}")) for i in keep),
    }
    units = units_kwarg([axes[i].get("unit") for i in keep])
    if units is not None:
        base["units"] = units
    multiscale = len(levels) > 1
    image_name = name or str(meta.get("name") or leaf.removesuffix(".zarr").removesuffix(".ome"))

    n_channels = 1 if channel_axis is None else int(arrays[0].shape[channel_axis])
    channels_meta: list[Any] = omero.get("channels") or []
    if not isinstance(channels_meta, list):
        channels_meta = []
    fallback_colormaps = default_colormaps(n_channels)
    specs = []
    for c in range(n_channels):
        data = (levels if channel_axis is None
                else [level.take(channel_axis, c) for level in levels])
        link_levels(data)
        info = channels_meta[c] if c < len(channels_meta) else {}
        info = info if isinstance(info, dict) else {}
        default_name = image_name if channel_axis is None else f"{image_name} [ch{c}]"
        kwargs = {**base, **_channel(info, default_name, fallback_colormaps[c]),
                  "multiscale": multiscale,
                  "contrast_limits": _contrast_limits(info.get("window"), data[-1], path),
                  "blending": "additive" if n_channels > 1 else "translucent"}
        specs.append(LayerSpec(data=data if multiscale else data[0], kwargs=kwargs))
    return specs


def _channel(info: dict[str, Any], default_name: str, fallback_colormap: str
             ) -> dict[str, Any]:
    """A channel's name, colour and visibility from its ``omero`` entry."""
    kwargs: dict[str, Any] = {
        "name": str(info.get("label") or default_name),
        "colormap": colormap_for_hex(info.get("color"), fallback_colormap)}
    if info.get("active") is False:  # shown off at first
        kwargs["visible"] = False
    return kwargs


def _contrast_limits(window: Any, coarsest: Any, path: Path | str) -> tuple[float, float]:
    """From the omero window (start/end) when present, else the coarsest level's min/max."""
    if isinstance(window, dict) and "start" in window and "end" in window:
        lo, hi = float(window["start"]), float(window["end"])
        if hi > lo:
            return lo, hi
    try:
        return data_range(coarsest)
    except Exception as exc:  # the store's own errors (HTTP, decoding)
        raise DataError(f"cannot read OME-Zarr {path}: {brief(exc)}") from exc


def data_range(array: Any) -> tuple[float, float]:
    """Min and max of a (small) array, widened so that napari gets a non-empty range."""
    values = np.asarray(array)
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi
