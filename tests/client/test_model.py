"""A local napari ViewerModel mirrors a real server session, both ways, without echoes
(the bridge's model work runs only when the test pumps it, as on a GUI thread)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from napari.components import ViewerModel

import napari_engine
from napari_engine import ProxyViewer
from napari_engine.client.bridge import ViewerBridge
from napari_engine.client.connection import Connection, Frame
from napari_engine.client.remote_data import RemoteArray
from napari_engine.server.process import ServerProcess
from tests.client.pair import QueuePoster


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--token", "t", "--size", "320x240"]) as proc:
        yield proc


class Mirrored:
    """A bridge whose model work runs only when the test pumps it (the 'GUI thread')."""

    def __init__(self, url: str, stream: str = "none", reconnect: bool = False,
                 on_frame: Callable[[Frame], None] | None = None) -> None:
        self.poster = QueuePoster()
        self.work = self.poster.work
        self.connection = Connection(url, stream=stream, reconnect=reconnect)
        if on_frame is not None:  # before the first frame can arrive
            self.connection.on_frame(on_frame)
        self.connection.open()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        send = self.connection.send_command

        def counting_send(op: str, args: dict[str, Any] | None = None, **kw: Any) -> int:
            self.sent.append((op, dict(args or {})))
            return send(op, args, **kw)

        self.connection.send_command = counting_send  # type: ignore[method-assign]
        self.viewer = ViewerModel()
        self.bridge = ViewerBridge(self.connection, self.viewer, post=self.poster,
                                   own_canvas=True)
        self.pump()

    def pump(self, until: Callable[[], bool] = lambda: True, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            while not self.work.empty():
                self.work.get()()
            if until():
                return
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            time.sleep(0.01)


@pytest.fixture
def pair(server: ServerProcess, request: pytest.FixtureRequest
         ) -> Iterator[tuple[Mirrored, ProxyViewer]]:
    url = server.url.replace("/?", f"/session/{request.node.name[:50]}?")
    mirrored = Mirrored(url)
    other = napari_engine.connect(url, stream="none")
    yield mirrored, other
    other.close()
    mirrored.connection.close()


def test_model_starts_as_the_server_session(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    assert [layer.name for layer in local.viewer.layers] == [x.name for x in remote.layers]
    layer, server = local.viewer.layers[0], local.connection.layers()[0]
    assert layer.multiscale and len(layer.data) == server["levels"] == 10
    assert layer.data[0].shape == tuple(server["shape"])
    assert layer.data[0].dtype == np.uint16
    assert isinstance(layer.data[0], RemoteArray)  # no voxels held locally
    assert all(s == 0 for s in layer._slice.image.raw.strides)
    assert tuple(layer.contrast_limits) == tuple(server["contrast_limits"])
    assert layer.colormap.name == server["colormap"]
    assert local.viewer.dims.ndim == remote.dims.ndim
    assert local.viewer.scene.camera.zoom == pytest.approx(remote.scene.camera.zoom)
    assert local.sent == []  # mirroring the server sends nothing back


def test_local_edits_reach_the_server(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    layer = local.viewer.layers[0]
    layer.opacity = 0.4
    layer.colormap = "magma"
    layer.contrast_limits = (10, 900)
    layer.name = "renamed"
    local.viewer.scene.camera.zoom = 0.003
    local.viewer.dims.set_current_step(0, 42)
    local.pump(lambda: local.connection.pending() == 0)  # the server has them all
    remote.sync()
    first = remote.layers[0]
    assert (first.opacity, first.colormap.name, first.name) == (pytest.approx(0.4), "magma",
                                                                "renamed")
    assert first.contrast_limits == pytest.approx((10, 900))
    assert remote.scene.camera.zoom == pytest.approx(0.003)
    assert remote.dims.current_step[0] == 42


def test_server_changes_reach_the_model_without_echo(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    remote.layers[1].gamma = 1.7
    remote.layers[1].visible = False
    remote.scene.camera.zoom = 0.005
    remote.dims.set_current_step(0, 7)
    added = remote.add_image(np.ones((16, 16), np.uint8) * 9, name="mask", colormap="red")
    remote.sync()
    local.pump(lambda: "mask" in local.viewer.layers and local.viewer.scene.camera.zoom == 0.005
               and local.viewer.dims.current_step[0] == 7)
    assert local.viewer.layers[1].gamma == pytest.approx(1.7)
    assert not local.viewer.layers[1].visible
    assert local.viewer.layers["mask"].colormap.name == "red"
    remote.layers.remove(added)
    remote.sync()
    local.pump(lambda: "mask" not in local.viewer.layers)
    assert local.sent == []


def test_layer_list_edits_reach_the_server(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    names = [x.name for x in remote.layers]
    local.viewer.layers.move(1, 0)  # drag the top layer to the bottom
    local.pump(lambda: local.connection.pending() == 0)  # the server has them all
    remote.sync()
    assert [x.name for x in remote.layers] == names[::-1]
    # select the layer that is not selected yet (the server started with the other one):
    # the server acts with it for this client, and the other client keeps its own
    unselected = [x for x in local.viewer.layers if x not in local.viewer.layers.selection]
    assert unselected, "every layer is selected already: the check below would prove nothing"
    theirs = [x.name for x in remote.layers.selection]
    local.viewer.layers.selection.active = unselected[0]
    chosen = local.bridge.id_of(unselected[0])
    local.pump(lambda: local.connection.section("selection") == {
        "selected": [chosen], "active": chosen} and local.connection.pending() == 0)
    remote.sync()
    assert [x.name for x in remote.layers.selection] == theirs
    assert [x.name for x in local.viewer.layers.selection] == [unselected[0].name]
    local.viewer.layers.remove(local.viewer.layers[0])
    local.pump()  # the removal leaves once napari is done (the GUI thread's next turn)
    local.pump(lambda: local.connection.pending() == 0)  # the server has them all
    remote.sync()
    assert [x.name for x in remote.layers] == [names[0]]


def test_status_bar_value_comes_from_the_server(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    data = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) + 1000
    remote.add_image(data, name="ramp")
    remote.sync()
    local.pump(lambda: "ramp" in local.viewer.layers)
    # the active layer is the one whose value the status bar shows: this window's own
    # (the script that added "ramp" has it active; the window chooses it itself)
    local.viewer.layers.selection.active = local.viewer.layers[0]
    local.pump(lambda: local.connection.pending() == 0)
    local.viewer.layers.selection.active = local.viewer.layers["ramp"]
    ramp = local.bridge.id_of(local.viewer.layers["ramp"])
    local.pump(lambda: local.connection.section("selection")["active"] == ramp)
    local.viewer.mouse_over_canvas = True
    local.viewer.cursor.position = (0.0, 10.0, 20.0)  # dims: the sample's z, then y, x
    expected = str(int(data[10, 20]))  # 1660: only the server holds these voxels
    local.pump(lambda: expected in str(local.viewer.status))
    assert local.viewer.layers["ramp"]._slice.image.raw.strides == (0, 0)


def test_points_and_shapes_are_mirrored(pair: tuple[Mirrored, ProxyViewer]) -> None:
    local, remote = pair
    remote.add_points([[1.0, 5.0, 6.0], [2.0, 7.0, 8.0]], size=3, name="spots")
    remote.add_shapes([[[0.0, 0.0, 0.0], [0.0, 0.0, 20.0], [0.0, 10.0, 20.0],
                        [0.0, 10.0, 0.0]]], shape_type="rectangle", name="rois")
    remote.sync()
    local.pump(lambda: "spots" in local.viewer.layers and "rois" in local.viewer.layers)
    spots, rois = local.viewer.layers["spots"], local.viewer.layers["rois"]
    assert spots.data.tolist() == [[1.0, 5.0, 6.0], [2.0, 7.0, 8.0]]
    assert rois.nshapes == 1 and rois.shape_type == ["rectangle"]
    spots.current_size = 9  # a control in the window reaches the server
    remote.sync()
    deadline = time.monotonic() + 10
    while remote.layers["spots"].current_size != 9 and time.monotonic() < deadline:
        time.sleep(0.05)
        remote.sync()
    assert remote.layers["spots"].current_size == 9
    assert local.sent and all(op == "layer.set" for op, _ in local.sent)
