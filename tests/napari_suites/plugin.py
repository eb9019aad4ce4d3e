"""A pytest plugin that runs napari's own test modules (they ship in napari's wheel)
either on napari itself or, with ``NAPARI_ENGINE_SUITE_URL`` set, against sessions of a
napari-engine server: each ``ViewerModel()`` the tests make is a fresh server session
seen through ``napari_engine.connect`` (a ``ProxyViewer``), and each ``LayerList()`` is
the layer list of one.

napari's own ``conftest.py`` needs napari's whole test environment (IPython, pytest-qt,
pytest-pretty); the few fixtures these modules use are ported here from it (napari
0.9.2), and ``--confcutdir`` keeps pytest from loading it. Used by
``tests/client/test_napari_suites.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

URL = os.environ.get("NAPARI_ENGINE_SUITE_URL", "")
_OPEN: list[Any] = []


def remote_viewer(*args: Any, title: str = "napari", ndisplay: int = 2,
                  order: tuple[int, ...] = (), axis_labels: tuple[str, ...] = (),
                  **kwargs: Any) -> Any:
    """napari's ``ViewerModel(...)``, as a fresh session of the server at ``URL``."""
    import napari_engine

    if args or kwargs:
        raise TypeError(f"ViewerModel() got unexpected arguments {args} {kwargs}")
    viewer = napari_engine.connect(URL.replace("/?", f"/session/{uuid.uuid4().hex}?"),
                                   stream="none")
    _OPEN.append(viewer)
    viewer.title = title
    if ndisplay != 2:
        viewer.dims.ndisplay = ndisplay
    if order:
        viewer.dims.order = order
    if axis_labels:
        viewer.dims.axis_labels = axis_labels
    return viewer


def remote_layer_list(data: Any = ()) -> Any:
    """napari's ``LayerList(...)``, as the layer list of a fresh server session."""
    layers = remote_viewer().layers
    layers.extend(list(data))
    return layers


def _napari_static_methods() -> None:
    from napari.components import LayerList

    remote_layer_list._convert_scale_between_units = (  # type: ignore[attr-defined]
        LayerList._convert_scale_between_units)


_napari_static_methods()


@pytest.fixture(autouse=True)
def _on_the_server(request: pytest.FixtureRequest,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """With a server URL: the test module's ``ViewerModel`` and ``LayerList`` are the
    server's; every session a test opened is closed after it."""
    if URL:
        module = request.module
        if hasattr(module, "ViewerModel"):
            monkeypatch.setattr(module, "ViewerModel", remote_viewer)
        if hasattr(module, "LayerList"):
            monkeypatch.setattr(module, "LayerList", remote_layer_list)
    yield
    while _OPEN:
        _OPEN.pop().close()


# -- napari's fixtures these modules use (napari/conftest.py, napari 0.9.2) ---------------
@pytest.fixture(autouse=True)
def npe2pm_(npe2pm: Any) -> Any:
    return npe2pm


@pytest.fixture
def builtins(npe2pm_: Any) -> Iterator[Any]:
    with npe2pm_.tmp_plugin(package="napari") as plugin:
        yield plugin


@pytest.fixture
def tmp_plugin(npe2pm_: Any) -> Iterator[Any]:
    from npe2 import PackageMetadata

    with npe2pm_.tmp_plugin() as plugin:
        plugin.manifest.package_metadata = PackageMetadata(version="0.1.0", name="test")
        plugin.manifest.display_name = "Temp Plugin"
        yield plugin


@pytest.fixture
def layer_data_and_types() -> tuple[Any, ...]:
    from napari.layers import Image, Points

    layers = [Image(np.random.rand(20, 20), name="ex_img"), Image(np.random.rand(20, 20)),
              Points(np.random.rand(20, 2), name="ex_pts"),
              Points(np.random.rand(20, 2), properties={"values": np.random.rand(20)})]
    extensions = [".tif", ".tif", ".csv", ".csv"]
    layer_data = [layer.as_layer_data_tuple() for layer in layers]
    layer_types = [layer._type_string for layer in layers]
    filenames = [layer.name + e for layer, e in zip(layers, extensions, strict=False)]
    return layers, layer_data, layer_types, filenames


@pytest.fixture
def layers() -> Any:
    from napari.components import LayerList
    from napari.layers import Image, Labels, Points, Shapes, Vectors

    np.random.seed(0)
    list_of_layers = [Image(np.random.rand(20, 20)),
                      Labels(np.random.randint(10, size=(20, 2))),
                      Points(np.random.rand(20, 2)), Shapes(np.random.rand(10, 2, 2)),
                      Vectors(np.random.rand(10, 2, 2))]
    return (remote_layer_list if URL else LayerList)(list_of_layers)


@pytest.fixture
def napari_svg_name() -> str:
    return "napari-svg"
