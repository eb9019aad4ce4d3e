"""The client's private napari touch points (no Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.components import ViewerModel

from napari_engine.client.bridge import placeholder
from napari_engine.client.napari_compat import skip_placeholder_display


def test_a_placeholder_slice_is_displayed_without_converting_every_pixel() -> None:
    viewer = ViewerModel()
    labels = viewer.add_labels(placeholder([8, 512, 512], "int32"))
    image = viewer.add_image(placeholder([8, 512, 512], "float64"), contrast_limits=(0, 1e9))
    # what napari itself displays for these slices (zeros), converted pixel by pixel
    expected = {id(layer): np.array(layer._slice.image.view) for layer in (labels, image)}
    for layer in (labels, image):
        skip_placeholder_display(layer)
    viewer.dims.set_current_step(0, 5)
    for layer in (labels, image):
        view = layer._slice.image.view
        assert not any(view.strides), "the slice was converted pixel by pixel"
        np.testing.assert_array_equal(view, expected[id(layer)])
        assert view.dtype == expected[id(layer)].dtype
    # real data is converted as napari does
    real = ViewerModel().add_labels(np.arange(64, dtype=np.int32).reshape(8, 8) + 300)
    skip_placeholder_display(real)
    real.refresh()
    assert real._slice.image.view.strides != (0, 0)
    assert len(np.unique(real._slice.image.view)) > 1


def test_layer_data_is_the_servers_but_napari_slices_the_placeholder() -> None:
    """A z step or a label control's dtype check must not fetch a plane; a script's
    ``layer.data[...]`` must read the server's voxels."""
    import importlib

    from napari.layers.labels._labels_utils import get_dtype

    from napari_engine.client.napari_compat import (
        PLACEHOLDER_READERS,
        ServerImage,
        ServerLabels,
        bind_server_data,
        kind_of,
    )
    from napari_engine.client.remote_data import RemoteArray

    for module, function in PLACEHOLDER_READERS:  # still napari's names for them
        source = Path(importlib.import_module(module).__file__ or "").read_text()
        assert f"def {function}(" in source and "layer.data" in source, (module, function)
    reads: list[object] = []
    truth = np.arange(8 * 32 * 32, dtype=np.int32).reshape(8, 32, 32)

    def read(level: int, region: list[tuple[int, int, int]]) -> np.ndarray:
        reads.append(region)
        return truth[tuple(slice(*r) for r in region)]

    viewer = ViewerModel()
    labels = ServerLabels(placeholder([8, 32, 32], "int32"), name="cells")
    image = ServerImage(placeholder([8, 32, 32], "int32"), name="raw")
    for layer in (labels, image):
        bind_server_data(layer, [RemoteArray((8, 32, 32), "int32", read)], print)
        viewer.layers.append(layer)
    for z in range(8):
        viewer.dims.set_current_step(0, z)
    assert get_dtype(labels) == np.int32
    labels.selected_label = 5
    assert reads == []  # napari's own slicing and dtype checks read the placeholder
    assert (kind_of(labels), kind_of(image)) == ("labels", "image")
    np.testing.assert_array_equal(image.data[3, 4:9, ::5], truth[3, 4:9, ::5])
    assert labels.data[7, 31, 31] == truth[7, 31, 31] and len(reads) == 2


def test_what_taking_over_a_window_touches_is_still_napari_s() -> None:
    """``qt_napari_compat.take_over_window`` re-points these at another viewer (the
    window test drives it; this names what an upgrade must keep)."""
    import inspect

    from napari._qt import qt_main_window
    from napari._qt.qt_viewer import QtViewer
    from napari._qt.threads.status_checker import StatusChecker

    window_source = inspect.getsource(qt_main_window.Window.__init__)
    for handler in ("_help_changed", "_title_changed", "_update_theme", "_status_changed"):
        assert f"self.{handler})" in window_source, handler
    main_source = inspect.getsource(qt_main_window._QtMainWindow.__init__)
    assert "self.status_thread = StatusChecker(" in main_source
    assert "center.layout().addWidget(self._qt_viewer)" in main_source
    assert "self.viewer_ref = " in inspect.getsource(StatusChecker.__init__)
    for dock in ("dockLayerList", "dockLayerControls"):  # built on first use
        assert isinstance(getattr(QtViewer, dock), property), dock
