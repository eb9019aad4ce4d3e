"""``ProxyViewer``: a napari-like viewer whose model lives on a napari-engine server.

Reads come from the client's state mirror (no round trip); writes are validated locally,
applied optimistically to the mirror and sent as protocol commands. ``screenshot()`` and
``sync()`` wait until the server has applied everything sent before them, which makes
scripts and tests deterministic. No voxels ever cross to the client: layers expose
their shape and dtype, not their data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_engine.client.connection import Connection, Frame
from napari_engine.protocol.ops import ADD_IMAGE_PROPERTIES, ARRAY_DTYPES


class _Section:
    """Base for camera/dims/canvas views onto one flat section of the mirror."""

    _section = ""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _get(self, key: str) -> Any:
        with self._conn.lock:
            return self._conn.mirror.state[self._section].get(key)

    def _set(self, op: str, key: str, value: Any) -> None:
        self._conn.send_command(
            op, {key: value}, t=time.perf_counter(),
            local=lambda mirror, cid: mirror.set_local(self._section, key, value, cid))

    def __repr__(self) -> str:
        with self._conn.lock:
            return f"{type(self).__name__}({self._conn.mirror.state[self._section]!r})"


def _tuple(value: Any) -> tuple[Any, ...] | None:
    return tuple(value) if value is not None else None


class ProxyCamera(_Section):
    """napari ``Camera`` fields: center, zoom, angles, perspective."""

    _section = "camera"

    @property
    def center(self) -> tuple[float, ...] | None:
        return _tuple(self._get("center"))

    @center.setter
    def center(self, value: Sequence[float]) -> None:
        self._set("camera.set", "center", [float(v) for v in value])

    @property
    def zoom(self) -> float:
        return float(self._get("zoom"))

    @zoom.setter
    def zoom(self, value: float) -> None:
        self._set("camera.set", "zoom", float(value))

    @property
    def angles(self) -> tuple[float, ...] | None:
        return _tuple(self._get("angles"))

    @angles.setter
    def angles(self, value: Sequence[float]) -> None:
        self._set("camera.set", "angles", [float(v) for v in value])

    @property
    def perspective(self) -> float:
        return float(self._get("perspective"))

    @perspective.setter
    def perspective(self, value: float) -> None:
        self._set("camera.set", "perspective", float(value))


class ProxyDims(_Section):
    """napari ``Dims`` fields: ndim, ndisplay, order, current_step, range, point."""

    _section = "dims"

    @property
    def ndim(self) -> int:
        return int(self._get("ndim"))

    @property
    def ndisplay(self) -> int:
        return int(self._get("ndisplay"))

    @ndisplay.setter
    def ndisplay(self, value: int) -> None:
        self._set("dims.set", "ndisplay", int(value))

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(self._get("order") or ())

    @order.setter
    def order(self, value: Sequence[int]) -> None:
        self._set("dims.set", "order", [int(v) for v in value])

    @property
    def current_step(self) -> tuple[int, ...]:
        return tuple(self._get("current_step") or ())

    @current_step.setter
    def current_step(self, value: Sequence[int]) -> None:
        self._set("dims.set", "current_step", [int(v) for v in value])

    def set_current_step(self, axis: int, value: int) -> None:
        """Move one axis, as napari's ``Dims.set_current_step``."""
        step = list(self.current_step)
        if axis < 0:
            axis += len(step)
        step[axis] = int(value)
        self._conn.send_command(
            "dims.set", {"step": [axis, int(value)]}, t=time.perf_counter(),
            local=lambda mirror, cid: mirror.set_local("dims", "current_step", step, cid))

    @property
    def nsteps(self) -> tuple[int, ...]:
        return tuple(self._get("nsteps") or ())

    @property
    def range(self) -> tuple[tuple[float, float, float], ...]:
        return tuple((float(a), float(b), float(c)) for a, b, c in self._get("range") or ())

    @property
    def point(self) -> tuple[float, ...]:
        return tuple(self._get("point") or ())

    @property
    def axis_labels(self) -> tuple[str, ...]:
        return tuple(self._get("axis_labels") or ())


class _LayerProperty:
    """A settable layer property backed by the mirror."""

    def __init__(self, read_only: bool = False) -> None:
        self.read_only = read_only
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, layer: ProxyLayer | None, owner: type) -> Any:
        if layer is None:
            return self
        value = layer._state().get(self.name)
        return tuple(value) if isinstance(value, list) else value

    def __set__(self, layer: ProxyLayer, value: Any) -> None:
        if self.read_only:
            raise AttributeError(f"'{self.name}' is read-only on a remote layer")
        layer._set(self.name, value)


class ProxyLayer:
    """A server layer, by stable id; properties read from and write to the server."""

    name = _LayerProperty()
    visible = _LayerProperty()
    opacity = _LayerProperty()
    blending = _LayerProperty()
    contrast_limits = _LayerProperty()
    colormap = _LayerProperty()
    gamma = _LayerProperty()
    interpolation2d = _LayerProperty()
    interpolation3d = _LayerProperty()
    rendering = _LayerProperty()
    depiction = _LayerProperty()
    iso_threshold = _LayerProperty()
    attenuation = _LayerProperty()
    scale = _LayerProperty()
    translate = _LayerProperty()
    mode = _LayerProperty()
    current_size = _LayerProperty()
    current_face_color = _LayerProperty()
    current_edge_width = _LayerProperty()
    current_edge_color = _LayerProperty()
    selected_data = _LayerProperty(read_only=True)
    count = _LayerProperty(read_only=True)
    selected_label = _LayerProperty()
    brush_size = _LayerProperty()
    contour = _LayerProperty()
    contrast_limits_range = _LayerProperty(read_only=True)
    shape = _LayerProperty(read_only=True)
    ndim = _LayerProperty(read_only=True)
    multiscale = _LayerProperty(read_only=True)
    axis_labels = _LayerProperty(read_only=True)

    def __init__(self, conn: Connection, layer_id: int) -> None:
        self._conn = conn
        self.id = layer_id

    def _state(self) -> dict[str, Any]:
        with self._conn.lock:
            layer = self._conn.mirror.layer(self.id)
            if layer is None:
                raise LookupError(f"layer {self.id} no longer exists on the server")
            return dict(layer)

    def _set(self, prop: str, value: Any) -> None:
        if isinstance(value, tuple | np.ndarray):
            value = [float(v) for v in value]
        elif isinstance(value, np.generic):
            value = value.item()
        self._conn.send_command(
            "layer.set", {"layer": self.id, "props": {prop: value}}, t=time.perf_counter(),
            local=lambda mirror, cid: mirror.set_local_layer(self.id, prop, value, cid))

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self._state()["dtype"])

    @property
    def type(self) -> str:
        return str(self._state()["type"])

    @property
    def data(self) -> Any:
        raise AttributeError("a remote layer's voxels stay on the server; use .shape, "
                             ".dtype or viewer.screenshot()")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProxyLayer) and other.id == self.id and other._conn is self._conn

    def __hash__(self) -> int:
        return hash((id(self._conn), self.id))

    def __repr__(self) -> str:
        try:
            return f"<{self.type.capitalize()} layer {self.name!r} (remote id {self.id})>"
        except LookupError:
            return f"<removed remote layer {self.id}>"


class ProxyLayerList:
    """The server's layer list, bottom to top, as napari's ``LayerList``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _ids(self) -> list[int]:
        with self._conn.lock:
            return [layer["id"] for layer in self._conn.mirror.state["layers"]]

    def __len__(self) -> int:
        return len(self._ids())

    def __iter__(self) -> Iterator[ProxyLayer]:
        return iter([ProxyLayer(self._conn, i) for i in self._ids()])

    def __getitem__(self, key: int | str) -> ProxyLayer:
        if isinstance(key, str):
            with self._conn.lock:
                layer = self._conn.mirror.layer_by_name(key)
            if layer is None:
                raise KeyError(key)
            return ProxyLayer(self._conn, layer["id"])
        return ProxyLayer(self._conn, self._ids()[key])

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            with self._conn.lock:
                return self._conn.mirror.layer_by_name(item) is not None
        return isinstance(item, ProxyLayer) and item.id in self._ids()

    def index(self, layer: ProxyLayer | str) -> int:
        return self._ids().index(self._resolve(layer).id)

    def _resolve(self, layer: ProxyLayer | str | int) -> ProxyLayer:
        if isinstance(layer, ProxyLayer):
            return layer
        return self[layer]

    def remove(self, layer: ProxyLayer | str) -> None:
        self._conn.request("layer.remove", {"layer": self._resolve(layer).id})

    def move(self, src: int, dest: int) -> None:
        """Move the layer at index ``src`` so that it ends up at index ``dest``."""
        self._conn.request("layer.move", {"layer": self[src].id, "index": dest})

    @property
    def selection(self) -> list[ProxyLayer]:
        with self._conn.lock:
            selected = self._conn.mirror.state["selection"].get("selected", [])
        return [ProxyLayer(self._conn, i) for i in selected]

    def select(self, *layers: ProxyLayer | str) -> None:
        self._conn.request("layer.select", {"layers": [self._resolve(x).id for x in layers]})

    def __repr__(self) -> str:
        return f"ProxyLayerList({list(self)!r})"


class ProxyViewer:
    """A viewer whose napari ``ViewerModel`` lives on a napari-engine server."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.camera = ProxyCamera(connection)
        self.dims = ProxyDims(connection)
        self.layers = ProxyLayerList(connection)

    # -- napari-like API -------------------------------------------------------------
    def add_image(self, data: Any, **kwargs: Any) -> ProxyLayer | list[ProxyLayer]:
        """Add an image from an array (sent to the server once) or from a path the
        *server* can read (OME-Zarr, TIFF). Keyword arguments follow napari's
        ``add_image`` for: {}. Returns the new layer (a list if the file has several
        channels)."""
        unknown = sorted(set(kwargs) - set(ADD_IMAGE_PROPERTIES))
        if unknown:
            raise TypeError(f"add_image got unsupported argument(s): {', '.join(unknown)}")
        props = {k: (list(v) if isinstance(v, tuple | np.ndarray) else v)
                 for k, v in kwargs.items() if v is not None}
        args: dict[str, Any] = {"props": props} if props else {}
        payload = None
        if isinstance(data, str | os.PathLike):
            args["path"] = str(data) if not isinstance(data, Path) else data.as_posix()
        else:
            array = np.ascontiguousarray(np.asarray(data))
            if array.dtype.name not in ARRAY_DTYPES:
                raise TypeError(f"dtype {array.dtype} cannot be sent; use one of "
                                f"{', '.join(ARRAY_DTYPES)}")
            args.update(shape=list(array.shape), dtype=array.dtype.name)
            payload = array.tobytes()
        result = self.connection.request("layer.add_image", args, payload=payload)
        layers = [ProxyLayer(self.connection, i) for i in result["layers"]]
        return layers[0] if len(layers) == 1 else layers

    add_image.__doc__ = (add_image.__doc__ or "").format(", ".join(sorted(ADD_IMAGE_PROPERTIES)))

    def add_labels(self, data: Any, **kwargs: Any) -> ProxyLayer:
        """Add a labels layer from an integer array (sent to the server once)."""
        array = np.ascontiguousarray(np.asarray(data))
        if array.dtype.name not in ARRAY_DTYPES or array.dtype.kind not in "iu":
            raise TypeError(f"labels must be an integer array, not {array.dtype}")
        args: dict[str, Any] = {"shape": list(array.shape), "dtype": array.dtype.name}
        if kwargs:
            args["props"] = dict(kwargs)
        result = self.connection.request("layer.add_labels", args, payload=array.tobytes())
        return ProxyLayer(self.connection, result["layers"][0])

    def add_points(self, data: Any, **kwargs: Any) -> ProxyLayer:
        """Add a points layer from an (N, D) array of coordinates. ``size`` and
        ``face_color`` set the current (and initial) point size and colour."""
        coords = np.asarray(data, dtype=float)
        props = {{"size": "current_size", "face_color": "current_face_color"}.get(k, k): v
                 for k, v in kwargs.items()}
        args: dict[str, Any] = {"data": coords.tolist()}
        if props:
            args["props"] = props
        result = self.connection.request("layer.add_points", args)
        return ProxyLayer(self.connection, result["layers"][0])

    def add_shapes(self, data: Any, shape_type: str | list[str] = "rectangle",
                   **kwargs: Any) -> ProxyLayer:
        """Add a shapes layer from a list of (V, D) vertex arrays."""
        props = {{"edge_width": "current_edge_width", "face_color": "current_face_color",
                  "edge_color": "current_edge_color"}.get(k, k): v for k, v in kwargs.items()}
        args: dict[str, Any] = {"data": [np.asarray(s, dtype=float).tolist() for s in data],
                                "shape_type": shape_type}
        if props:
            args["props"] = props
        result = self.connection.request("layer.add_shapes", args)
        return ProxyLayer(self.connection, result["layers"][0])

    def reset_view(self) -> None:
        self.connection.request("view.reset")

    def sync(self, timeout: float = 60.0) -> None:
        """Wait until the server has applied every change sent before this call."""
        self.connection.request("sync", timeout=timeout)

    def screenshot(self, timeout: float = 60.0) -> np.ndarray:
        """The canvas as an (h, w, 4) uint8 RGBA array, losslessly encoded, rendered after
        every change made before this call."""
        frame: Frame = self.connection.request("screenshot", timeout=timeout)
        return frame.decode()

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the server's render target."""
        with self.connection.lock:
            canvas = self.connection.mirror.state["canvas"]
            return int(canvas["width"]), int(canvas["height"])

    def resize(self, width: int, height: int) -> None:
        self.connection.request("canvas.resize", {"width": int(width), "height": int(height)})

    @property
    def session(self) -> str:
        return str(self.connection.welcome.get("session", ""))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ProxyViewer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ProxyViewer {self.connection.url.split('?')[0]} session={self.session!r}>"


def connect(url: str, *, stream: str = "auto", size: tuple[int, int] | None = None,
            timeout: float = 30.0) -> ProxyViewer:
    """Connect to a napari-engine server and return a ``ProxyViewer`` for its session.

    ``url`` is what the server printed, e.g. ``ws://127.0.0.1:8765/?token=...``; add
    ``/session/NAME`` to the path to join or create a named session. ``stream`` picks
    how frames are streamed ("auto", "tiles", "video", "jpeg", "lossless" or "none" for
    screenshots only).
    """
    connection = Connection(url, stream=stream, size=size, client="napari_engine.connect")
    connection.open(timeout)
    return ProxyViewer(connection)
