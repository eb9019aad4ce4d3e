"""Every private napari API the client's viewer model touches (no Qt here; the window's
are in ``qt_napari_compat``).

Supported: napari >=0.9.2,<0.10 (as the server).

* ``ViewerModel._calc_status_from_cursor`` computes the status bar text from the local
  layers' data; ``StatusFromServer`` answers with the server's text instead.
* ``Layer._raw_to_displayed`` turns each slice napari cuts locally into what a visual
  would show (for labels, a modulo over every pixel: 8 ms a 2048 x 2048 slice, twice per
  z step); ``skip_placeholder_display`` computes it for one pixel of a placeholder.
* ``ViewerModel._new_labels`` (File > New Layer > Labels, the new-labels button) makes
  the zeros here, the size of the server's data (256 TiB for the petabyte sample);
  ``NewLabelsOnServer`` asks the server to make them instead.
* ``Image.data`` / ``Labels.data`` of a layer whose voxels are on the server is the
  server's data (``remote_data.RemoteArray``: ``ServerImage``, ``ServerLabels``),
  except for the napari functions in ``PLACEHOLDER_READERS``, by name: its slicing
  (``_make_slice_request_internal`` reads ``layer.data``: every z step would fetch a
  plane) and ``get_dtype`` (the label controls: it indexes the data to find a dtype).
* ``napari.plugins._initialize_plugins`` registers napari's builtin writers (napari's
  Viewer does it, a ``ViewerModel`` does not): ``napari_writers``.
* ``compute_where_the_data_is``: napari computes thumbnails (``_update_thumbnail``) and
  contrast ranges (``_calc_data_range``, which auto-contrast, reset and the contrast
  range use) from a layer's data, and auto-contrast again from each new slice
  (``_ImageSlicingState._update_slice_response``); on the client the data is a
  placeholder, so those come from the server; so does the histogram of the contrast
  popup (``RemoteHistogram``, set as the layer's ``_histogram``).
* ``Layer.loaded`` is read-only; napari's async slicing sets it
  (``_slicing_state._set_loaded``) and its layer list animates while it is False:
  ``set_loaded`` shows the server's (its chunks are loading).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
from napari.components import ViewerModel
from napari.components.histogram import HistogramModel
from napari.layers import Image, Labels, Layer, Points, Shapes
from napari.layers._multiscale_data import MultiScaleData
from napari.layers._scalar_field.scalar_field import ScalarFieldSlicingState
from pydantic import PrivateAttr


class StatusFromServer(ViewerModel):
    """A ``ViewerModel`` whose status bar text is what the server computed.

    napari computes the status text (coordinates and the data value under the cursor)
    from the local layers' data in ``_calc_status_from_cursor``; the client's layers hold
    only placeholders, so the value must come from the server instead
    (``set_remote_status``, with each ``cursor.set`` reply).
    """

    _remote_status: tuple[Any, str] | None = None
    #: a script's viewer asks the server there and then (a window shows the status of
    #: each ``cursor.set`` reply as it comes: napari asks from its status thread)
    _status_now: Callable[[], tuple[Any, str]] | None = None

    def set_remote_status(self, status: Any, tooltip: str) -> None:
        self._remote_status = (status, tooltip)

    def _calc_status_from_cursor(self) -> tuple[Any, str] | None:
        if not self.mouse_over_canvas:
            return None
        if self._status_now is not None:
            return self._status_now()
        return self._remote_status


def skip_placeholder_display(layer: Layer) -> None:
    """napari slices the client's layers on every dims change, as it would to draw them;
    the client draws nothing, and a placeholder slice (no voxels: zero strides) shows one
    value everywhere. Its displayed slice becomes that value, computed once and
    broadcast; a slice of real data (none today) is converted as napari does."""
    convert = getattr(layer, "_raw_to_displayed", None)
    if convert is None:
        return

    def displayed(raw: Any, *args: Any, **kwargs: Any) -> Any:
        array = raw if isinstance(raw, np.ndarray) else None
        if (args or kwargs or array is None or not array.ndim or not array.size
                or any(array.strides)):
            return convert(raw, *args, **kwargs)
        one = np.asarray(convert(np.ascontiguousarray(array[(slice(0, 1),) * array.ndim])))
        if one.shape != (1,) * array.ndim:
            return convert(raw)
        return np.broadcast_to(one, array.shape)

    layer._raw_to_displayed = displayed


class NewLabelsOnServer(StatusFromServer):
    """A viewer whose new labels layers are made where the data is (lazily, at the size
    of the active layer's data there), not allocated here."""

    def _new_labels(self) -> None:
        self.new_labels_on_server()

    def new_labels_on_server(self) -> Any:
        raise NotImplementedError


#: napari's functions that read a layer's ``data`` for what its placeholder has too
#: (shape, dtype), or to slice it for drawing, which the server does: they get the
#: placeholder (a z step would otherwise fetch a plane, a label control a plane)
PLACEHOLDER_READERS = frozenset({
    ("napari.layers._scalar_field.scalar_field", "_make_slice_request_internal"),
    ("napari.layers.labels._labels_utils", "get_dtype"),
})


def _data_property(base: type[Layer]) -> property:
    """``base.data``, except where the server's data is bound (``bind_server_data``):
    then it is that, for everyone but ``PLACEHOLDER_READERS``."""
    own: property = base.data

    def get(self: Layer) -> Any:
        server = self.__dict__.get("_server_data")
        if server is None:
            return own.fget(self)  # type: ignore[misc]
        caller = sys._getframe(1)
        if (caller.f_globals.get("__name__"), caller.f_code.co_name) in PLACEHOLDER_READERS:
            return own.fget(self)  # type: ignore[misc]
        return server

    def set_(self: Layer, value: Any) -> None:
        send = self.__dict__.get("_send_data")
        if self.__dict__.get("_server_data") is None or send is None:
            own.fset(self, value)  # type: ignore[misc]
            return
        rebind = send(value)  # the server's layer has it now (or this raised)
        self.__dict__["_server_data"] = None
        own.fset(self, value)  # type: ignore[misc]
        rebind()

    return property(get, set_, doc=own.__doc__)


def _value_there(layer: Layer, position: Any) -> Any:
    """napari's ``_get_value`` (the value at a data position, which ``get_value`` and
    ``get_status`` report), read from the server's data: one voxel of the displayed
    slice (napari's own reads its slice: the position on the displayed axes, the slice
    point on the others)."""
    server = layer.__dict__["_server_data"]
    coord = np.asarray(layer._data_slice.point, float)
    displayed = list(layer._slice_input.displayed)
    where = np.asarray(position, float)
    coord[displayed] = where[displayed] if len(where) == len(coord) else where[-len(
        displayed):]
    array = server
    if layer.multiscale:
        array = server[layer.data_level]
        coord = coord / np.asarray(layer.downsample_factors[layer.data_level])
    index = tuple(int(c) for c in np.round(coord))
    inside = all(0 <= c < n for c, n in zip(index, array.shape, strict=False))
    value = array[index] if inside else None
    return (layer.data_level, value) if layer.multiscale else value


class _OnServer:
    """What a layer whose voxels are on the server does differently: napari's value at
    a position is read there (``_value_there``), and it keeps napari's kind name."""

    KIND: ClassVar[str]

    def _get_value(self, position: Any) -> Any:
        if self.__dict__.get("_server_data") is None:
            return super()._get_value(position)  # type: ignore[misc]
        return _value_there(self, position)

    @property
    def _type_string(self) -> str:
        return self.KIND  # napari's writers and actions go by it


class ServerImage(_OnServer, Image):
    """napari's ``Image`` whose ``data`` can be the server's (``bind_server_data``)."""

    KIND = "image"
    data = _data_property(Image)


class ServerLabels(_OnServer, Labels):
    """napari's ``Labels`` whose ``data`` can be the server's (``bind_server_data``)."""

    KIND = "labels"
    data = _data_property(Labels)


def _told(base: type, name: str) -> property:
    """``base``'s property ``name``, whose setter also emits the layer's ``name`` event:
    napari's ``Points.size`` and ``Shapes.edge_width`` setters emit none (its window
    reads them at the next refresh), and the server must hear of a script's change."""
    original: property = getattr(base, name)

    def setter(layer: Any, value: Any) -> None:
        assert original.fset is not None
        original.fset(layer, value)
        getattr(layer.events, name)()

    return property(original.fget, setter, doc=original.__doc__)


class ServerPoints(_OnServer, Points):
    """napari's ``Points``, whose per-point sizes set by a script are told (``_told``)."""

    KIND = "points"
    size = _told(Points, "size")


class ServerShapes(_OnServer, Shapes):
    """napari's ``Shapes``, whose per-shape edge widths set by a script are told."""

    KIND = "shapes"
    edge_width = _told(Shapes, "edge_width")


#: the class a client's layer of each napari kind takes once it mirrors a server layer
SERVER_CLASSES: dict[type, type] = {Image: ServerImage, Labels: ServerLabels,
                                    Points: ServerPoints, Shapes: ServerShapes}


def server_class(layer: Layer) -> type | None:
    """The class ``layer`` takes to mirror a server layer (None: it keeps its own)."""
    return next((server for base, server in SERVER_CLASSES.items()
                 if isinstance(layer, base)), None)


def kind_of(layer: Layer) -> str:
    """napari's name for a layer's kind ("image", "points", ...: ``_type_string``, which
    its writers and actions use; a ``ServerImage`` is an "image")."""
    return str(layer._type_string)


def bind_server_data(layer: Layer, levels: list[Any],
                     send: Callable[[Any], Callable[[], None]]) -> None:
    """From now on ``layer.data`` is ``levels`` (one array a level, the server's: see
    ``remote_data``), except for napari's ``PLACEHOLDER_READERS``; ``layer.data = new``
    calls ``send(new)`` (which makes the server's layer take it, and returns what binds
    the layer to it once napari has it here too)."""
    layer.__dict__["_server_data"] = (MultiScaleData(levels) if layer.multiscale
                                      else levels[0])
    layer.__dict__["_send_data"] = send


DataRange = Callable[[Layer, str], tuple[float, float]]
#: (layer, mode, bins, log_scale) -> (bin edges, counts), computed by the server
Histogram = Callable[[Layer, str, int, bool], tuple[list[float], list[float]]]


class RemoteHistogram(HistogramModel):
    """napari's histogram model of a layer whose data is elsewhere: ``compute`` asks
    the server, which runs napari's own model on the real data (the contrast popup runs
    it on a worker thread, so the wait is not the GUI's)."""

    _fetch: Any = PrivateAttr(default=None)

    def compute(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if bool(getattr(self, "_computing", False)) or self._fetch is None:
            return
        self._computing = True
        self._connect_layer_events()
        try:
            edges, counts = self._fetch(self._layer, self.mode, self.bins, self.log_scale)
            self._bin_edges = np.asarray(edges, np.float32)
            self._counts = np.asarray(counts, np.float32)
            self._dirty = False
            yield self._bin_edges, self._counts
        finally:
            self._computing = False


def compute_where_the_data_is(layer: Layer, data_range: DataRange,
                              histogram: Histogram) -> None:
    """What napari computes from a placeholder layer's data comes from the server:
    its thumbnail (the server's, applied as state), and its data range
    (``data_range(layer, mode)``, asked of the server: napari's auto-contrast "once",
    "reset", "full range" and turning auto-contrast on then act on the real data), and
    an image's histogram (``histogram``). An image's continuous auto-contrast runs on
    the server, for the server's slices."""
    skip_placeholder_display(layer)
    layer._update_thumbnail = lambda *args, **kwargs: None
    if isinstance(layer, Image):
        layer._calc_data_range = (
            lambda mode="data": data_range(layer, mode))
        remote = RemoteHistogram(layer)
        remote._fetch = histogram
        layer._histogram = remote  # what ``layer.histogram`` (the contrast popup) uses
        slicing = layer._slicing_state
        # napari's slice response, without its auto-contrast from the placeholder slice
        slicing._update_slice_response = types.MethodType(
            ScalarFieldSlicingState._update_slice_response, slicing)


@functools.cache
def napari_writers() -> None:
    """Register napari's plugins (its builtin writers among them) once, as napari's
    Viewer does: ``LayerList.save`` finds no writer before."""
    from napari.plugins import _initialize_plugins

    _initialize_plugins()


def set_loaded(layer: Layer, loaded: bool) -> None:
    """napari's ``Layer.loaded``, as the server's (the layer list shows it)."""
    if layer.loaded != loaded:
        layer._slicing_state._set_loaded(loaded)
        layer.events.loaded()
