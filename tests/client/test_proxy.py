"""The scripting client against a real server: napari's own viewer API, reads, writes and
screenshots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from threading import get_ident
from typing import Any

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image

import napari_engine
from napari_engine import ProxyViewer
from napari_engine.client.connection import ConnectionLost, RemoteError
from napari_engine.client.remote_data import RemoteArray
from napari_engine.server.process import ServerProcess
from tests.conftest import SHARED_DATA, write_contrast_volume


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    roots = ["--data-root", str(SHARED_DATA)] if SHARED_DATA is not None else []
    with ServerProcess(["--token", "t", "--size", "400x300", *roots]) as proc:
        yield proc


@pytest.fixture
def viewer(server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[ProxyViewer]:
    url = server.url.replace("/?", f"/session/{request.node.name[:60]}?")
    with napari_engine.connect(url, stream="none") as v:
        yield v


def _square(value: int = 200) -> np.ndarray:
    img = np.zeros((64, 64), np.uint8)
    img[16:48, 16:48] = value
    return img


def test_sample_session_state(viewer: ProxyViewer) -> None:
    assert isinstance(viewer, ViewerModel)  # napari's own viewer model
    assert viewer.dims.ndim == 3 and viewer.dims.ndisplay == 2
    assert len(viewer.layers) >= 2
    layer = viewer.layers[0]
    assert isinstance(layer, Image) and layer.multiscale
    assert layer.level_shapes[0][-1] >= 100_000  # level 0 is far larger than memory
    assert layer.dtype == np.uint16
    assert isinstance(layer.data[0], RemoteArray)  # voxels cross only when read
    assert all(s == 0 for s in layer._slice.image.raw.strides)
    assert tuple(viewer.canvas.size) == (300, 400)


def test_camera_and_dims_round_trip(viewer: ProxyViewer) -> None:
    viewer.scene.camera.zoom = 0.01
    viewer.scene.camera.center = (1000.0, 2000.0)
    viewer.dims.set_current_step(0, 7)
    assert viewer.scene.camera.zoom == 0.01  # optimistic: no round trip needed to read back
    viewer.sync()
    assert viewer.scene.camera.zoom == pytest.approx(0.01)
    assert viewer.scene.camera.center[-2:] == pytest.approx((1000.0, 2000.0))
    assert viewer.dims.current_step[0] == 7
    viewer.dims.ndisplay = 3
    viewer.sync()
    assert viewer.dims.ndisplay == 3
    viewer.scene.camera.angles = (0.0, 30.0, 45.0)
    viewer.sync()
    assert viewer.scene.camera.angles == pytest.approx((0.0, 30.0, 45.0))


def test_add_image_array_and_layer_properties(viewer: ProxyViewer) -> None:
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    layer = viewer.add_image(_square(), name="square", colormap="gray", contrast_limits=(0, 255))
    assert not isinstance(layer, list)
    viewer.reset_view()
    shot = viewer.screenshot()
    assert shot.shape == (300, 400, 4)
    assert shot[150, 200, 0] > 150  # the square, white, in the middle
    assert shot[5, 5, 0] == 0
    layer.colormap = "red"
    shot = viewer.screenshot()
    assert shot[150, 200, 0] > 150 and shot[150, 200, 1] == 0
    layer.contrast_limits = (0, 400)
    assert viewer.screenshot()[150, 200, 0] < 150
    layer.opacity = 0.0
    assert viewer.screenshot()[..., :3].max() == 0
    layer.opacity = 1.0
    layer.visible = False
    assert viewer.screenshot()[..., :3].max() == 0
    layer.visible = True
    layer.gamma = 2.0
    layer.blending = "additive"
    viewer.sync()
    assert (layer.gamma, layer.blending) == (2.0, "additive")
    assert viewer.connection.layer(viewer.layer_id(layer))["gamma"] == 2.0  # the server's


def test_layer_list_operations(viewer: ProxyViewer) -> None:
    a = viewer.add_image(_square(50), name="a")
    b = viewer.add_image(_square(100), name="b")
    assert viewer.layers[-1] == b and viewer.layers.index("a") == len(viewer.layers) - 2
    viewer.layers.move(len(viewer.layers) - 1, 0)
    assert viewer.layers[0] == b
    viewer.layers.selection.active = a
    viewer.sync()
    assert set(viewer.layers.selection) == {a}
    server = viewer.connection.section("selection")
    assert server["selected"] == [viewer.layer_id(a)] and server["active"] == viewer.layer_id(a)
    viewer.layers.remove("b")
    viewer.sync()
    assert "b" not in viewer.layers and "a" in viewer.layers
    assert [x["name"] for x in viewer.connection.layers()] == [x.name for x in viewer.layers]


def test_add_image_from_server_path(viewer: ProxyViewer, shared_data: Path) -> None:
    layers = viewer.add_image(shared_data / "dna_conf_wf_zcyx_u16.tif")
    assert isinstance(layers, list) and len(layers) == 2  # two channels, two layers
    assert layers[0].data.shape == (45, 130, 133)


def test_bad_values_raise_locally_or_remotely(viewer: ProxyViewer) -> None:
    layer = viewer.layers[0]
    with pytest.raises(ValueError, match="opacity"):
        layer.opacity = 3.0  # napari refuses it before it travels
    with pytest.raises(KeyError):
        layer.colormap = "not-a-colormap"
    with pytest.raises(RemoteError, match="not_found"):
        viewer.add_image("/no/such/file.ome.zarr")
    # a command nobody waits for, refused by the server: the error still comes back
    viewer.connection.send_command("layer.set", {"layer": viewer.layer_id(layer),
                                                 "props": {"blending": "no-such-blending"}})
    viewer.sync()
    assert viewer.connection.errors and viewer.connection.errors[-1].code == "invalid"
    assert "blending" in viewer.connection.errors[-1].message


def test_screenshot_is_deterministic(viewer: ProxyViewer) -> None:
    viewer.scene.camera.zoom = 0.02
    first = viewer.screenshot()
    viewer.scene.camera.zoom = 0.05
    viewer.scene.camera.zoom = 0.02
    assert np.array_equal(first, viewer.screenshot())


def test_closed_connection_fails_fast(server: ServerProcess) -> None:
    viewer = napari_engine.connect(server.url, stream="none")
    viewer.close()
    with pytest.raises(ConnectionLost):
        viewer.scene.camera.zoom = 2.0


def test_wrong_token_is_a_clear_error(server: ServerProcess) -> None:
    with pytest.raises(ConnectionRefusedError, match="401"):
        napari_engine.connect(server.url.replace("token=t", "token=x"))


def test_a_scripts_viewer_changes_only_on_the_scripts_own_thread(viewer: ProxyViewer) -> None:
    """napari's models are not thread-safe: another client's change waits until the script
    next uses its viewer, and is then applied on the script's own thread."""
    other = napari_engine.connect(viewer.connection.url, stream="none")
    connection = viewer.connection  # (any use of the viewer itself would apply updates)
    try:
        threads: list[int] = []
        viewer.scene.camera.events.zoom.connect(lambda _e: threads.append(get_ident()))
        other.scene.camera.zoom = 0.0123
        other.sync()
        deadline = time.monotonic() + 10
        while connection.section("camera")["zoom"] != 0.0123:
            assert time.monotonic() < deadline, "the change never reached this client"
            time.sleep(0.02)
        assert threads == []  # arrived, but nothing touched the model behind the script
        assert viewer.scene.camera.zoom == pytest.approx(0.0123)  # using it applies it
        assert threads == [get_ident()]
    finally:
        other.close()


def test_a_failing_reply_callback_does_not_stop_the_connection(viewer: ProxyViewer) -> None:
    def broken(_result: object) -> None:
        raise RuntimeError("a bug in the caller's callback")

    viewer.connection.send_command("sync", on_reply=broken)
    viewer.sync()  # the reader survived: later answers still arrive
    assert viewer.connection.connected.is_set()


def test_leaving_3d_keeps_the_slice_as_napari_does(start_server: Any, tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "planes.tif"
    tifffile.imwrite(path, np.zeros((5, 64, 64), np.uint16))
    server = start_server("--size", "320x240", "--data", str(path))
    local = ViewerModel()
    local.add_image(np.zeros((5, 64, 64), np.uint16))
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        for model in (local, viewer):
            model.dims.set_current_step(0, 3)
            model.dims.ndisplay = 3
            model.dims.ndisplay = 2
        viewer.sync()
        assert viewer.dims.current_step[0] == local.dims.current_step[0] == 3
        state = viewer.connection.section("dims")
        assert state["current_step"][0] == 3 and state["ndisplay"] == 2
    finally:
        viewer.close()


def test_what_napari_computes_from_data_is_the_servers(start_server: Any,
                                                       tmp_path: Path) -> None:
    """The histogram, the data range (auto-contrast) and the thumbnail of a layer whose
    pixels stay on the server, against local napari on the same data."""
    volume, path = write_contrast_volume(tmp_path)
    server = start_server("--size", "320x240", "--data", str(path))
    local = ViewerModel().add_image(volume)
    viewer = napari_engine.connect(server.url, stream="none")
    try:
        remote = viewer.layers[0]
        viewer.dims.set_current_step(0, 2)
        local.refresh()
        for layer in (local, remote):
            layer.histogram.bins = 16
        (edges, counts), (local_edges, local_counts) = (
            list(layer.histogram.compute())[-1] for layer in (remote, local))
        np.testing.assert_allclose(edges, local_edges)
        np.testing.assert_array_equal(counts, local_counts)
        assert counts.sum() == 64 * 64 and np.count_nonzero(counts) == 3
        remote.reset_contrast_limits(mode="slice")
        assert list(remote.contrast_limits) == [0.0, 3000.0]
        viewer.dims.set_current_step(0, 0)
        remote.reset_contrast_limits(mode="slice")
        assert list(remote.contrast_limits) == [0.0, 1000.0]
        viewer.sync()
        assert remote.thumbnail[..., :3].max() > 0
    finally:
        viewer.close()


def test_a_layer_put_in_the_list_is_made_on_the_server_where_it_was_put(
        viewer: ProxyViewer) -> None:
    from napari.layers import Points

    count = len(viewer.layers)
    viewer.layers.insert(0, Points(np.array([[3.0, 4.0]]), name="mine"))
    viewer.sync()
    assert viewer.layers[0].name == "mine" and len(viewer.layers) == count + 1
    assert viewer.connection.layers()[0]["name"] == "mine"
    assert viewer.connection.layers()[0]["data"] == [[3.0, 4.0]]
    # every napari layer kind, made by napari's own add_*: this very object is the layer
    vectors = viewer.add_vectors(np.array([[[1.0, 1.0], [2.0, 0.0]]]), edge_width=3)
    tracks = viewer.add_tracks(np.array([[0, 0, 1.0, 1.0], [0, 1, 2.0, 2.0]]))
    surface = viewer.add_surface((np.array([[0.0, 0.0], [0.0, 5.0], [5.0, 0.0]]),
                                  np.array([[0, 1, 2]])))
    viewer.sync()
    assert viewer.layers[-3:] == [vectors, tracks, surface]
    assert [x["type"] for x in viewer.connection.layers()[-3:]] == [
        "vectors", "tracks", "surface"]
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:  # and another client of the session has them too
        assert [x._type_string for x in other.layers[-3:]] == ["vectors", "tracks", "surface"]
        np.testing.assert_array_equal(other.layers[-3].data, vectors.data)
        np.testing.assert_array_equal(other.layers[-1].data[1], [[0, 1, 2]])
    finally:
        other.close()


def test_layer_data_is_the_servers_read_region_by_region(viewer: ProxyViewer,
                                                         server: ServerProcess) -> None:
    """``layer.data`` of an image on the server: what numpy would give on the same array,
    only the region asked for crossing; a labels layer's data written from the script is
    the server's, for every client of the session."""
    volume = np.random.default_rng(3).integers(0, 60000, (6, 70, 90), dtype=np.uint16)
    image = viewer.add_image(volume, name="vol")
    for key in [(2, slice(10, 50, 3), slice(None, None, -5)), (Ellipsis, 7), 4,
                (slice(None), 69, slice(80, None))]:
        np.testing.assert_array_equal(image.data[key], volume[key])
    np.testing.assert_array_equal(np.asarray(image.data), volume)
    before = viewer.connection.traffic.get("data", 0)
    assert image.data[3, 20:30, 40:50].sum() == volume[3, 20:30, 40:50].sum()
    assert viewer.connection.traffic["data"] - before < 10 * 10 * 2 + 1024  # one box
    with pytest.raises(TypeError, match="read-only"):
        image.data[0, 0, 0] = 1
    image.data = volume[:3, ::2]  # napari's ``layer.data = ...``: the server's layer too
    assert image.data.shape == (3, 35, 90)
    np.testing.assert_array_equal(np.asarray(image.data), volume[:3, ::2])
    assert viewer.connection.layers()[-1]["shape"] == [3, 35, 90]

    sample = viewer.layers[0]  # the petabyte sample: any region of any level
    level0 = sample.data[0]
    assert level0.shape[-1] >= 100_000
    corner = level0[level0.shape[0] // 2, 5000:5016, 7000:7032]
    assert corner.shape == (16, 32) and corner.dtype == np.uint16 and corner.any()
    with pytest.raises(MemoryError, match="index a region"):
        np.asarray(level0[0])

    labels = viewer.add_labels(np.zeros((6, 70, 90), np.uint8), name="painted")
    labels.data[2, 10:20, 30:40] = 5
    labels.data[volume > 59000] = 9
    expected = np.zeros(volume.shape, np.uint8)
    expected[2, 10:20, 30:40] = 5
    expected[volume > 59000] = 9
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        np.testing.assert_array_equal(np.asarray(other.layers["painted"].data), expected)
    finally:
        other.close()
    with pytest.raises(RemoteError, match="ends at 91"):  # the server checks regions too
        viewer.connection.request("layer.read", {
            "layer": viewer.layer_id(labels), "region": [[0, 1, 1], [0, 1, 1], [0, 91, 1]]})


def test_only_layers_that_come_in_one_read_are_downloaded(viewer: ProxyViewer) -> None:
    """``layers.save`` writes here what comes in one read; the rest is written on the
    server (test_saving checks the writing)."""
    from napari_engine.client.viewer import _downloadable

    small = viewer.add_image(np.zeros((8, 8), np.uint8))
    assert _downloadable(small) and _downloadable(viewer.add_points([[1.0, 2.0]]))
    assert not _downloadable(viewer.layers[0])  # the petabyte sample


def test_a_scripts_status_and_values_are_the_servers(viewer: ProxyViewer) -> None:
    """napari's ``get_value`` and status text in a script: from the real voxels."""
    data = np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) + 1000
    layer = viewer.add_image(data, name="values")
    assert layer.get_value((5, 7)) == data[5, 7]
    assert layer.get_value((50, 7)) is None
    viewer.dims.ndisplay = 2
    viewer.mouse_over_canvas = True
    viewer.cursor.position = (0.0, 5.0, 7.0)[-viewer.dims.ndim:]
    status, _tooltip = viewer._calc_status_from_cursor()
    assert str(data[5, 7]) in str(status)
    viewer.mouse_over_canvas = False
    assert viewer._calc_status_from_cursor() is None


def test_open_reads_where_the_file_is(viewer: ProxyViewer, shared_data: Path,
                                      tmp_path: Path) -> None:
    """napari's ``viewer.open``: a file the server reads is opened there; one it cannot
    (a points table) is read here by napari's readers and made on the server."""
    count = len(viewer.layers)
    opened = viewer.open(shared_data / "chromosomes_zyx_u16.tif")
    assert len(opened) == 1 and isinstance(opened[0].data, RemoteArray)
    table = tmp_path / "spots.csv"
    viewer.add_points([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], name="spots")
    viewer.layers.selection = {viewer.layers["spots"]}
    viewer.layers.save(str(table), selected=True)
    (points,) = viewer.open(table)
    viewer.sync()
    assert points._type_string == "points" and len(points.data) == 2
    assert len(viewer.layers) == count + 3
    assert viewer.connection.layers()[-1]["data"] == points.data.tolist()


def test_grid_mode_is_the_servers(viewer: ProxyViewer) -> None:
    """napari's grid mode (the viewer button, ``viewer.canvas.grid``) draws on the server."""
    square = np.zeros((40, 40), np.uint8)
    square[10:30, 10:30] = 255
    viewer.add_image(square, colormap="red")
    viewer.add_image(square, colormap="green", blending="additive")
    before = viewer.screenshot()
    viewer.canvas.grid.enabled = True
    viewer.canvas.grid.spacing = 0.1
    viewer.sync()
    assert viewer.connection.section("overlays")["grid"]["enabled"] is True
    after = viewer.screenshot()
    assert not np.array_equal(before, after)
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        assert other.canvas.grid.enabled and other.canvas.grid.spacing == pytest.approx(0.1)
    finally:
        other.close()
    viewer.canvas.grid.enabled = False


def test_a_colormap_made_here_is_drawn_by_the_server(viewer: ProxyViewer) -> None:
    from napari.utils.colormaps import Colormap

    for other in list(viewer.layers):
        viewer.layers.remove(other)
    layer = viewer.add_image(np.full((16, 16), 255, np.uint8), contrast_limits=(0, 255))
    layer.colormap = Colormap([[0, 0, 0, 1], [1.0, 0.5, 0.0, 1]], name="my_orange")
    viewer.sync()
    shared = viewer.connection.layers()[-1]["colormap"]  # defined, for every client
    assert shared["name"] == "my_orange"
    np.testing.assert_allclose(shared["colors"], [[0, 0, 0, 1], [1.0, 0.5, 0.0, 1]])
    viewer.layers.selection.active = layer
    viewer.reset_view()
    shot = viewer.screenshot()
    h, w = shot.shape[:2]
    r, g, b = (int(c) for c in shot[h // 2, w // 2, :3])
    assert r > 200 and 90 < g < 170 and b < 40, (r, g, b)


def test_coordinates_edited_in_a_script_are_the_servers(viewer: ProxyViewer) -> None:
    """napari's ways of editing points and shapes (``data = ...``, ``add``,
    ``remove_selected``, ``add_rectangles``) change the server's layers, and stay."""
    points = viewer.add_points(np.array([[1.0, 1.0]]), name="p")
    points.data = np.array([[5.0, 5.0], [6.0, 6.0]])
    points.add([3.0, 3.0])
    points.selected_data = {0}
    points.remove_selected()
    shapes = viewer.add_shapes(name="s")
    shapes.add_rectangles(np.array([[0.0, 0.0], [5.0, 5.0]]))
    viewer.sync()
    assert points.data.tolist() == [[6.0, 6.0], [3.0, 3.0]]  # not undone by the server
    assert len(shapes.data) == 1
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        assert other.layers["p"].data.tolist() == [[6.0, 6.0], [3.0, 3.0]]
        assert len(other.layers["s"].data) == 1
        assert [str(t) for t in other.layers["s"].shape_type] == ["rectangle"]
        other.layers["p"].add([9.0, 9.0])  # and the other way round
        other.sync()
    finally:
        other.close()
    viewer.sync()
    assert viewer.layers["p"].data.tolist()[-1] == [9.0, 9.0]
    many = np.random.default_rng(0).uniform(0, 100, (60_000, 2))  # 1.8 MB of JSON:
    points.data = many  # one array in a payload
    viewer.sync()
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        np.testing.assert_array_equal(other.layers["p"].data, many)
    finally:
        other.close()


def test_what_a_new_user_tried_behaves_as_napari(viewer: ProxyViewer, tmp_path: Path
                                                  ) -> None:
    """Found trying the scripting client as a new user: names, units, reverse, numpy
    arithmetic and index errors, data replaced seen by another client, screenshot path."""
    myimg = np.arange(16, dtype=np.uint16).reshape(4, 4)
    assert viewer.add_image(myimg).name == "myimg"  # napari names it after the variable
    assert viewer.add_image(np.ones((4, 4))).name.startswith("Image")
    layer = viewer.add_image(np.zeros((4, 8, 8), np.uint8), name="u",
                             units=("um", "nm", "nm"), axis_labels=("z", "y", "x"))
    np.testing.assert_array_equal(viewer.layers["myimg"].data + 1, myimg + 1)
    with pytest.raises(IndexError, match="valid indices"):
        viewer.layers["myimg"].data[1.5]
    with pytest.raises(IndexError, match="boolean index"):
        viewer.layers["myimg"].data[np.array([True, False])]
    names = [x.name for x in viewer.layers]
    viewer.layers.reverse()
    viewer.sync()
    assert [x.name for x in viewer.layers] == names[::-1]
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        assert [x.name for x in other.layers] == names[::-1]
        assert [str(u) for u in other.layers["u"].units] == ["micrometer", "nanometer",
                                                             "nanometer"]
        layer.data = np.full((2, 3, 3), 7, np.uint8)
        viewer.sync()
        other.sync()
        replaced = other.layers["u"]
        assert replaced.data.shape == (2, 3, 3)
        assert np.unique(np.asarray(replaced.data)).tolist() == [7]
    finally:
        other.close()
    shot = viewer.screenshot(tmp_path / "shot.png")
    assert (tmp_path / "shot.png").exists() and shot.ndim == 3
    with pytest.raises(NotImplementedError, match="canvas"):
        viewer.screenshot(size=(100, 100))


def test_a_property_the_server_does_not_get_is_said_not_silently_dropped(
        viewer: ProxyViewer) -> None:
    points = viewer.add_points([[1.0, 2.0]])
    with pytest.warns(UserWarning, match="'antialiasing' is not sent to the "
                                         "napari-engine server"):
        points.antialiasing = 0.5
    points.opacity = 0.5  # one it carries: no warning
    viewer.sync()
    assert viewer.connection.layers()[-1]["opacity"] == 0.5
    # a row of the table for other kinds of layers only: said too
    vectors = viewer.add_vectors(np.array([[[1.0, 1.0], [2.0, 0.0]]]))
    with pytest.warns(UserWarning, match="vectors layers' 'edge_width' is not sent"):
        vectors.edge_width = 3.0


def test_a_labels_colormap_travels(viewer: ProxyViewer) -> None:
    """A labels layer's colours (napari's direct {label: colour} map, or its cyclic one,
    shuffled by the controls' button) reach the server, which draws with them, and the
    other clients."""
    viewer.layers.clear()
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        data = np.zeros((40, 40), np.uint8)
        data[:, :20], data[:, 20:] = 1, 2
        labels = viewer.add_labels(data, name="cells",
                                   colormap={1: "red", 2: "blue", None: "transparent"})
        viewer.sync()
        other.sync()
        seen = other.layers["cells"].colormap
        np.testing.assert_allclose(seen.color_dict[1], [1, 0, 0, 1])
        np.testing.assert_allclose(seen.color_dict[2], [0, 0, 1, 1])
        picture = viewer.screenshot()[..., :3].astype(int)
        red = (picture[..., 0] > 150) & (picture[..., 1] < 60) & (picture[..., 2] < 60)
        blue = (picture[..., 2] > 150) & (picture[..., 0] < 60) & (picture[..., 1] < 60)
        assert red.sum() > 100 and blue.sum() > 100
        labels.colormap = {1: "yellow", None: "transparent"}
        viewer.sync()
        other.sync()
        np.testing.assert_allclose(other.layers["cells"].colormap.color_dict[1], [1, 1, 0, 1])
        # napari's cyclic colours, shuffled as the controls' button does
        shuffled = viewer.add_labels(data, name="shuffled")
        before = shuffled.colormap.colors.copy()
        shuffled.new_colormap(seed=3)
        viewer.sync()
        other.sync()
        assert not np.array_equal(shuffled.colormap.colors, before)
        np.testing.assert_allclose(other.layers["shuffled"].colormap.colors,
                                   shuffled.colormap.colors, atol=1 / 255)
    finally:
        other.close()


def test_each_point_and_shape_keeps_its_own_size_and_colours(viewer: ProxyViewer) -> None:
    """napari's per-point and per-shape values (size, symbol, face and border colours,
    edge colours and widths) travel at creation and when a script sets them; the server
    draws them and other clients see them."""
    viewer.layers.clear()  # the sample's extent would make the points specks
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        points = viewer.add_points([[20.0, 20.0], [80.0, 80.0]], size=[8, 16],
                                   face_color=["red", "blue"], symbol=["disc", "square"],
                                   name="dots")
        shapes = viewer.add_shapes([np.array([[10.0, 60.0], [40.0, 90.0]])],
                                   shape_type="rectangle", edge_color=["lime"],
                                   edge_width=[3.0], face_color=["magenta"], name="box")
        viewer.sync()
        other.sync()
        seen = other.layers["dots"]
        assert seen.size.tolist() == [8.0, 16.0]
        assert [str(s) for s in seen.symbol] == ["disc", "square"]
        np.testing.assert_allclose(seen.face_color, [[1, 0, 0, 1], [0, 0, 1, 1]])
        np.testing.assert_allclose(other.layers["box"].edge_color, [[0, 1, 0, 1]])
        assert other.layers["box"].edge_width == [3.0]
        # the server draws each point in its own colour
        picture = viewer.screenshot()[..., :3].astype(int)
        red = (picture[..., 0] > 200) & (picture[..., 1] < 60) & (picture[..., 2] < 60)
        blue = (picture[..., 2] > 200) & (picture[..., 0] < 60) & (picture[..., 1] < 60)
        assert red.sum() > 10 and blue.sum() > 10
        # set by a script afterwards (napari's ``size`` and ``edge_width`` setters emit
        # no event of their own)
        points.size = [30, 30]
        points.face_color = ["yellow", "yellow"]
        shapes.edge_width = [1.0]
        viewer.sync()
        other.sync()
        assert other.layers["dots"].size.tolist() == [30.0, 30.0]
        np.testing.assert_allclose(other.layers["dots"].face_color[:, :3], [[1, 1, 0]] * 2)
        assert other.layers["box"].edge_width == [1.0]
        # a point added keeps napari's current values, on both sides
        points.current_size = 5
        points.current_symbol = "star"
        points.current_border_color = "red"
        points.add([50.0, 50.0])
        viewer.sync()
        other.sync()
        seen = other.layers["dots"]
        assert seen.size.tolist() == [30.0, 30.0, 5.0]
        assert str(seen.symbol[-1]) == "star"
        np.testing.assert_allclose(seen.border_color[-1], [1, 0, 0, 1])
        # the labels controls' painting options are each client's own, as its brush
        labels = viewer.add_labels(np.zeros((8, 8), np.uint8), name="mask")
        other.sync()
        theirs = other.layers["mask"]
        theirs.contiguous = False
        theirs.preserve_labels = True
        other.sync()
        labels.show_selected_label = True
        viewer.sync()
        other.sync()
        assert labels.contiguous and not labels.preserve_labels  # a colleague's choice
        mine = viewer.connection.layer(viewer.layer_id(labels))
        assert mine is not None and mine["contiguous"] and not mine["preserve_labels"]
        assert not theirs.contiguous and theirs.preserve_labels
        assert other.layers["mask"].show_selected_label  # what is drawn is everyone's
    finally:
        other.close()


def test_the_resolution_control_reaches_the_server(viewer: ProxyViewer) -> None:
    """napari's resolution control (``locked_data_level``) draws the multiscale sample
    at the chosen level on the server, for everyone; back to napari's choice too."""
    other = napari_engine.connect(viewer.connection.url, stream="none")
    try:
        layer = viewer.layers[0]
        assert layer.multiscale and layer.locked_data_level is None
        auto = viewer.screenshot()
        layer.locked_data_level = len(layer.data) - 1  # the coarsest
        coarse = viewer.screenshot()
        other.sync()
        assert other.layers[0].locked_data_level == len(layer.data) - 1
        assert not np.array_equal(coarse, auto)
        layer.locked_data_level = None
        viewer.sync()
        other.sync()
        assert other.layers[0].locked_data_level is None
        np.testing.assert_array_equal(viewer.screenshot(), auto)
    finally:
        other.close()
