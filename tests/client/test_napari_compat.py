"""The client's private napari touch points (no Qt)."""

from __future__ import annotations

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
