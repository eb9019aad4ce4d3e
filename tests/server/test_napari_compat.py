"""Each private napari touch point, on real EGL rendering (Mesa llvmpipe here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from napari_engine.server.gl_env import prepare_headless_env

prepare_headless_env()

from napari.components import ViewerModel  # noqa: E402

from napari_engine.server import napari_compat  # noqa: E402
from napari_engine.server.renderer import FrameRenderer  # noqa: E402

_QT_APP: list[Any] = []  # the QApplication must outlive every canvas


@pytest.fixture(scope="module")
def gl_app() -> Any:
    from qtpy.QtWidgets import QApplication
    from vispy import app as vispy_app

    _QT_APP.append(QApplication.instance() or QApplication(["test"]))
    return vispy_app.Application("egl")


@pytest.fixture
def scene(gl_app: Any) -> Iterator[tuple[ViewerModel, napari_compat.HeadlessVispyCanvas]]:
    viewer = ViewerModel()
    viewer.canvas.size = (240, 320)
    canvas = napari_compat.create_headless_canvas(viewer, gl_app, (320, 240), "DejaVu Sans")
    viewer.layers.events.inserted.connect(
        lambda e: napari_compat.attach_layer_visual(canvas, e.value))
    yield viewer, canvas
    napari_compat.destroy_canvas(canvas)


def _bright_centroid(pixels: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(pixels[..., 0] > 128)
    return float(ys.mean()), float(xs.mean())


def test_supported_napari_version(monkeypatch: pytest.MonkeyPatch) -> None:
    napari_compat.check_napari_version()  # the installed napari is in the tested range
    lo, hi = napari_compat.SUPPORTED_NAPARI
    for outside in (f"{hi}", f"{hi}.1", "0.4.19", f"{lo}rc1"):
        monkeypatch.setattr(napari_compat.napari, "__version__", outside)
        with pytest.raises(RuntimeError, match="supports napari"):
            napari_compat.check_napari_version()


def test_renders_layer_at_camera_center(scene: Any) -> None:
    viewer, canvas = scene
    img = np.zeros((64, 64), np.uint8)
    img[28:36, 28:36] = 255
    viewer.add_image(img)
    frame = FrameRenderer(canvas).render()
    assert frame.pixels.shape == (240, 320, 4) and frame.pixels.dtype == np.uint8
    assert _bright_centroid(frame.pixels) == pytest.approx((119.5, 159.5), abs=1.0)
    assert frame.render_s > 0 and frame.readback_s > 0


def test_resize_reaches_the_scene_graph(scene: Any) -> None:
    viewer, canvas = scene
    img = np.zeros((64, 64), np.uint8)
    img[28:36, 28:36] = 255
    viewer.add_image(img)
    renderer = FrameRenderer(canvas)
    viewer.canvas.size = (300, 500)
    pixels = renderer.render().pixels
    assert pixels.shape == (300, 500, 4)
    viewer.scene.camera.center = (32, 32)
    pixels = renderer.render().pixels
    assert _bright_centroid(pixels) == pytest.approx((149.5, 249.5), abs=2.0)


def test_the_server_draws_canvas_overlays_but_not_the_pointer_overlays(scene: Any) -> None:
    viewer, canvas = scene
    viewer.add_image(np.zeros((64, 64), np.uint8))
    renderer = FrameRenderer(canvas)
    blank = renderer.render().pixels
    brush = viewer.canvas.overlays["_brush_circle"]
    viewer.mouse_over_canvas = True
    brush.size, brush.position, brush.visible = 60, (160, 120), True
    assert np.array_equal(renderer.render().pixels, blank)  # each client draws its own
    viewer.canvas.overlays["_zoom_box"].position = ((20, 20), (200, 300))
    viewer.canvas.overlays["_zoom_box"].visible = True
    assert np.array_equal(renderer.render().pixels, blank)
    viewer.canvas.overlays["scale_bar"].visible = True  # in the shared picture
    assert np.abs(renderer.render().pixels.astype(int) - blank).sum() > 1000


def test_canvas_overlays_shown_sees_the_overlays_fixed_to_the_canvas(scene: Any) -> None:
    viewer, _canvas = scene
    layer = viewer.add_image(np.zeros((64, 64), np.uint8))
    assert not napari_compat.canvas_overlays_shown(viewer)
    viewer.canvas.overlays["_brush_circle"].visible = True  # drawn by each client
    assert not napari_compat.canvas_overlays_shown(viewer)
    viewer.canvas.overlays["scale_bar"].visible = True
    assert napari_compat.canvas_overlays_shown(viewer)
    viewer.canvas.overlays["scale_bar"].visible = False
    layer.colorbar.visible = True  # a layer's own, fixed to the canvas too
    assert napari_compat.canvas_overlays_shown(viewer)
    layer.visible = False
    assert not napari_compat.canvas_overlays_shown(viewer)


def test_cursor_shape_is_recorded_not_sent_to_qt(scene: Any) -> None:
    from qtpy.QtCore import Qt

    viewer, canvas = scene
    viewer.cursor.style = "pointing"
    assert canvas.cursor == Qt.CursorShape.PointingHandCursor
    viewer.cursor.style = "standard"
    assert canvas.cursor == Qt.CursorShape.ArrowCursor


def test_multiscale_level_follows_zoom(scene: Any) -> None:
    viewer, canvas = scene
    base = np.random.default_rng(0).integers(0, 255, (2048, 2048), dtype=np.uint8)
    layer = viewer.add_image([base, base[::4, ::4], base[::16, ::16]], multiscale=True,
                             contrast_limits=(0, 255))
    renderer = FrameRenderer(canvas)
    viewer.reset_view()
    renderer.render()
    assert layer.data_level >= 1  # zoomed out: a coarse level
    coarse = napari_compat.data_levels(canvas)
    assert coarse == [layer.data_level]
    viewer.scene.camera.zoom = 1.0
    renderer.render()
    assert layer.data_level == 0
    assert napari_compat.data_levels(canvas) == [0] != coarse


def _model_callbacks(viewer: ViewerModel) -> list[Any]:
    """Every callback connected to the viewer model's event groups."""
    groups = (viewer.events, viewer.scene.camera.events, viewer.dims.events,
              viewer.layers.events, viewer.cursor.events, viewer.canvas.events)
    return [cb for group in groups for emitter in group.emitters.values()
            for cb in emitter.callbacks]


def test_destroy_frees_the_canvas(gl_app: Any) -> None:
    from vispy.app.backends import _egl

    viewer = ViewerModel()
    before = _model_callbacks(viewer)
    canvas = napari_compat.create_headless_canvas(viewer, gl_app, (64, 64), "DejaVu Sans")
    FrameRenderer(canvas).render()
    backend = canvas.scene_canvas._backend
    context = backend._native_context
    assert backend in _egl._VP_EGL_ALL_WINDOWS and len(_model_callbacks(viewer)) > len(before)
    assert napari_compat.egl_context_alive(context)
    napari_compat.destroy_canvas(canvas)
    assert backend not in _egl._VP_EGL_ALL_WINDOWS  # vispy no longer holds its surface
    assert not napari_compat.egl_context_alive(context)  # nor EGL its context
    # the model calls into nothing of the canvas any more (its cameras included)
    assert _model_callbacks(viewer) == before
    viewer.scene.camera.zoom = 3.0  # and changing the model is harmless


def test_a_removed_layer_leaves_the_picture_without_a_full_collection(
        scene: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from napari._vispy.canvas import VispyCanvas

    assert hasattr(VispyCanvas, "_clean_and_update_scenegraph")  # still napari's hook
    viewer, canvas = scene
    renderer = FrameRenderer(canvas)
    layer = viewer.add_image(np.full((20, 20), 255, np.uint8))
    viewer.reset_view()
    with_layer = renderer.render().pixels.copy()
    collections: list[Any] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(a) or 0)
    viewer.layers.remove(layer)
    without = renderer.render().pixels
    assert collections == [] and not np.array_equal(with_layer, without)


def test_a_failed_triangulation_writes_no_files(tmp_path: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """napari saves a polygon it could not triangulate to the temporary directory; the
    server does not (``write_no_debug_files``), and the error still says why."""
    import tempfile

    from napari.layers.shapes import _shapes_utils

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    napari_compat.write_no_debug_files()
    huge = np.array([[1e308, 0.0], [-1e308, 0.0], [0.0, 1e308]])
    with pytest.raises(RuntimeError, match="Triangulation failed"), \
            np.errstate(all="ignore"):
        _shapes_utils.triangulate_face_vispy(huge, np.array([[0, 1], [1, 2], [2, 0]]), huge)
    assert list(tmp_path.iterdir()) == []


def test_a_long_brush_stroke_makes_only_the_points_that_reach_the_layer() -> None:
    """napari interpolates a stroke across its whole length (``bound_brush_strokes``):
    the points kept are napari's own that lie in the layer's reach, and none else."""
    from napari.layers.labels._labels_utils import interpolate_coordinates

    old, new = np.array([-50_000.0, 10.0]), np.array([50_000.0, 30.0])
    lo, hi = np.array([-7.0, -7.0]), np.array([106.0, 106.0])
    napari_points = interpolate_coordinates(old, new, 10)
    assert len(napari_points) == 40_000
    inside = napari_points[np.all((napari_points >= lo) & (napari_points <= hi), axis=1)]
    ours = napari_compat.stroke_points(old, new, 40_000, lo, hi)
    np.testing.assert_allclose(ours, inside, rtol=0, atol=1e-9)
    assert len(ours) == 45  # -5 to 105 by 2.5
    # a stroke that misses the layer, or runs beside it in a dimension it is outside of
    assert len(napari_compat.stroke_points(old, np.array([50_000.0, 500.0]), 40_000,
                                           lo, hi)) == 0
    assert len(napari_compat.stroke_points(np.array([-5e4, 200.0]), np.array([5e4, 200.0]),
                                           40_000, lo, hi)) == 0
    assert len(napari_compat.stroke_points(old, new * 1e20, 1 << 60, lo, hi)) == 0


def test_a_bounded_stroke_paints_what_napari_paints() -> None:
    from napari.layers import Labels
    from napari.layers.labels._labels_utils import interpolate_coordinates

    napari_compat.bound_brush_strokes()
    ours = Labels(np.zeros((100, 100), np.uint8))
    theirs = Labels(np.zeros((100, 100), np.uint8))
    for layer in (ours, theirs):
        layer.brush_size = 10
        layer.mode = "paint"
    old, new = [-20_000.0, 10.0], [20_000.0, 60.0]  # 16,000 points, 40 in reach
    made: list[int] = []
    original = Labels.paint

    def counted(self: Labels, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        original(self, *args, **kwargs)

    try:
        Labels.paint = counted  # type: ignore[method-assign]
        ours._draw(3, old, new)
        assert 0 < len(made) < 100
        made.clear()
        Labels._draw.__wrapped__(theirs, 3, old, new)
        assert len(made) == len(interpolate_coordinates(old, new, 10)) == 16_000
    finally:
        Labels.paint = original  # type: ignore[method-assign]
    assert ours.data.any()
    np.testing.assert_array_equal(ours.data, theirs.data)
