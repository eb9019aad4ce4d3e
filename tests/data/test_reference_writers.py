"""Files as the field's reference writers write them (not this project's own code): what
napari-engine opens from them, and what a server shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import napari_engine
from napari_engine.data import DataError, open_data
from napari_engine.data.lazy_array import ChunkedArray
from napari_engine.server.process import ServerProcess

RED, CYAN = [255, 0, 0, 255], [0, 255, 255, 255]


@pytest.fixture(scope="module")
def ome_zarr_py_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ome-zarr-py's ``write_image`` (two channels, omero colours and windows, the second
    off at first) and ``write_labels`` (a label image with its colours)."""
    import zarr
    from ome_zarr.writer import write_image, write_labels

    path = tmp_path_factory.mktemp("ome-zarr-py") / "cells.ome.zarr"
    data = np.random.default_rng(0).integers(0, 1000, (2, 8, 96, 96), dtype=np.uint16)
    group = zarr.open_group(str(path), mode="w")
    write_image(data, group, axes="czyx", omero={"channels": [
        {"label": "DAPI", "color": "0000FF", "active": True,
         "window": {"start": 0, "end": 800, "min": 0, "max": 1000}},
        {"label": "GFP", "color": "00FF00", "active": False,
         "window": {"start": 0, "end": 900, "min": 0, "max": 1000}}]})
    labels = np.zeros((8, 96, 96), np.uint8)
    labels[:, 10:40, 10:40] = 1
    labels[:, 50:90, 50:90] = 2
    write_labels(labels, group, name="nuclei", axes="zyx", scaler=None, scale_factors=(2, 4),
                 label_metadata={"colors": [
        {"label-value": 1, "rgba": RED}, {"label-value": 2, "rgba": CYAN}]})
    return path


def test_channels_and_label_images_of_ome_zarr_py(ome_zarr_py_image: Path) -> None:
    specs = open_data(str(ome_zarr_py_image))
    assert [(s.kind, s.kwargs["name"]) for s in specs] == [
        ("image", "DAPI"), ("image", "GFP"), ("labels", "nuclei")]
    dapi, gfp, nuclei = specs
    assert dapi.kwargs["colormap"] == "blue" and dapi.kwargs["contrast_limits"] == (0, 800)
    assert dapi.kwargs.get("visible", True) and gfp.kwargs["visible"] is False
    assert nuclei.kwargs["colormap"] == {1: [1.0, 0.0, 0.0, 1.0], 2: [0.0, 1.0, 1.0, 1.0]}
    assert nuclei.kwargs["axis_labels"] == ("z", "y", "x")
    # a label image opened by itself is a labels layer too
    alone = open_data(str(ome_zarr_py_image / "labels" / "nuclei"))
    assert [(s.kind, s.kwargs["name"]) for s in alone] == [("labels", "nuclei")]


def test_a_server_shows_the_label_image_in_its_colours(ome_zarr_py_image: Path) -> None:
    with ServerProcess(["--token", "t", "--size", "240x240", "--data",
                        str(ome_zarr_py_image)]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            assert [(type(layer).__name__, layer.name) for layer in viewer.layers] == [
                ("ServerImage", "DAPI"), ("ServerImage", "GFP"), ("ServerLabels", "nuclei")]
            assert not viewer.layers["GFP"].visible
            colors = viewer.layers["nuclei"].colormap.color_dict
            np.testing.assert_allclose(colors[1], [1, 0, 0, 1])
            viewer.layers["DAPI"].visible = False  # the labels alone
            picture = viewer.screenshot()[..., :3].astype(int)
            red = (picture[..., 0] > 100) & (picture[..., 1] < 40) & (picture[..., 2] < 40)
            cyan = (picture[..., 1] > 100) & (picture[..., 2] > 100) & (picture[..., 0] < 40)
            assert red.sum() > 500 and cyan.sum() > 500
        finally:
            viewer.close()


def test_tifffile_pyramids_images_and_luts(tmp_path: Path) -> None:
    """tifffile's own writer: an OME-TIFF pyramid in SubIFDs (a whole-slide image's
    layout) is a multiscale layer read lazily; every image of a multi-image OME-TIFF is
    a layer; ImageJ channel LUTs give the channels their colours."""
    import tifffile

    data = np.random.default_rng(1).integers(0, 4000, (2, 1024, 1024), dtype=np.uint16)
    pyramid = tmp_path / "slide.ome.tif"
    with tifffile.TiffWriter(pyramid) as tif:
        tif.write(data, subifds=2, tile=(256, 256), photometric="minisblack",
                  metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP"]},
                            "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        for step in (2, 4):
            tif.write(data[:, ::step, ::step], subfiletype=1, tile=(256, 256),
                      photometric="minisblack")
    specs = open_data(str(pyramid))
    assert [s.kwargs["name"] for s in specs] == ["DAPI", "GFP"]
    assert all(s.kwargs["multiscale"] and s.kwargs["scale"] == (0.5, 0.5) for s in specs)
    assert [level.shape for level in specs[1].data] == [(1024, 1024), (512, 512), (256, 256)]
    np.testing.assert_array_equal(np.asarray(specs[1].data[1][100:120, 30:40]),
                                  data[1, ::2, ::2][100:120, 30:40])

    several = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(several, ome=True) as tif:
        tif.write(np.zeros((64, 64), np.uint8), metadata={"Name": "well A1"})
        tif.write(np.ones((32, 48), np.uint16), metadata={"Name": "well A2"})
    specs = open_data(str(several))
    assert [(s.kwargs["name"], s.data.shape) for s in specs] == [
        ("plate [well A1]", (64, 64)), ("plate [well A2]", (32, 48))]

    red = np.zeros((3, 256), np.uint8)
    red[0] = np.arange(256)
    gray = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    hyperstack = tmp_path / "luts.tif"
    tifffile.imwrite(hyperstack, np.zeros((2, 32, 32), np.uint16), imagej=True,
                     metadata={"axes": "CYX", "LUTs": [red, gray]})
    assert [s.kwargs["colormap"] for s in open_data(str(hyperstack))] == ["red", "gray"]


def _fire() -> np.ndarray:
    """A LUT that is no ramp to one colour (as ImageJ's Fire): black, red, yellow, white."""
    x = np.arange(256) / 255.0
    return (np.stack([np.clip(3 * x, 0, 1), np.clip(3 * x - 1, 0, 1),
                      np.clip(3 * x - 2, 0, 1)]) * 255).round().astype(np.uint8)


def test_an_imagej_lut_that_is_no_ramp_is_the_layers_colormap(tmp_path: Path) -> None:
    """tifffile's ImageJ hyperstack with a Fire-like LUT: the layer's colormap is the
    LUT's 256 colours, in scripts (defined: napari does not know it by name) and in the
    server's picture (a voxel at a third of the contrast range is the LUT's red)."""
    import tifffile

    image = np.zeros((64, 64), np.uint16)
    image[:, 32:] = 1000
    path = tmp_path / "fire.tif"
    tifffile.imwrite(path, image[None], imagej=True,
                     metadata={"axes": "CYX", "LUTs": [_fire()], "Ranges": (0.0, 3000.0)})
    (spec,) = open_data(str(path))
    colormap = spec.kwargs["colormap"]
    assert isinstance(colormap, dict) and colormap["name"].startswith("ImageJ LUT")
    np.testing.assert_allclose(np.asarray(colormap["colors"])[:, :3], _fire().T / 255,
                               atol=1e-3)
    with ServerProcess(["--token", "t", "--size", "128x64", "--data", str(path),
                        "--journal-dir", "none", "--interactive-scale", "1"]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            shown = viewer.layers[0].colormap
            picture = viewer.screenshot()
        finally:
            viewer.close()
    assert shown.name == colormap["name"]  # napari's Colormap, made from the definition
    np.testing.assert_allclose(shown.colors, colormap["colors"], atol=1e-3)
    right = picture[32, 70:90, :3].astype(int)  # 1000 of 0..3000: Fire's red, at 1/3
    np.testing.assert_allclose(right, np.tile(_fire()[:, 85], (20, 1)), atol=3)


def test_a_zipped_ome_zarr_opens_as_the_folder(ome_zarr_py_image: Path, tmp_path: Path) -> None:
    """An ``.ozx``: the OME-Zarr's files at the root of a zip archive, stored."""
    import zipfile

    from napari_engine.server.browsing import openable

    zipped = tmp_path / "cells.ozx"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in ome_zarr_py_image.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(ome_zarr_py_image).as_posix())
    specs, folder = open_data(str(zipped)), open_data(str(ome_zarr_py_image))
    assert [(s.kind, s.kwargs["name"]) for s in specs] == [
        (s.kind, s.kwargs["name"]) for s in folder]
    np.testing.assert_array_equal(np.asarray(specs[0].data[0][3]),
                                  np.asarray(folder[0].data[0][3]))
    assert openable(zipped, is_dir=False)  # File > Open on the server offers it
    (tmp_path / "broken.ozx").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot open zipped OME-Zarr"):
        open_data(str(tmp_path / "broken.ozx"))


def test_an_hcs_plate_shows_its_wells_side_by_side(tmp_path: Path) -> None:
    """ome-zarr-py's plate and well metadata: the first field of each well, tiled in
    the plate's rows and columns at every level (a missing well black), as
    napari-ome-zarr shows a plate; a well opened by itself shows its fields in a row."""
    import zarr
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    path = tmp_path / "plate.ome.zarr"
    root = zarr.open_group(str(path), mode="w")
    rows, columns = ["A", "B"], ["1", "2", "3"]
    wells = ["A/1", "A/2", "A/3", "B/1", "B/3"]  # B/2 was not imaged
    write_plate_metadata(root, rows, columns, wells, name="screen")
    for index, well in enumerate(wells):
        group = root.require_group(well)
        write_well_metadata(group, [{"path": "0"}, {"path": "1"}])
        for field in (0, 1):
            image = np.full((1, 64, 64), 10 * (index + 1) + field, np.uint16)
            write_image(image, group.require_group(str(field)), axes="cyx",
                        scale_factors=(2,))
    plate = open_data(str(path))
    assert len(plate) == 1 and plate[0].kwargs["name"] == "screen [ch0]"
    level0 = plate[0].data[0]
    assert level0.shape == (128, 192) and plate[0].kwargs["multiscale"]
    assert plate[0].data[1].shape == (64, 96)
    # read a well at a time, never waited for in a draw (``data.loader``)
    assert all(isinstance(level, ChunkedArray) for level in plate[0].data)
    tiles = np.asarray(level0)[::64, ::64]  # one value a well: its first field's
    np.testing.assert_array_equal(tiles, [[10, 20, 30], [40, 0, 50]])
    well = open_data(str(path / "A" / "2"))
    np.testing.assert_array_equal(np.asarray(well[0].data[0])[::64, ::64], [[20, 21]])


@pytest.mark.parametrize(("version", "sharded"), [("0.4", False), ("0.5", False),
                                                   ("0.5", True)])
def test_ngff_zarr_images_keep_their_scale_translation_and_units(
        tmp_path: Path, version: str, sharded: bool) -> None:
    """ngff-zarr's writer, NGFF 0.4 (zarr v2) and 0.5 (zarr v3, sharded or not)."""
    import ngff_zarr as nz

    data = np.random.default_rng(2).integers(0, 255, (16, 128, 128), dtype=np.uint8)
    image = nz.to_ngff_image(data, dims=["z", "y", "x"], name="embryo",
                             scale={"z": 2.0, "y": 0.5, "x": 0.5},
                             translation={"z": 10.0, "y": 0.0, "x": 5.0},
                             axes_units={d: "micrometer" for d in "zyx"})
    path = tmp_path / f"embryo-{version}.ome.zarr"
    options = {"chunks_per_shard": 2} if sharded else {}
    nz.to_ngff_zarr(str(path), nz.to_multiscales(image, scale_factors=[2, 4]),
                    version=version, **options)
    (spec,) = open_data(str(path))
    assert spec.kwargs["name"] == "embryo"
    assert spec.kwargs["scale"] == (2.0, 0.5, 0.5)
    assert spec.kwargs["translate"] == (10.0, 0.0, 5.0)
    assert spec.kwargs["units"] == ("micrometer",) * 3
    assert spec.kwargs["axis_labels"] == ("z", "y", "x")
    assert [level.shape for level in spec.data] == [(16, 128, 128), (8, 64, 64), (4, 32, 32)]
    np.testing.assert_array_equal(np.asarray(spec.data[0][5]), data[5])


def _shifted_pyramid(path: Path, shift: float) -> np.ndarray:
    """ome-zarr-py's ``write_multiscale``: a bright square, and its 2x2 block means as
    level 1, which the file places ``shift`` finest voxels right of and below the block
    it averages (0: where napari draws it)."""
    import zarr
    from ome_zarr.writer import write_multiscale

    image = np.zeros((128, 128), np.uint16)
    image[48:80, 56:88] = 1000
    coarse = image.reshape(64, 2, 64, 2).mean(axis=(1, 3)).astype(np.uint16)
    at = 0.5 + shift
    write_multiscale([image, coarse], zarr.open_group(str(path), mode="w"), axes="yx",
                     coordinate_transformations=[
                         [{"type": "scale", "scale": [1.0, 1.0]}],
                         [{"type": "scale", "scale": [2.0, 2.0]},
                          {"type": "translation", "translation": [at, at]}]])
    return image


def test_per_level_translations_place_each_level(tmp_path: Path) -> None:
    """ngff-zarr and ome-zarr-py write each level's translation where napari draws it
    (the centre of the block it averages): nothing to move. A level the file puts
    elsewhere is drawn there by the server: with level 1 locked, the square moves by
    the file's 4 voxels."""
    import ngff_zarr as nz
    import zarr
    from ome_zarr.writer import write_image

    data = np.random.default_rng(2).integers(0, 255, (4, 64, 64), dtype=np.uint8)
    nz.to_ngff_zarr(str(tmp_path / "ngff.ome.zarr"), nz.to_multiscales(
        nz.to_ngff_image(data, dims=["z", "y", "x"]), scale_factors=[2]))
    write_image(data, zarr.open_group(str(tmp_path / "ozp.ome.zarr"), mode="w"), axes="zyx")
    for name in ("ngff.ome.zarr", "ozp.ome.zarr"):
        (spec,) = open_data(str(tmp_path / name))
        assert [level.offset for level in spec.data] == [None] * len(spec.data), name

    _shifted_pyramid(tmp_path / "centred.ome.zarr", 0.0)
    _shifted_pyramid(tmp_path / "shifted.ome.zarr", 4.0)
    (shifted,) = open_data(str(tmp_path / "shifted.ome.zarr"))
    assert [level.offset for level in shifted.data] == [None, (4.0, 4.0)]

    shots = []
    with ServerProcess(["--token", "t", "--size", "160x160", "--empty", "--journal-dir",
                        "none", "--interactive-scale", "1", "--data-root",
                        str(tmp_path)]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            for name in ("centred.ome.zarr", "shifted.ome.zarr"):
                viewer.layers.clear()
                layer = viewer.add_image(str(tmp_path / name))
                layer.locked_data_level = 1
                viewer.scene.camera.center = (64.0, 64.0)
                viewer.scene.camera.zoom = 1.0
                shots.append(viewer.screenshot()[..., 0].astype(np.int32))
        finally:
            viewer.close()
    centred, moved = shots
    assert centred.std() > 0
    assert not np.array_equal(centred, moved)
    # the shifted file's picture is the centred one's, 4 pixels right and down
    np.testing.assert_array_equal(moved[4:, 4:], centred[:-4, :-4])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_bioio_ome_zarr_channels_windows_scale_and_units(tmp_path: Path,
                                                          zarr_format: int) -> None:
    """bioio's OME-Zarr writer (NGFF 0.4 on zarr v2, 0.5 on v3), two levels."""
    from bioio_ome_zarr.writers import Channel, OMEZarrWriter

    data = np.random.default_rng(1).integers(0, 4000, (2, 8, 128, 128), dtype=np.uint16)
    path = tmp_path / f"embryo-v{zarr_format}.ome.zarr"
    OMEZarrWriter(
        str(path), level_shapes=[(2, 8, 128, 128), (2, 8, 64, 64)], dtype=np.uint16,
        zarr_format=zarr_format, image_name="embryo",
        channels=[Channel(label="DAPI", color="0000FF",
                          window={"start": 0, "end": 3000, "min": 0, "max": 4000}),
                  Channel(label="GFP", color="00FF00", active=False,
                          window={"start": 100, "end": 2000, "min": 0, "max": 4000})],
        axes_names=["c", "z", "y", "x"], axes_types=["channel", "space", "space", "space"],
        axes_units=[None, "micrometer", "micrometer", "micrometer"],
        physical_pixel_size=[1.0, 2.0, 0.5, 0.5]).write_full_volume(data)
    dapi, gfp = open_data(str(path))
    assert (dapi.kwargs["name"], gfp.kwargs["name"]) == ("DAPI", "GFP")
    assert (dapi.kwargs["colormap"], gfp.kwargs["colormap"]) == ("blue", "green")
    assert (dapi.kwargs["contrast_limits"], gfp.kwargs["contrast_limits"]) == (
        (0.0, 3000.0), (100.0, 2000.0))
    assert dapi.kwargs.get("visible", True) and gfp.kwargs["visible"] is False
    assert dapi.kwargs["scale"] == (2.0, 0.5, 0.5)
    assert dapi.kwargs["units"] == ("micrometer",) * 3
    assert [level.shape for level in gfp.data] == [(8, 128, 128), (8, 64, 64)]
    np.testing.assert_array_equal(np.asarray(gfp.data[0][3]), data[1, 3])


def test_bioio_ome_tiff_channels_colours_and_pixel_sizes(tmp_path: Path) -> None:
    from bioio_base.types import PhysicalPixelSizes
    from bioio_ome_tiff.writers import OmeTiffWriter

    data = np.random.default_rng(1).integers(0, 4000, (2, 8, 64, 64), dtype=np.uint16)
    path = tmp_path / "embryo.ome.tiff"
    OmeTiffWriter.save(data, str(path), dim_order="CZYX", channel_names=["DAPI", "GFP"],
                       image_name="embryo", physical_pixel_sizes=PhysicalPixelSizes(2.0, 0.5, 0.5),
                       channel_colors=[[0, 0, 255], [0, 255, 0]])
    dapi, gfp = open_data(str(path))
    assert (dapi.kwargs["name"], gfp.kwargs["name"]) == ("DAPI", "GFP")
    assert (dapi.kwargs["colormap"], gfp.kwargs["colormap"]) == ("blue", "green")
    assert dapi.kwargs["scale"] == (2.0, 0.5, 0.5)
    assert dapi.kwargs["units"] == ("micrometer",) * 3
    np.testing.assert_array_equal(np.asarray(gfp.data)[5], data[1, 5])


def test_a_label_image_of_one_level_opens_in_memory_to_be_painted(tmp_path: Path) -> None:
    """ome-zarr-py's ``write_labels`` without a pyramid: the labels layer holds its data
    (napari paints arrays in memory; a multiscale one napari does not paint at all)."""
    import zarr
    from ome_zarr.writer import write_image, write_labels

    group = zarr.open_group(str(tmp_path / "cells.ome.zarr"), mode="w")
    write_image(np.zeros((48, 48), np.uint16), group, axes="yx")
    labels = np.zeros((48, 48), np.uint8)
    labels[5:20, 5:20] = 4
    write_labels(labels, group, name="nuclei", axes="yx", scaler=None, scale_factors=())
    _image, nuclei = open_data(str(tmp_path / "cells.ome.zarr"))
    assert nuclei.kind == "labels" and isinstance(nuclei.data, np.ndarray)
    np.testing.assert_array_equal(nuclei.data, labels)
    nuclei.data[30, 30] = 2  # writable
