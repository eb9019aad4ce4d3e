"""Every private napari API the client's Qt window touches, in one place (the viewer
model's own are in ``napari_compat``, which imports no Qt).

Supported: napari >=0.9.2,<0.10 (as the server). The client shows the server's frames in
napari's own window, so it needs hooks napari does not offer publicly:

* napari's ``Window`` always builds ``QtViewer`` with the default canvas class; while
  ``remote_canvas_windows()`` is active it builds it with ours instead.
* ``VispyCanvas._on_mouse_press/_move/_release`` run the layers' mouse callbacks
  locally; in interactive layer modes ``LayerlessCanvas`` forwards the events instead.
* ``Window`` is made for a ``napari.Viewer``; ``open_window`` makes it for the client's
  ``ViewerModel`` (as ``Viewer.__init__`` does).
* ``VispyCanvas`` parents every layer visual into its view (``_setup_single_view`` /
  ``_setup_layer_views_in_grid``) and each visual follows its layer's data; the client's
  layers hold no voxels, so ``LayerlessCanvas`` leaves the visuals out of the scene and
  disconnects them from their layers.
* The client's canvas keeps napari's OpenGL widget off screen and paints elsewhere, so
  what napari and vispy do when that widget is resized, entered or drawn is done here:
  ``resize_scene_canvas`` (vispy's Qt backend: ``_vispy_set_physical_size`` and the resize
  event ``resizeGL`` would send), ``canvas_entered`` (``QtViewer._enter_canvas`` /
  ``_leave_canvas``, which ``NapariSceneCanvas`` calls from its widget's enter and leave
  events) and ``napari_draw_hooks`` (``VispyCanvas.on_draw`` and ``enable_dims_play``,
  which napari connects to vispy's draw event); ``redirect_redraws`` makes every redraw
  vispy asks of its widget (a camera moved, a colour changed) repaint the client's.

* ``take_over_window`` turns a person's own napari window into a client (the plugin):
  a second ``QtViewer`` replaces the first in ``_QtMainWindow``'s central widget and
  ``_qt_viewer``, the layer list and controls docks show its widgets, and the main
  window's event handlers (``Window._status_changed`` ...) and status thread
  (``StatusChecker.viewer_ref``) follow its viewer. napari hands a plugin its viewer
  wrapped in a ``PublicOnlyProxy`` (``__wrapped__`` is the window itself).
* napari's File > Open File(s) (``QtViewer._open_files_dialog``) asks
  ``_open_file_dialog_uni`` for files on this computer, and Open Folder asks
  ``QFileDialog.getExistingDirectory`` of napari's ``qt_viewer`` module;
  ``open_files_from`` makes both show the server's folders instead (``server_files``),
  with napari's own dialog one button away. Save Selected/All Layers
  (``QtViewer._save_layers_dialog``) asks
  ``QFileDialog.getSaveFileName`` of napari's ``qt_viewer`` module; ``save_files_to``
  routes that question, for a remote window only, to a dialog over the server's save
  directory.

Supported vispy: >=0.15,<0.18 (its Qt backend's ``_vispy_set_physical_size`` and
``_vispy_update``; ``SceneCanvas._update_pending``).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from napari._qt import qt_main_window
from napari._vispy.canvas import VispyCanvas
from napari.components import ViewerModel

#: Layer modes the client handles itself (napari moves its own camera in these);
#: in every other mode (paint, fill, pick, add, select, ...) the mouse goes to the server.
LOCAL_MODES = frozenset({"pan_zoom", "transform"})


class LayerlessCanvas(VispyCanvas):
    """napari's canvas without the layers' own visuals (the server draws those).

    In a layer's interactive modes, its mouse bindings must act on the server's layer
    (which holds the data), not on the client's placeholder: the canvas hands press,
    drag and release to ``mouse_forward`` instead of running napari's callbacks here.
    """

    mouse_forward: Callable[[str, Any], None] | None = None
    key_forward: Callable[[str, Any], None] | None = None
    _forwarding_drag = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # napari's key bindings run through the canvas's KeymapHandler; route them
        events = self._scene_canvas.events
        events.key_press.disconnect(self._key_map_handler.on_key_press)
        events.key_release.disconnect(self._key_map_handler.on_key_release)
        events.key_press.connect(lambda event: self._route_key("press", event))
        events.key_release.connect(lambda event: self._route_key("release", event))

    def _keys_go_to_server(self) -> bool:
        """Layers whose key bindings change data (labels: undo, a new label after the
        data's maximum; points: deleting the selection) take their keys on the server,
        which holds the data."""
        from napari.layers import Labels, Points, Shapes

        return (self.key_forward is not None
                and isinstance(self.viewer.layers.selection.active, Labels | Points | Shapes))

    def _route_key(self, kind: str, event: Any) -> None:
        if self._keys_go_to_server():
            assert self.key_forward is not None
            self.key_forward(kind, event)
        elif kind == "press":
            self._key_map_handler.on_key_press(event)
        else:
            self._key_map_handler.on_key_release(event)

    def _forwards(self) -> bool:
        layer = self.viewer.layers.selection.active
        return (self.mouse_forward is not None and layer is not None
                and str(layer.mode) not in LOCAL_MODES)

    def _on_mouse_press(self, event: Any) -> None:
        if self._forwards():
            assert self.mouse_forward is not None
            self._forwarding_drag = True
            self.mouse_forward("press", event)
            return
        super()._on_mouse_press(event)

    def _on_mouse_move(self, event: Any) -> None:
        if self._forwarding_drag and self.mouse_forward is not None:
            self.mouse_forward("move", event)
            return
        super()._on_mouse_move(event)

    def _on_mouse_release(self, event: Any) -> None:
        if self._forwarding_drag and self.mouse_forward is not None:
            self._forwarding_drag = False
            self.mouse_forward("release", event)
            return
        super()._on_mouse_release(event)

    def add_layer_visual_mapping(self, napari_layer: Any, vispy_layer: Any) -> None:
        super().add_layer_visual_mapping(napari_layer, vispy_layer)
        # napari keeps the mapping (its overlays and ordering look it up), but the visual
        # must not follow its layer: every slice would be converted into a texture that
        # is never drawn
        vispy_layer.close()

    def _setup_single_view(self) -> None:
        for vispy_layer in self.layer_to_visual.values():
            vispy_layer.node.parent = None

    def _setup_layer_views_in_grid(self) -> None:
        self._setup_single_view()


@contextlib.contextmanager
def remote_canvas_windows(canvas_class: type[VispyCanvas]) -> Iterator[None]:
    """napari windows created inside this block use ``canvas_class`` for their canvas,
    and show the controls of layers their viewer already has (napari's window is made
    for a fresh viewer: its layer-controls panel makes a layer's controls when the layer
    is inserted, and fails on a selected layer it has none for)."""
    original = qt_main_window.QtViewer

    def make(*args: Any, **kwargs: Any) -> Any:
        qt_viewer = original(*args, canvas_class=canvas_class, **kwargs)
        controls = qt_viewer.controls
        for layer in qt_viewer.viewer.layers:
            if layer not in controls.widgets:
                controls._add(SimpleNamespace(value=layer))
        controls._populate()
        return qt_viewer

    qt_main_window.QtViewer = functools.wraps(original)(make)
    try:
        yield
    finally:
        qt_main_window.QtViewer = original


def resize_scene_canvas(scene_canvas: Any, width: int, height: int, ratio: float) -> None:
    """vispy's canvas takes the size of the widget that shows it (its own widget, kept
    off screen, gets no resize events from Qt)."""
    native = scene_canvas.native
    native.resize(width, height)
    physical = (round(width * ratio), round(height * ratio))
    native._vispy_set_physical_size(*physical)
    scene_canvas.events.resize(size=(width, height), physical_size=physical)


def redirect_redraws(scene_canvas: Any, update: Callable[[], None]) -> None:
    """``update()`` wherever vispy would redraw its canvas (``SceneCanvas.update``; a
    camera changes its transform in place, which no scene event reports)."""
    scene_canvas.native._vispy_update = update


def canvas_entered(widget: Any, inside: bool) -> None:
    """What napari's window does when the pointer enters or leaves its canvas (the
    viewer's ``mouse_over_canvas`` and status)."""
    parent = widget.parentWidget()
    while parent is not None and not hasattr(parent, "_enter_canvas"):
        parent = parent.parentWidget()
    if parent is not None:
        (parent._enter_canvas if inside else parent._leave_canvas)()


def napari_draw_hooks(canvas: VispyCanvas) -> None:
    """What napari and vispy do on every draw of napari's canvas: the viewer's camera
    model follows vispy's camera (a drag or the wheel moved it), dims play may go on,
    and vispy takes the next redraw request (``SceneCanvas`` ignores requests while one
    is pending, and only its own draw clears that)."""
    canvas._scene_canvas._update_pending = False
    canvas.on_draw(None)
    canvas.enable_dims_play()


def open_window(viewer: ViewerModel, *, show: bool = True) -> Any:
    """napari's main window (``napari.window.Window``) on a ``ViewerModel`` that is not a
    ``napari.Viewer`` (napari's ``Viewer`` is a ``ViewerModel`` that makes this window
    in its constructor; the client's viewer must exist without Qt first)."""
    from napari.plugins import _initialize_plugins
    from napari.window import Window

    _initialize_plugins()
    return Window(viewer, show=show)


def unproxied(obj: Any) -> Any:
    """napari hands a plugin its viewer wrapped in a ``PublicOnlyProxy`` (which refuses
    private attributes): the object itself."""
    return getattr(obj, "__wrapped__", obj)


#: the window's docks that show its viewer (their places stay the person's)
_VIEWER_DOCKS = ("dockLayerList", "dockLayerControls")


def take_over_window(window: Any, viewer: ViewerModel, canvas_class: type[VispyCanvas]
                     ) -> Callable[[], None]:
    """A person's own napari window (on their ``napari.Viewer``) shows ``viewer`` from
    now on; the function returned gives it back its own viewer.

    napari builds its window around one viewer: a ``QtViewer`` (canvas, dims sliders,
    layer list, layer controls) in its central widget and docks, and the main window's
    status, help, title and theme follow that viewer's events, its status thread polls
    that viewer, and its menus act on ``_QtMainWindow._qt_viewer.viewer``. A second
    ``QtViewer`` on ``viewer`` (with ``canvas_class``) takes the first one's place in
    the central widget; the window's layer list and controls docks stay where the person
    put them, showing the new viewer's; the rest is pointed at ``viewer``. Widgets the
    person docked keep whatever viewer they were given."""
    window = unproxied(window)
    qt_window = window._qt_window
    own = qt_window._qt_viewer
    with remote_canvas_windows(canvas_class):
        remote = qt_main_window.QtViewer(viewer, show_welcome_screen=False)
    layout = qt_window.centralWidget().layout()
    docks = {name: getattr(own, name) for name in _VIEWER_DOCKS}
    inner = {id(own): {name: dock.widget() for name, dock in docks.items()},
             id(remote): {name: getattr(remote, name).widget() for name in _VIEWER_DOCKS}}
    handlers = (("help", window._help_changed), ("title", window._title_changed),
                ("theme", window._update_theme), ("status", window._status_changed))
    status = qt_window.status_thread
    with contextlib.suppress(IndexError, ValueError):  # as napari's main window does
        viewer.cursor.events.position.disconnect(viewer.update_status_from_cursor)

    def show(out: Any, into: Any) -> None:
        layout.replaceWidget(out, into)
        out.hide()
        into.show()
        for name, dock in docks.items():
            dock.setWidget(inner[id(into)][name])
        qt_window._qt_viewer = into
        for event, handler in handlers:
            with contextlib.suppress(IndexError, ValueError):
                getattr(out.viewer.events, event).disconnect(handler)
            getattr(into.viewer.events, event).connect(handler)
        with contextlib.suppress(IndexError, ValueError):
            out.viewer.cursor.events.position.disconnect(status.trigger_status_update)
        into.viewer.cursor.events.position.connect(status.trigger_status_update)
        status.viewer_ref = weakref.ref(into.viewer)
        qt_window.setWindowTitle(into.viewer.title)

    show(own, remote)
    return lambda: show(remote, own)


def open_files_from(qt_viewer: Any, show_dialog: Callable[[Callable[[], None]], Any]
                    ) -> None:
    """napari's File > Open File(s) in this window calls ``show_dialog(here)`` (which
    opens on the server what it picks) instead of napari's dialog over this computer's
    disk; ``here()`` shows napari's own and opens what it picked, as napari does."""
    own = type(qt_viewer)._open_file_dialog_uni

    def here() -> None:
        filenames = own(qt_viewer, "Select file(s)...")
        if filenames:
            qt_viewer._qt_open(filenames, choose_plugin=False, stack=False)

    def instead(caption: str) -> list[str]:
        show_dialog(here)
        return []  # napari opens nothing more itself

    qt_viewer._open_file_dialog_uni = instead

    def folder_here(ask: Callable[[], Any]) -> None:
        folder = ask()
        if folder:
            qt_viewer._qt_open([folder], stack=False, choose_plugin=False)

    # File > Open Folder asks ``QFileDialog.getExistingDirectory`` of napari's module
    _route_file_dialogs()
    setattr(qt_viewer, _OPEN_FOLDER_HOOK,
            lambda ask: show_dialog(lambda: folder_here(ask)))


#: what a remote window's QtViewer answers napari's save and open-folder questions with
_SAVE_HOOK = "_napari_engine_save"
_OPEN_FOLDER_HOOK = "_napari_engine_open_folder"


def _routed_file_dialog() -> type:
    """napari's ``QFileDialog``, but a save question asked by a QtViewer that carries
    ``_SAVE_HOOK`` is answered by that hook (local windows are not affected)."""
    from qtpy.QtWidgets import QFileDialog

    class RoutedFileDialog(QFileDialog):
        @staticmethod
        def getSaveFileName(parent: Any = None, *args: Any, **kwargs: Any) -> Any:
            hook = getattr(parent, _SAVE_HOOK, None)
            if hook is not None:
                return hook(lambda: QFileDialog.getSaveFileName(parent, *args, **kwargs))
            return QFileDialog.getSaveFileName(parent, *args, **kwargs)

        @staticmethod
        def getExistingDirectory(parent: Any = None, *args: Any, **kwargs: Any) -> Any:
            # File > Open Folder: the remote window's open dialog (folders, OME-Zarr)
            hook = getattr(parent, _OPEN_FOLDER_HOOK, None)
            if hook is not None:
                hook(lambda: QFileDialog.getExistingDirectory(parent, *args, **kwargs))
                return ""  # the dialog opens what it picks; napari opens nothing more
            return QFileDialog.getExistingDirectory(parent, *args, **kwargs)

    return RoutedFileDialog


def save_files_to(qt_viewer: Any, ask: Callable[[Callable[[], Any]], Any]) -> None:
    """napari's File > Save Selected/All Layers in this window asks ``ask(here)`` for
    ``(filename, filter)`` instead of napari's dialog over this computer's disk;
    ``here()`` asks napari's own."""
    _route_file_dialogs()
    setattr(qt_viewer, _SAVE_HOOK, ask)


def _route_file_dialogs() -> None:
    """napari's ``qt_viewer`` module asks ``RoutedFileDialog`` from now on (once)."""
    from napari._qt import qt_viewer as qt_viewer_module

    if getattr(qt_viewer_module.QFileDialog, "__name__", "") != "RoutedFileDialog":
        qt_viewer_module.QFileDialog = _routed_file_dialog()


def qt_viewer_of(window: Any) -> Any:
    """The QtViewer of a napari ``Window``."""
    return window._qt_viewer


def controls_layer(window: Any) -> Any:
    """The layer whose controls the window's layer-controls panel shows (None: empty)."""
    container = window._qt_viewer.controls
    shown = container.currentWidget()
    return next((layer for layer, widget in container.widgets.items() if widget is shown),
                None)


def qt_window_of(window: Any) -> Any:
    """The Qt main window (a ``QMainWindow``) of a napari ``Window``."""
    return window._qt_window


def scene_canvas_of(canvas: VispyCanvas) -> Any:
    """The vispy ``SceneCanvas`` inside napari's canvas (its draw events)."""
    return canvas._scene_canvas
