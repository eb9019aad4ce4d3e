"""open_data on the real files in ../shared/data, on NGFF 0.4/0.5 stores written here, and on
paths that must fail with a one-line DataError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_engine.data import DataError, LayerSpec, open_data
from napari_engine.data.lazy_array import ChunkedArray


@pytest.fixture(scope="module")
def data_dir(shared_data: Path) -> Path:
    return shared_data


def _shapes(spec: LayerSpec) -> list[tuple[int, ...]]:
    levels = spec.data if isinstance(spec.data, list) else [spec.data]
    return [tuple(level.shape) for level in levels]


def _check_common(spec: LayerSpec) -> None:
    for key in ("name", "multiscale", "contrast_limits", "scale", "axis_labels", "blending"):
        assert key in spec.kwargs, key
    lo, hi = spec.kwargs["contrast_limits"]
    assert hi > lo
    ndim = len(_shapes(spec)[0]) - (1 if spec.kwargs.get("rgb") else 0)
    assert len(spec.kwargs["scale"]) == ndim
    assert len(spec.kwargs["axis_labels"]) == ndim
    assert spec.kwargs["multiscale"] == isinstance(spec.data, list)


def test_imagej_hyperstack_splits_channels(data_dir: Path) -> None:
    specs = open_data(str(data_dir / "dna_conf_wf_zcyx_u16.tif"))
    assert [s.kwargs["name"] for s in specs] == [
        "dna_conf_wf_zcyx_u16 [ch0]", "dna_conf_wf_zcyx_u16 [ch1]"]
    for spec in specs:
        _check_common(spec)
        assert _shapes(spec) == [(45, 130, 133)]
        assert spec.kwargs["axis_labels"] == ("z", "y", "x")
        assert spec.kwargs["scale"][0] == pytest.approx(0.4994, abs=1e-3)
        assert spec.kwargs["scale"][1] == pytest.approx(1 / 1.953591, rel=1e-4)
        assert spec.kwargs["blending"] == "additive"
        assert spec.kwargs["units"] == ("micrometer",) * 3
    assert specs[0].kwargs["colormap"] != specs[1].kwargs["colormap"]
    # Channel 1 has an ImageJ display range; it is used instead of scanning the data.
    assert specs[1].kwargs["contrast_limits"] == pytest.approx((624.0, 6281.91), abs=0.01)


def test_imagej_zstack(data_dir: Path) -> None:
    (spec,) = open_data(str(data_dir / "chromosomes_zyx_u16.tif"))
    _check_common(spec)
    assert spec.kwargs["name"] == "chromosomes_zyx_u16"
    assert _shapes(spec) == [(40, 152, 126)]
    assert spec.kwargs["axis_labels"] == ("z", "y", "x")
    assert spec.kwargs["scale"] == pytest.approx((0.15, 1e6 / 29538460, 1e6 / 29538460), rel=1e-6)
    assert spec.kwargs["blending"] == "translucent"
    assert spec.kwargs["colormap"] == "gray"


def test_plain_tiff_stack(data_dir: Path) -> None:
    (spec,) = open_data(str(data_dir / "cancer_cell_migration_tyx_u16.tif"))
    _check_common(spec)
    assert _shapes(spec) == [(48, 130, 130)]
    assert spec.kwargs["scale"] == (1.0, 1.0, 1.0)
    assert spec.kwargs["axis_labels"][1:] == ("y", "x")
    assert "units" not in spec.kwargs


def test_ome_tiff_channel_names_and_pixel_size(data_dir: Path) -> None:
    specs = open_data(str(data_dir / "neuron_4ch_cyx_u16.ome.tiff"))
    assert [s.kwargs["name"] for s in specs] == ["AF647", "AF568", "AF488", "DAPI"]
    for spec in specs:
        _check_common(spec)
        assert _shapes(spec) == [(623, 502)]
        assert spec.kwargs["scale"] == pytest.approx((0.1241, 0.1241))
        assert spec.kwargs["axis_labels"] == ("y", "x")
        assert spec.kwargs["units"] == ("micrometer", "micrometer")
    assert len({s.kwargs["colormap"] for s in specs}) == 4


def test_ngff_04_multiscale(data_dir: Path) -> None:
    (spec,) = open_data(str(data_dir / "nuclei_plk1.ome.zarr"))
    _check_common(spec)
    assert spec.kwargs["multiscale"] is True
    assert _shapes(spec) == [(1, 1, 682, 682), (1, 1, 341, 341), (1, 1, 170, 170)]
    assert all(isinstance(level, ChunkedArray) for level in spec.data)
    assert spec.kwargs["name"] == "Channel 0"
    assert spec.kwargs["axis_labels"] == ("t", "z", "y", "x")
    assert spec.kwargs["scale"] == pytest.approx((299.355, 1.0, 0.166053, 0.166053), rel=1e-5)
    assert spec.kwargs["units"] == ("second", "pixel", "micrometer", "micrometer")
    assert spec.kwargs["contrast_limits"] == (0.0, 251.0)
    assert spec.kwargs["colormap"] == "gray"
    assert spec.data[0].dtype == np.uint8
    assert int(np.asarray(spec.data[2][0, 0]).max()) > 0


def _write_ngff(root: Path, zarr_format: int, n_channels: int, omero: bool) -> list[np.ndarray]:
    """A small (t, c, z, y, x) multiscale with 2 levels, NGFF 0.5 on v3 or 0.4 on v2."""
    rng = np.random.default_rng(0)
    level0 = rng.integers(0, 1000, size=(2, n_channels, 4, 32, 48), dtype=np.uint16)
    level1 = level0[:, :, ::2, ::2, ::2].copy()
    group = zarr.create_group(str(root), zarr_format=zarr_format)  # type: ignore[arg-type]
    for name, arr in (("s0", level0), ("s1", level1)):
        group.create_array(name, shape=arr.shape, dtype=arr.dtype, chunks=(1, 1, 2, 16, 16))
        group[name][...] = arr
    axes = [{"name": "t", "type": "time", "unit": "second"},
            {"name": "c", "type": "channel"},
            {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    datasets = [
        {"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [2.0, 1.0, 0.5, 0.2, 0.2]},
            {"type": "translation", "translation": [0.0, 0.0, 1.0, 10.0, 20.0]}]},
        {"path": "s1", "coordinateTransformations": [
            {"type": "scale", "scale": [2.0, 1.0, 1.0, 0.4, 0.4]},
            {"type": "translation", "translation": [0.0, 0.0, 1.25, 10.1, 20.1]}]},
    ]
    multiscales = [{"version": "0.4", "name": "test image", "axes": axes, "datasets": datasets}]
    attrs: dict = {"multiscales": multiscales}
    if omero:
        attrs["omero"] = {"channels": [
            {"label": "DAPI", "color": "0000FF", "window": {"start": 10, "end": 900}},
            {"label": "GFP", "color": "00FF00", "window": {"start": 20, "end": 800}},
        ][:n_channels]}
    if zarr_format == 3:
        for entry in multiscales:
            entry.pop("version")
        attrs = {"ome": {"version": "0.5", **attrs}}
    group.attrs.update(attrs)
    return [level0, level1]


def test_ngff_05_zarr_v3_channels(tmp_path: Path) -> None:
    root = tmp_path / "image.ome.zarr"
    levels = _write_ngff(root, 3, n_channels=2, omero=True)
    assert (root / "zarr.json").is_file()
    specs = open_data(str(root))
    assert [s.kwargs["name"] for s in specs] == ["DAPI", "GFP"]
    assert [s.kwargs["colormap"] for s in specs] == ["blue", "green"]
    assert specs[0].kwargs["contrast_limits"] == (10.0, 900.0)
    for c, spec in enumerate(specs):
        _check_common(spec)
        assert _shapes(spec) == [(2, 4, 32, 48), (2, 2, 16, 24)]
        assert spec.kwargs["axis_labels"] == ("t", "z", "y", "x")
        assert spec.kwargs["scale"] == (2.0, 0.5, 0.2, 0.2)
        assert spec.kwargs["translate"] == (0.0, 1.0, 10.0, 20.0)
        assert spec.kwargs["units"] == ("second", "micrometer", "micrometer", "micrometer")
        assert spec.kwargs["blending"] == "additive"
        assert all(isinstance(level, ChunkedArray) for level in spec.data)
        np.testing.assert_array_equal(np.asarray(spec.data[0]), levels[0][:, c])
        np.testing.assert_array_equal(np.asarray(spec.data[1][1, 0]), levels[1][1, c, 0])


def test_ngff_04_zarr_v2_single_level_without_omero(tmp_path: Path) -> None:
    root = tmp_path / "plain.zarr"
    levels = _write_ngff(root, 2, n_channels=1, omero=False)
    assert (root / ".zattrs").is_file()
    (spec,) = open_data(str(root))
    _check_common(spec)
    assert spec.kwargs["name"] == "test image [ch0]"
    # Without an omero window the coarsest level's range is used.
    assert spec.kwargs["contrast_limits"] == (float(levels[1].min()), float(levels[1].max()))
    assert spec.kwargs["blending"] == "translucent"


def _bad_path(kind: str, root: Path) -> Path:
    """A path of the given kind of badness under ``root``."""
    if kind == "missing":
        return root / "missing.tif"
    if kind == "plain directory":
        return root
    if kind == "unsupported":
        (root / "notes.txt").write_text("hi")
        return root / "notes.txt"
    if kind == "corrupt tiff":
        (root / "broken.tif").write_bytes(b"not a tiff at all")
        return root / "broken.tif"
    (root / "bad.zarr").mkdir()  # multiscales pointing at a missing array
    (root / "bad.zarr" / ".zattrs").write_text('{"multiscales": [{"datasets": [{"path": "0"}]}]}')
    return root / "bad.zarr"


@pytest.mark.parametrize("kind, reason", [
    ("missing", "no such file"),
    ("plain directory", "not an OME-Zarr"),
    ("unsupported", "unsupported file type"),
    ("corrupt tiff", "cannot read TIFF"),
    ("broken zarr", "cannot read OME-Zarr"),
])
def test_bad_paths_raise_one_line_data_error(tmp_path: Path, kind: str, reason: str) -> None:
    path = _bad_path(kind, tmp_path)
    with pytest.raises(DataError) as info:
        open_data(str(path))
    message = str(info.value)
    assert reason in message
    assert str(path) in message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/cells.tif", "gs://bucket/a.ome.zarr"])
def test_remote_urls_of_what_is_not_read_remotely_are_refused_plainly(url: str) -> None:
    """Remote OME-Zarr opens (``test_remote_stores.py``); a remote TIFF or another
    cloud's store is refused before anything is fetched, naming the URL."""
    with pytest.raises(DataError, match="only") as info:
        open_data(url)
    assert url in str(info.value) and "\n" not in str(info.value)


def test_a_truncated_tiff_is_an_error_not_part_of_an_image(tmp_path: Path) -> None:
    """tifffile reads on in a truncated file (here one page of eight), only warning in
    its log; the reader refuses it."""
    import tifffile

    path = tmp_path / "cut.tif"
    data = np.random.default_rng(0).integers(0, 1000, (8, 256, 256), dtype=np.uint16)
    tifffile.imwrite(path, data, tile=(64, 64), compression="zlib")
    size = path.stat().st_size
    with path.open("r+b") as cut:
        cut.truncate(size * 2 // 3)
    with pytest.raises(DataError, match="truncated or damaged"):
        open_data(str(path))


def test_a_multi_file_ome_tiff_reads_no_file_outside_its_folder(tmp_path: Path) -> None:
    """An OME-TIFF names the files of a multi-file series (``UUID FileName``); one that
    names a file elsewhere is refused, not read."""
    import tifffile

    (tmp_path / "data").mkdir()
    tifffile.imwrite(tmp_path / "secret.ome.tif", np.full((8, 8), 7, np.uint8), ome=True)
    xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org'
           '/Schemas/OME/2016-06" UUID="urn:uuid:1"><Image ID="Image:0"><Pixels ID="P:0" '
           'DimensionOrder="XYZCT" Type="uint8" SizeX="8" SizeY="8" SizeZ="2" SizeC="1" '
           'SizeT="1"><Channel ID="C:0" SamplesPerPixel="1"/><TiffData IFD="0" PlaneCount='
           '"1"/><TiffData FirstZ="1" IFD="0" PlaneCount="1"><UUID FileName="../secret.ome'
           '.tif">urn:uuid:2</UUID></TiffData></Pixels></Image></OME>')
    tifffile.imwrite(tmp_path / "data" / "main.ome.tif", np.zeros((8, 8), np.uint8),
                     description=xml, metadata=None)
    with pytest.raises(DataError, match="outside its folder"):
        open_data(str(tmp_path / "data" / "main.ome.tif"))


def test_an_ome_zarr_reads_no_link_out_of_its_folder(tmp_path: Path) -> None:
    """A chunk that is a symbolic link to a file elsewhere is an error, not pixels
    (zarr's local store follows links: any file could be read as chunk bytes)."""
    from napari_engine.bench.stores import write_pyramid

    pyramid = write_pyramid(tmp_path, zarr_format=3, side=256, chunk=128)
    (tmp_path / "secret.txt").write_bytes(b"TOPSECRET" * 100)
    chunk = pyramid / "2" / "c" / "0" / "0"  # the coarsest level, read at open
    chunk.unlink()
    chunk.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DataError, match="links outside the OME-Zarr folder"):
        open_data(str(pyramid))
