"""Every private napari API the server touches, in one place.

Supported: napari >=0.9.2,<0.10 (pinned in pyproject.toml; tests/server/test_napari_compat.py
checks each touch point). napari's ``VispyCanvas`` assumes a Qt canvas; on vispy's EGL
backend four spots need handling:

* ``NapariSceneCanvas`` patches Qt enter/leave events on its native widget and passes
  ``vsync=True``; we substitute a plain ``SceneCanvas`` subclass with the same
  mouse-wheel rule during construction.
* ``VispyCanvas.destroyed`` is a Qt signal of the native widget: replaced by a no-op.
* the ``cursor`` setter calls ``native.setCursor``: we record the shape instead, which is
  what a remote client needs to know.
* vispy's EGL backend never emits ``resize`` events (Qt widgets do), so napari's view
  boxes would keep their first size; the ``size`` setter emits one, and runs napari's
  camera catch-up (``VispyCamera.on_draw``) at once: clients of several canvas sizes
  take turns, and a click must map through its own size before anything is drawn.
* ``QtViewer`` normally creates layer visuals (``create_vispy_layer`` +
  ``add_layer_visual_mapping``); ``attach_layer_visuals`` does that job here.
* vispy's EGL backend reports its logical size as its physical one
  (``_vispy_get_physical_size``): ``pixel_ratio`` makes it report the client's display,
  so frames are drawn at the client's physical pixels with napari's camera in logical ones.
* ``VispyCanvas._update_viewer_overlays`` (re)parents the overlay visuals; the overlays
  that follow a pointer (the brush circle, the zoom box) are taken out of the scene again
  after it runs (``_viewer_overlay_to_visual``): each client draws its own.
* ``new_labels`` is napari's ``ViewerModel._new_labels`` (File > New Layer > Labels, the
  new-labels button) with its zeros kept lazily, in chunks, where only what is painted
  costs memory.
* ``napari.plugins._initialize_plugins`` registers napari's builtin readers and writers
  (napari's Viewer does it; a headless ``ViewerModel`` does not): ``napari_writers``.
* ``histogram`` runs napari's ``HistogramModel`` of a layer (``layer.histogram``) and
  reads its result (``_bin_edges``), as the contrast popup would.
* ``data_range`` calls ``_calc_data_range`` (what napari's auto-contrast and reset use)
  for a client whose layers hold no data.
* ``VispyCanvas._clean_and_update_scenegraph`` runs a full ``gc.collect()`` on every
  layer removal (a workaround for Windows OpenGL drivers): on a server holding many
  sessions that took 150 ms a removal, during which no session drew. The headless EGL
  canvas skips it (Python's collector still runs as usual).
* ``canvas_overlays_shown`` reads each layer's overlays (``Layer._overlays``: the
  colorbar, the layer name), which stay put on the screen while a pan moves the scene.
* ``show_level_in_3d`` sets ``_locked_data_level`` without napari's event: napari draws
  a multiscale layer's coarsest level in 3D unless that is locked, and the server picks
  the finest level that fits its voxel budget instead; ``user_locked_level`` is the
  lock a person chose (the resolution control), which the state reports and which wins.
* ``set_loaded`` sets ``Layer.loaded`` (``_slicing_state._set_loaded``: napari's async
  slicing's flag, which its layer list shows as a loading animation) while a layer's
  chunks load, and emits ``events.loaded``, which napari's layer list listens to.
* ``labels_edits`` / ``put_back_labels_edits`` read and restore a labels layer's edit
  history (``_undo_history``, ``_redo_history``, ``_staged_history``) and replay its
  atoms (``_replay_masked_atom``): what a failed command painted is put back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import napari
import numpy as np
from napari._vispy import canvas as _napari_canvas
from napari._vispy import create_vispy_layer
from napari._vispy.utils.qt_font import QtFontManager
from napari.components import ViewerModel
from napari.components.overlays import CanvasOverlay
from napari.layers import Layer
from napari.layers._scalar_field.scalar_field import ScalarFieldSlicingState
from napari.utils.events.event_utils import disconnect_events
from napari.utils.key_bindings import KeymapHandler
from napari.utils.transforms import Affine
from OpenGL.error import GLError
from packaging.version import Version
from vispy.scene import SceneCanvas

from napari_engine.protocol.overlays import POINTER_OVERLAYS

log = logging.getLogger(__name__)

SUPPORTED_NAPARI = (Version("0.9.2"), Version("0.10"))


def check_napari_version() -> None:
    """Refuse to run on a napari whose private APIs we have not tested."""
    version = Version(napari.__version__)
    lo, hi = SUPPORTED_NAPARI
    if not lo <= version < hi:
        raise RuntimeError(f"napari-engine supports napari >={lo},<{hi}; found {version}")


class _HeadlessSceneCanvas(SceneCanvas):
    """NapariSceneCanvas without its Qt widget hooks; same mouse-wheel rule."""

    def _process_mouse_event(self, event: Any) -> None:
        if event.type == "mouse_wheel" and len(event.modifiers) > 0:
            return
        if event.handled:
            return
        super()._process_mouse_event(event)


class _NoSignal:
    def connect(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class HeadlessVispyCanvas(_napari_canvas.VispyCanvas):
    """napari's VispyCanvas on an offscreen EGL context."""

    cursor_shape: Any = None
    _pixel_ratio = 1.0

    def _clean_and_update_scenegraph(self) -> None:
        """napari's, without its full garbage collection (see the module's notes)."""
        with contextlib.suppress(AttributeError, GLError):
            self._scene_canvas.context.finish()
        self._update_scenegraph()

    @property
    def pixel_ratio(self) -> float:
        """Physical pixels per canvas pixel: the client's display (2 on a Retina one)."""
        return self._pixel_ratio

    @pixel_ratio.setter
    def pixel_ratio(self, ratio: float) -> None:
        if ratio == self._pixel_ratio:
            return
        self._pixel_ratio = ratio
        backend = self._scene_canvas._backend
        # vispy's EGL backend has no HiDPI: its physical size is its logical size
        backend._vispy_get_physical_size = lambda: tuple(
            round(v * self._pixel_ratio) for v in backend._vispy_get_size())
        self.emit_resize()

    @property
    def destroyed(self) -> _NoSignal:
        return _NoSignal()

    @property
    def cursor(self) -> Any:
        return self.cursor_shape

    @cursor.setter
    def cursor(self, shape: Any) -> None:
        self.cursor_shape = shape

    @property
    def scene_canvas(self) -> SceneCanvas:
        return self._scene_canvas

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), as napari's canvas."""
        width, height = self._scene_canvas.size
        return height, width

    @size.setter
    def size(self, size: tuple[int, int]) -> None:
        new = (int(size[1]), int(size[0]))
        if tuple(self._scene_canvas.size) != new:  # napari echoes sizes back: stop there
            self._scene_canvas.size = new
            self.emit_resize()

    def _update_viewer_overlays(self) -> None:
        """napari's, then the overlays that follow a pointer left out of the scene: each
        client draws those for its own pointer (``protocol.overlays.POINTER_OVERLAYS``)."""
        super()._update_viewer_overlays()
        for name in POINTER_OVERLAYS:
            overlay = self.viewer.canvas.overlays[name]
            for vispy_overlay in self._viewer_overlay_to_visual.get(overlay, ()):
                vispy_overlay.node.parent = None

    def emit_resize(self) -> None:
        """Tell the scene graph (and napari) the canvas size, as a Qt resize would."""
        scene_canvas = self._scene_canvas
        scene_canvas.events.resize(size=scene_canvas.size,
                                   physical_size=scene_canvas.physical_size)
        # napari's camera fits its view box to a new size at the next draw
        # (``VispyCamera.on_draw``); clients of other sizes take turns here, and a
        # click must map through the size it was made on before anything is drawn
        self.camera.on_draw(None)


@contextlib.contextmanager
def _plain_scene_canvas() -> Iterator[None]:
    original = _napari_canvas.NapariSceneCanvas

    def make(*args: Any, vsync: bool = False, **kwargs: Any) -> SceneCanvas:
        del vsync  # the EGL backend has no vsync
        return _HeadlessSceneCanvas(*args, **kwargs)

    _napari_canvas.NapariSceneCanvas = make
    try:
        yield
    finally:
        _napari_canvas.NapariSceneCanvas = original


def create_headless_canvas(viewer: ViewerModel, app: Any, size: tuple[int, int],
                           font_family: str) -> HeadlessVispyCanvas:
    """Build napari's canvas for ``viewer`` on the vispy application ``app`` (EGL)."""
    key_map_handler = KeymapHandler()
    key_map_handler.keymap_providers = [viewer]
    with _plain_scene_canvas():
        canvas = HeadlessVispyCanvas(viewer, key_map_handler, QtFontManager(), font_family,
                                     app=app, size=size, show=False)
    canvas.emit_resize()
    return canvas


def attach_layer_visual(canvas: HeadlessVispyCanvas, layer: Layer) -> None:
    """Create the vispy visual for ``layer``, as QtViewer._add_layer does."""
    visual = create_vispy_layer(layer, font_info=canvas.font_info())
    canvas.add_layer_visual_mapping(layer, visual)


def data_levels(canvas: HeadlessVispyCanvas) -> list[object]:
    """The multiscale level each layer of the canvas's viewer draws (None: not multiscale);
    a change during the draw hooks means more changed than the camera."""
    return [getattr(layer, "data_level", None) for layer in canvas.viewer.layers]


#: napari slices a labels layer a whole plane at a time (it paints only single-scale
#: labels): a plane above this many pixels would not be shown, so it is refused
MAX_LABELS_PLANE = 1 << 26
#: chunks of a new labels layer's lazy zeros (one plane deep)
LABELS_CHUNK = 512


def new_labels(viewer: ViewerModel) -> Layer:
    """A new labels layer as napari makes one (``ViewerModel._new_labels``: the shape,
    scale and placement of the active image, else of the selected layers' extent, else
    512 x 512), its zeros lazy and chunked (a zarr array in memory); added to ``viewer``.
    """
    import zarr
    from napari.layers import Labels
    from napari.layers._scalar_field.scalar_field import ScalarFieldBase
    from napari.settings import get_settings

    dtype = get_settings().application.new_labels_dtype
    base = viewer.layers.selection.active
    kwargs: dict[str, Any]
    if isinstance(base, ScalarFieldBase):
        shape = tuple(int(n) for n in base.data.shape[:base.ndim])
        kwargs = {"scale": base.scale, "translate": base.translate, "rotate": base.rotate,
                  "shear": base.shear, "units": base.units,
                  "axis_labels": base.axis_labels, "affine": base.affine,
                  "name": base.name + " - Labels"}
    elif viewer.layers.selection:
        extent = viewer.layers.get_extent(viewer.layers.selection)
        size = extent.world[1] - extent.world[0]
        shape = tuple(int(np.round(s / step)) + 1 for s, step in zip(size, extent.step,
                                                                       strict=False))
        active = viewer.layers.selection.active
        kwargs = {"translate": np.array(extent.world[0]), "scale": extent.step,
                  "units": extent.units,
                  "axis_labels": active.axis_labels if active is not None else None}
    else:
        shape, kwargs = (512, 512), {}
    plane = int(np.prod(shape[-2:]))
    if plane > MAX_LABELS_PLANE:
        raise ValueError(
            f"a labels layer of {' x '.join(map(str, shape))} pixels has planes of {plane} "
            f"pixels, more than napari can show at once ({MAX_LABELS_PLANE}); napari paints "
            "only single-scale labels")
    chunks = tuple([1] * (len(shape) - 2) + [min(LABELS_CHUNK, n) for n in shape[-2:]])
    data = zarr.zeros(shape, chunks=chunks, dtype=dtype, store=zarr.storage.MemoryStore())
    layer = Labels(data, **kwargs)
    viewer.add_layer(layer)
    return layer


def histogram(layer: Layer, mode: str, bins: int, log_scale: bool
              ) -> tuple[list[float], list[float]]:
    """napari's histogram of ``layer`` (``canvas``: the displayed slice; ``full``: all
    of its data, sampled) as its ``HistogramModel`` computes it: (bin edges, counts)."""
    model = getattr(layer, "histogram", None)
    if model is None:
        raise ValueError(f"a {type(layer).__name__} layer has no histogram")
    model.bins, model.mode, model.log_scale = bins, mode, log_scale
    for _partial in model.compute():
        pass  # a chunked full histogram comes in steps: the last is the whole
    edges, counts = np.asarray(model._bin_edges, float), np.asarray(model._counts, float)
    return [float(x) for x in edges], [float(x) for x in counts]


@functools.cache
def napari_writers() -> None:
    """Register napari's plugins (its builtin writers among them) once, as napari's
    Viewer does; ``napari.save_layers`` finds no writer before."""
    from napari.plugins import _initialize_plugins

    _initialize_plugins()


def data_range(layer: Layer, mode: str) -> tuple[float, float]:
    """napari's data range of ``layer``: its current slice (``slice``) or its data
    (``data``; a multiscale layer's smallest level), as auto-contrast computes it."""
    calc = getattr(layer, "_calc_data_range", None)
    if calc is None:
        raise ValueError(f"a {type(layer).__name__} layer has no contrast range")
    lo, hi = calc(mode)
    return float(lo), float(hi)


def canvas_overlays_shown(viewer: ViewerModel) -> bool:
    """Whether the server draws an overlay fixed to the canvas (a scale bar, a text, a
    layer's colorbar): a pan moves the scene under it, so the moved last frame would
    carry it along."""
    overlays = [o for name, o in viewer.canvas.overlays.items() if name not in POINTER_OVERLAYS]
    overlays += [o for layer in viewer.layers if layer.visible for o in layer._overlays.values()]
    return any(isinstance(o, CanvasOverlay) and o.visible for o in overlays)


def run_draw_hooks(canvas: HeadlessVispyCanvas) -> None:
    """What napari does on every draw: sync cameras, pick multiscale levels, load data."""
    canvas.on_draw(None)


def draw_scene(scene_canvas: Any) -> None:
    """Draw a vispy ``SceneCanvas`` into the framebuffer bound now (``render()`` would
    make a new framebuffer per call and read it back whole; the renderer keeps its own
    and reads back only what it needs)."""
    scene_canvas._draw_scene()


def dispatch_mouse(canvas: HeadlessVispyCanvas, kind: str, pos: tuple[float, float],
                   button: int, modifiers: list[str], press_event: Any = None) -> Any:
    """Feed one mouse event (canvas pixels) to napari's own mouse handling, as a Qt
    canvas would: napari maps it to world coordinates with the server's camera and runs
    the viewer's and the active layer's mouse callbacks (drag generators included).

    Calls the handlers directly: napari connects ``mouse_move`` through a Qt throttle,
    which could deliver a move after the release that ends the stroke.
    """
    from vispy.app.canvas import MouseEvent
    from vispy.util import keys

    names = {"Shift": keys.SHIFT, "Control": keys.CONTROL, "Alt": keys.ALT, "Meta": keys.META}
    event = MouseEvent(type=f"mouse_{kind}", pos=pos, button=button,
                       buttons=[] if kind == "release" else [button],
                       modifiers=tuple(names[m] for m in modifiers),
                       press_event=press_event)
    handler = {"press": canvas._on_mouse_press, "move": canvas._on_mouse_move,
               "release": canvas._on_mouse_release}[kind]
    handler(event)
    return event


def bind_settings_shortcuts() -> None:
    """Bind napari's keyboard shortcuts from its settings to its actions, as QtViewer
    does when it starts (the layer key bindings, e.g. labels' 'M' for a new label, live
    there); the headless server has no QtViewer to do it."""
    from napari.settings import get_settings
    from napari.utils.action_manager import action_manager

    for action, shortcuts in get_settings().shortcuts.shortcuts.items():
        action_manager.unbind_shortcut(action)
        for shortcut in shortcuts:
            action_manager.bind_shortcut(action, shortcut)


def dispatch_key(canvas: HeadlessVispyCanvas, kind: str, key: str, modifiers: list[str],
                 text: str) -> bool:
    """Feed one key event to napari's key bindings (viewer and active layer keymaps) as
    its Qt canvas would; returns whether a binding handled it."""
    from vispy.app.canvas import KeyEvent
    from vispy.util.keys import Key

    event = KeyEvent(type=f"key_{kind}", key=Key(key), text=text,
                     modifiers=tuple(Key(m) for m in modifiers))
    handler = canvas._key_map_handler
    # as QtViewer does on every change of the active layer: its keymap comes first
    active = canvas.viewer.layers.selection.active
    handler.keymap_providers = [canvas.viewer] if active is None else [active, canvas.viewer]
    (handler.on_key_press if kind == "press" else handler.on_key_release)(event)
    return bool(event.handled)


def destroy_canvas(canvas: HeadlessVispyCanvas) -> None:
    """Disconnect napari's model events and free the EGL surface and context.

    napari's own ``_disconnect_events`` leaves the cameras (``VispyCamera``, one per
    grid view too) connected to the model's camera and dims, and the canvas to
    ``dims.ndisplay``: those are disconnected here as well, so nothing of a closed
    session stays reachable from a model that outlives it."""
    scene_canvas = canvas.scene_canvas
    canvas._disconnect_events()
    viewer = canvas.viewer
    for camera in (canvas.camera, *canvas.grid_cameras):
        disconnect_events(viewer.scene.camera.events, camera)
        disconnect_events(viewer.dims.events, camera)
    disconnect_events(viewer.dims.events, canvas)
    backend = scene_canvas._backend
    scene_canvas.close()
    from vispy.app.backends import _egl

    if backend in _egl._VP_EGL_ALL_WINDOWS:
        _egl._VP_EGL_ALL_WINDOWS.remove(backend)
    context = getattr(backend, "_native_context", None)
    if context is not None:
        _destroy_egl_context(_egl._EGL_DISPLAY, context)
        backend._native_context = None


def _destroy_egl_context(display: Any, context: Any) -> None:
    """Free an EGL context and everything in it (vispy's EGL module has no
    ``eglDestroyContext``: a closed session's context, 3 MB and more, stayed alive).
    Nothing is left current first: a current context is only destroyed once released."""
    import ctypes

    from vispy.ext import egl

    lib = egl._lib
    lib.eglDestroyContext.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    lib.eglDestroyContext.restype = ctypes.c_uint
    egl.eglMakeCurrent(display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, egl.EGL_NO_CONTEXT)
    if not lib.eglDestroyContext(display, context):
        log.warning("eglDestroyContext failed (EGL error 0x%x)", egl.eglGetError())


def egl_context_alive(context: Any) -> bool:
    """Whether EGL still knows ``context`` (for tests of ``destroy_canvas``)."""
    import ctypes

    from vispy.app.backends import _egl
    from vispy.ext import egl

    lib = egl._lib
    lib.eglQueryContext.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int))
    value = ctypes.c_int()
    return bool(lib.eglQueryContext(_egl._EGL_DISPLAY, context, 0x3028, ctypes.byref(value)))


def set_loaded(layer: Layer, loaded: bool) -> bool:
    """napari's ``Layer.loaded`` (read-only; napari's async slicing sets it, and its
    layer list shows a loading animation while it is False); whether it changed."""
    if layer.loaded == loaded:
        return False
    layer._slicing_state._set_loaded(loaded)
    layer.events.loaded()
    return True


#: the levels the server itself locks for 3D (``show_level_in_3d``), by layer
_LEVELS_3D: weakref.WeakKeyDictionary[Layer, int] = weakref.WeakKeyDictionary()


def show_level_in_3d(layer: Layer, level: int | None) -> bool:
    """Draw ``level`` of a multiscale layer in 3D (None: napari's own choice, the
    coarsest); whether that changed. Not napari's ``locked_data_level`` setter: no
    event, so the person's resolution control stays on "auto"."""
    if _LEVELS_3D.get(layer) == level:
        return False
    if level is None:
        _LEVELS_3D.pop(layer, None)
    else:
        _LEVELS_3D[layer] = level
    layer._locked_data_level = level
    layer.refresh()
    return True


def user_locked_level(layer: Layer) -> int | None:
    """The resolution a person locked (napari's ``locked_data_level``), not the level
    the server draws in 3D."""
    if layer in _LEVELS_3D:
        return None
    level: int | None = getattr(layer, "locked_data_level", None)
    return level


def forget_level_in_3d(layer: Layer) -> None:
    """A person set the layer's resolution: the server's 3D choice is theirs now."""
    _LEVELS_3D.pop(layer, None)


def place_levels_where_files_say() -> None:
    """Draw each level of a multiscale image where its file puts it: napari centres a
    coarse voxel on the finest voxels it covers; a level whose data says otherwise
    (``offset`` on a ``data.lazy_array.ChunkedArray`` level: an OME-Zarr's per-level
    translations) is moved by that much, through the tile-to-data transform napari's
    slice sets (so the drawing, the status bar's value and the mouse agree).
    Installed once, on napari's slicing state of images and labels."""
    original = ScalarFieldSlicingState._update_slice_response
    if getattr(original, "_places_levels", False):
        return

    @functools.wraps(original)
    def placed(self: Any, response: Any) -> None:
        layer = self.layer
        if layer.multiscale:
            offset = getattr(layer.data[layer.data_level], "offset", None)
            if offset is not None and len(offset) == layer.ndim:
                tile = response.tile_to_data
                response = dataclasses.replace(response, tile_to_data=Affine(
                    scale=tile.scale, translate=np.asarray(tile.translate) + offset,
                    ndim=tile.ndim, name=tile.name))
        original(self, response)

    placed._places_levels = True  # type: ignore[attr-defined]
    ScalarFieldSlicingState._update_slice_response = placed


#: the colormaps napari knows by name wherever it runs (before any is made)
_BUILTIN_COLORMAPS = frozenset(napari.utils.colormaps.AVAILABLE_COLORMAPS)


def builtin_colormap(name: str) -> bool:
    """Whether napari knows colormap ``name`` without being told (a client's napari in
    the same version range does too); one made from a file's LUT or a client's
    definition is not."""
    return name in _BUILTIN_COLORMAPS


def write_no_debug_files() -> None:
    """napari saves a polygon whose triangulation failed to two files in the temporary
    directory, every time (a client sending such polygons would fill the disk): the
    server writes nothing but its journal and explicit saves, so the data is not saved
    (the error still says the triangulation failed)."""
    from napari.layers.shapes import _shapes_utils
    from napari.layers.shapes._shapes_models import shape

    def not_saved(data: Any, target_dir: Any = None, backend: str = "") -> tuple[str, str]:
        return "(not saved: napari-engine writes no debug files)", "(not saved)"

    _shapes_utils._save_failed_triangulation = not_saved
    shape._save_failed_triangulation = not_saved


#: a brush stroke between two mouse events is bounded to the layer past this many points
STROKE_POINTS = 1024


def bound_brush_strokes() -> None:
    """napari's brush paints at points along the cursor's path between two mouse events,
    one every quarter brush (``interpolate_coordinates``), wherever the path goes: at a
    tiny zoom a short drag crosses millions of data pixels, nearly all outside the
    layer, and napari paints (tries) each one: one stroke held every session's engine
    for seconds to minutes. Past ``STROKE_POINTS`` only the points whose brush reaches
    the layer (``Labels._draw`` says which layer) are made: the same points napari
    makes there, so the same pixels change. Installed once."""
    from napari.layers import Labels
    from napari.layers.labels import labels as labels_module

    original_draw = Labels._draw
    if getattr(original_draw, "_bounded", False):
        return
    original_interpolate = labels_module.interpolate_coordinates
    drawing: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def interpolate(old: Any, new: Any, brush_size: float) -> np.ndarray:
        box = drawing.get("box")
        if box is None or old is None or new is None:
            return original_interpolate(old, new, brush_size)
        old, new = np.asarray(old, float), np.asarray(new, float)
        steps = round(float(np.max(np.abs(new - old))) / brush_size * 4)  # as napari
        if steps <= STROKE_POINTS:
            return original_interpolate(old, new, brush_size)
        return stroke_points(old, new, steps, *box)

    @functools.wraps(original_draw)
    def draw(self: Any, new_label: Any, last_cursor_coord: Any, coordinates: Any) -> None:
        if self.multiscale:
            original_draw(self, new_label, last_cursor_coord, coordinates)
            return
        margin = self.brush_size / 2 + 2  # napari's brush reaches at most half its size
        shape = np.asarray(self.data.shape, float)
        drawing["box"] = (np.full(len(shape), -margin), shape - 1 + margin)
        try:
            original_draw(self, new_label, last_cursor_coord, coordinates)
        finally:
            drawing.pop("box", None)

    draw._bounded = True  # type: ignore[attr-defined]
    labels_module.interpolate_coordinates = interpolate
    Labels._draw = draw


def stroke_points(old: np.ndarray, new: np.ndarray, steps: int, lo: np.ndarray,
                  hi: np.ndarray) -> np.ndarray:
    """The points ``k / steps`` of the way from ``old`` to ``new`` (k = 1 .. steps, as
    napari's ``interpolate_coordinates`` makes them) that lie in the box ``lo``..``hi``,
    made without making the others. Past ``2**50`` steps (a zoom so small that the layer
    is far below a screen pixel) the points are beyond float64's resolution along the
    path and none is made."""
    if steps > 1 << 50:
        return np.empty((0, len(new)))
    first, last = 0.0, 1.0  # the part of the segment inside the box (Liang-Barsky)
    delta = new - old
    for i in range(len(new)):
        if delta[i] == 0:
            if not lo[i] <= old[i] <= hi[i]:
                return np.empty((0, len(new)))
            continue
        a, b = (lo[i] - old[i]) / delta[i], (hi[i] - old[i]) / delta[i]
        first, last = max(first, min(a, b)), min(last, max(a, b))
    if first > last:
        return np.empty((0, len(new)))
    k = np.arange(max(1, int(np.floor(first * steps))),
                  min(steps, int(np.ceil(last * steps))) + 1)
    coords = old + k[:, None] * (delta / steps)
    coords[k == steps] = new  # as linspace ends exactly at its stop
    inside = np.all((coords >= lo) & (coords <= hi), axis=1)  # the ends were rounded out
    return coords[inside]


@dataclasses.dataclass(frozen=True)
class LabelsEdits:
    """Where a labels layer's edit history stood (``labels_edits``)."""

    layer: Any
    undo: list[Any]
    redo: list[Any]
    staged: list[Any]
    blocked: bool

    def applied(self) -> list[Any]:
        """The recorded changes in the layer's pixels then, oldest first."""
        return [atom for item in self.undo for atom in item] + self.staged


def labels_edits(layer: Layer) -> LabelsEdits | None:
    """Where ``layer``'s edit history stands now, if it is a labels layer: the mark a
    failed command's edits are put back to (``put_back_labels_edits``). napari records
    each change before making it (``Labels._save_history``: an atom in ``_staged_history``
    during a stroke, in an item of ``_undo_history`` after it), so the pixels are the
    atoms of the undo history and the staged ones, applied in turn."""
    from napari.layers import Labels

    if not isinstance(layer, Labels):
        return None
    return LabelsEdits(layer, list(layer._undo_history), list(layer._redo_history),
                       list(layer._staged_history), layer._block_history)


def put_back_labels_edits(mark: LabelsEdits) -> None:
    """The labels layer's pixels and history as they were at ``mark``: the changes
    applied now and not then are undone (newest first), those applied then and undone
    since are made again (oldest first), and the histories are put back. An undo history
    that overflowed its limit during the command dropped its oldest items, which stay
    applied, as they were at the mark."""
    layer = mark.layer
    now = LabelsEdits(layer, list(layer._undo_history), [], list(layer._staged_history),
                      False).applied()
    then = mark.applied()
    index = {id(atom): i for i, atom in enumerate(then)}
    full = len(layer._undo_history) == layer._undo_history.maxlen
    # where ``now`` joins ``then``: past the atoms dropped from a full history's front
    start = index.get(id(now[0]), len(then) if full else 0) if now else 0
    common = 0
    while (common < len(now) and start + common < len(then)
           and now[common] is then[start + common]):
        common += 1
    for atom in reversed(now[common:]):
        _replay_labels_atom(layer, atom, undoing=True)
    for atom in then[start + common:]:
        _replay_labels_atom(layer, atom, undoing=False)
    layer._undo_history = type(layer._undo_history)(mark.undo,
                                                     maxlen=layer._undo_history.maxlen)
    layer._redo_history = type(layer._redo_history)(mark.redo,
                                                     maxlen=layer._redo_history.maxlen)
    layer._staged_history = list(mark.staged)
    layer._block_history = mark.blocked
    if now[common:] or then[start + common:]:
        layer.refresh()


def _replay_labels_atom(layer: Any, atom: Any, *, undoing: bool) -> None:
    """One recorded change of a labels layer, undone or made again (as ``_load_history``)."""
    from napari.layers.labels.labels import _MaskedPaintAtom

    if isinstance(atom, _MaskedPaintAtom):
        layer._replay_masked_atom(atom, undoing)
        return
    indices, before, after = atom
    layer.data[indices] = before if undoing else after
