"""The server's side of the operation registry: one handler per ``Op``.

Arguments arrive shape-checked by ``protocol.ops``; each handler maps its operation onto
napari's public API (or the session: screenshots, the render target, input events) and
turns napari's own refusals (an unknown colormap, a bad blending mode) into
``ProtocolError``s, so the session carries on. ``run`` applies one command and queues its
answer (or the error) for the client; every command of a merged run gets its own.

Adding an operation: its row in ``protocol/ops.py`` and its handler here (``@handles``);
a test checks that every ``Op`` has exactly one handler.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Points, Shapes

from napari_engine.data.loader import exact
from napari_engine.protocol import (
    OPERATIONS,
    Command,
    DataReply,
    ErrorCode,
    Hello,
    LayerKind,
    Op,
    ProtocolError,
    Reply,
    StreamMode,
)
from napari_engine.protocol.ops import MAX_VERTICES, SHAPE_TYPES
from napari_engine.protocol.overlays import model_of
from napari_engine.protocol.properties import (
    ITEM_ARRAYS,
    LAYER_PROPERTIES,
    initial_keywords,
    label_colormap_arguments,
)
from napari_engine.protocol.regions import region_shape, region_slices
from napari_engine.protocol.validate import MAX_COORDINATE
from napari_engine.server import browsing, napari_compat, saving
from napari_engine.server.budget import UNLIMITED, CommandBudget, OverBudget
from napari_engine.server.jobs import RunCommand
from napari_engine.server.reads import BackgroundReads
from napari_engine.server.session import ClientRecord, Session
from napari_engine.server.streams import Streamer
from napari_engine.server.views import CanvasSize

log = logging.getLogger(__name__)

Result = dict[str, Any] | None  # None: the answer goes some other way (a screenshot)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may act on."""

    session: Session
    client: ClientRecord
    command: Command
    streamer: Streamer
    #: where reads of layer data run (None: here, on the engine thread: a replay, a test)
    reads: BackgroundReads | None = None

    @property
    def viewer(self) -> ViewerModel:
        return self.session.viewer

    @property
    def args(self) -> dict[str, Any]:
        return self.command.args


Handler = Callable[[Context], Result]
HANDLERS: dict[Op, Handler] = {}


def handles(op: Op) -> Callable[[Handler], Handler]:
    """Register the handler of ``op`` (exactly one per operation)."""
    def register(fn: Handler) -> Handler:
        if op in HANDLERS:
            raise RuntimeError(f"two handlers for {op}")
        HANDLERS[op] = fn
        return fn
    return register


def run(job: RunCommand, session: Session, client: ClientRecord, streamer: Streamer,
        budget: CommandBudget = UNLIMITED, reads: BackgroundReads | None = None) -> None:
    """Apply one (possibly merged) command within ``budget`` and queue every answer it
    owes (a read's answer comes later, from ``reads``)."""
    cmd = job.command
    spec = OPERATIONS[cmd.op]
    try:
        session.act_as(client)  # its own canvas, look, selection and tools
        if spec.in_view and session.journal is not None:
            _journal_view(session, client)  # where it acts, for a replay
        session.moving_view = spec.moves_view
        try:
            with _all_or_nothing(session), budget.limit(f"{cmd.op} of client {client.id}"):
                result = HANDLERS[cmd.op](Context(session, client, cmd, streamer, reads))
        finally:
            session.moving_view = False
        if session.journal is not None and spec.journal:
            _journal(session, cmd)  # before any answer
        # the version is the state's when the replies leave (``Session.flush_replies``)
        replies = [Reply(i, {}, -1) for i in job.merged_ids]
        if cmd.id is not None and result is not None:
            replies.append(Reply(cmd.id, result, -1))
        client.pending_replies.extend(replies)
    except ProtocolError as exc:
        log.info("client %d: %s refused: %s", client.id, cmd.op, exc.message)
        _refuse(client, job, exc.code, exc.message)
    except OverBudget:
        _refuse(client, job, ErrorCode.FAILED,
                f"{cmd.op} ran past the server's time budget for one command "
                f"({budget.seconds:g} s, --command-budget) and was undone")
    except Exception as exc:
        log.exception("client %d: %s failed", client.id, cmd.op)
        _refuse(client, job, ErrorCode.FAILED, f"{cmd.op} failed: {exc}".splitlines()[0])
    finally:
        session.remember(client)
        client.last_applied = max(client.last_applied, cmd.id if cmd.id is not None else -1,
                                  *job.merged_ids)
        if cmd.t is not None:
            client.last_t = cmd.t
        for _ in range(job.count):
            client.sink.command_done()


@contextmanager
def _all_or_nothing(session: Session) -> Iterator[None]:
    """A command applies whole or not at all: if its handler raises, the layers it
    added are removed (napari may raise after inserting one), what it painted on labels
    layers is put back (a stroke cut off by the time budget), and the camera and dims
    are put back (a property set puts its own values back: ``_layer_set``)."""
    viewer = session.viewer
    layers = list(viewer.layers)
    camera = {name: getattr(viewer.scene.camera, name)
              for name in ("center", "zoom", "angles", "perspective")}
    dims = {name: getattr(viewer.dims, name)
            for name in ("ndisplay", "order", "current_step")}
    edits = [mark for mark in map(napari_compat.labels_edits, layers) if mark is not None]
    try:
        yield
    except BaseException:
        for layer in [x for x in viewer.layers if x not in layers]:
            _undo(functools.partial(viewer.layers.remove, layer), "an added layer")
        for mark in edits:
            _undo(functools.partial(napari_compat.put_back_labels_edits, mark),
                  f"what was painted on {mark.layer.name!r}")
        for obj, values in ((viewer.dims, dims), (viewer.scene.camera, camera)):
            for name, value in values.items():  # napari ignores a value it already has
                _undo(functools.partial(setattr, obj, name, value), name)
        raise


def _copy(value: Any) -> Any:
    """A value as it is now, not as napari may change it in place (an array)."""
    try:
        return copy.deepcopy(value)
    except Exception:  # a napari object that does not copy: kept as is
        return value


#: tries of one undo step that the command's budget interrupted (``budget``: it is
#: raised again every half second while the command that overran unwinds)
UNDO_TRIES = 3


def _undo(step: Callable[[], None], what: str) -> None:
    """One step of putting a session back; one that fails is logged, the rest go on.
    One interrupted by the command's budget is tried again (it is putting back what the
    overrun did)."""
    for _ in range(UNDO_TRIES):
        try:
            step()
            return
        except OverBudget:
            continue
        except Exception:
            log.exception("could not put back %s", what)
            return
    log.error("could not put back %s: interrupted by the command's budget", what)


def _journal_view(session: Session, client: ClientRecord) -> None:
    """Before a command that acts where its client looks (a mouse stroke), the journal
    records that client's canvas, look, selection and tools, unless they are the ones it
    recorded last: clients of other sizes, looks and brushes take turns, and a replay
    must paint where, and with what, each painted."""
    canvas, look = client.canvas, session.look_of(client)
    selected = (client.own_selection or {}).get("selected", [])
    seen = (canvas, look.key, selected, client.own_tools)
    if seen == session.journaled_view:
        return
    session.journaled_view = seen
    camera, dims = look.camera, look.dims
    commands: list[tuple[Op, dict[str, Any]]] = [
        (Op.CANVAS_RESIZE, {"width": canvas.width, "height": canvas.height,
                            "pixel_ratio": canvas.pixel_ratio}),
        (Op.DIMS_SET, {"ndisplay": dims["ndisplay"], "order": dims["order"],
                       "current_step": dims["current_step"]}),
        (Op.CAMERA_SET, dict(camera)),  # the camera section is camera.set's arguments
        (Op.LAYER_SELECT, {"layers": list(selected)}),
        *((Op.LAYER_SET, {"layer": layer, "props": dict(tools)})
          for layer, tools in client.own_tools.items() if tools)]
    for op, args in commands:
        _journal(session, Command(op=op, args=args))


def _journal(session: Session, cmd: Command) -> None:
    """Journal an applied command; a journal that cannot be written (a full disk) is
    reported once and given up, and the session goes on unjournaled."""
    if session.journal is None:
        return
    try:
        session.journal.record(cmd.op, cmd.args, cmd.payload)
    except OSError as exc:
        log.error("session %r: edits are no longer journaled: %s", session.name, exc)
        session.tell_all(ProtocolError(
            ErrorCode.FAILED, f"the server can no longer journal this session's edits "
            f"({exc.strerror or exc}): save your work").to_error())
        session.journal.close()
        session.journal = None


def replay(session: Session, streamer: Streamer) -> int:
    """Apply the session's journal (a restarted server's session, as it was): the same
    handlers, in the same order; returns how many commands were applied. A command that
    fails now (its data gone) is logged and skipped."""
    if session.journal is None:
        return 0
    client = ClientRecord.joining(0, _NoSink(), Hello(client="journal", stream=StreamMode.NONE),
                                  session.default_canvas)
    applied = 0
    for entry in session.journal.entries():
        try:
            op = Op(entry.op)
            command = Command(op=op, args=entry.args, payload=entry.payload)
            session.act_as(client)
            HANDLERS[op](Context(session, client, command, streamer))
            applied += 1
        except Exception as exc:
            log.warning("session %r: journaled %s not restored: %s", session.name, entry.op,
                        getattr(exc, "message", exc))
        finally:
            session.remember(client)
    return applied


class _NoSink:
    """Where a replay's answers go: nowhere (nobody asked)."""

    def send_control(self, message: Any) -> None:
        pass

    def send_frame(self, header: Any, payload: bytes, sent: Any = None) -> None:
        pass

    def send_data(self, reply: Any) -> None:
        pass

    def command_done(self) -> None:
        pass

    def close(self, reason: str) -> None:
        pass


def _refuse(client: ClientRecord, job: RunCommand, code: ErrorCode, message: str) -> None:
    """Answer a failed command, and every command merged into it, with the error: each
    caller may be waiting for its own answer."""
    for request_id in (*job.merged_ids, job.command.id):
        if request_id is not None:
            client.pending_replies.append(
                ProtocolError(code, message, request_id=request_id).to_error())
    if job.command.id is None and not job.merged_ids:
        client.pending_replies.append(ProtocolError(code, message).to_error())


# -- helpers ---------------------------------------------------------------------------
_NAPARI_REFUSALS = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _refusal(what: str, exc: Exception) -> ProtocolError:
    """napari's own error, shortened to one line for the client."""
    return ProtocolError(ErrorCode.INVALID, f"{what}: {exc}".splitlines()[0][:500])


def _set(obj: Any, attr: str, value: Any, what: str) -> None:
    try:
        setattr(obj, attr, value)
    except _NAPARI_REFUSALS as exc:
        raise _refusal(what, exc) from None


def _layer(ctx: Context, layer_id: int) -> Layer:
    layer = ctx.session.ids.find(ctx.viewer, layer_id)
    if layer is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no layer with id {layer_id}")
    return layer


def _add(ctx: Context, add: Callable[..., Layer | list[Layer]], data: Any,
         kwargs: dict[str, Any]) -> list[Layer]:
    """One of napari's ``viewer.add_*``; its refusals become protocol errors."""
    try:
        added = add(data, **kwargs)
    except _NAPARI_REFUSALS as exc:
        raise _refusal(add.__name__, exc) from None
    return added if isinstance(added, list) else [added]


def _added(ctx: Context, layers: list[Layer]) -> dict[str, Any]:
    return {"layers": [ctx.session.ids.id_of(layer) for layer in layers]}


def _array(args: dict[str, Any], payload: bytes | memoryview | None) -> np.ndarray:
    """The client's array from a binary payload (read-only: it views the message)."""
    size = 0 if payload is None else len(payload)
    if payload is None or size != args["nbytes"]:
        raise ProtocolError(ErrorCode.INVALID, f"array payload has {size} bytes; shape and "
                            f"dtype need {args['nbytes']}")
    return np.frombuffer(payload, dtype=args["dtype"]).reshape(args["shape"])


def _arrays(args: dict[str, Any], payload: bytes | memoryview | None) -> list[np.ndarray]:
    """The client's arrays (``arrays``: shape and dtype of each) from one payload, in
    order (read-only views of the message)."""
    size = 0 if payload is None else len(payload)
    if payload is None or size != args["nbytes"]:
        raise ProtocolError(ErrorCode.INVALID, f"array payload has {size} bytes; the "
                            f"arrays' shapes and dtypes need {args['nbytes']}")
    out, start = [], 0
    for array in args["arrays"]:
        dtype = np.dtype(array["dtype"])
        count = int(np.prod(array["shape"]))
        out.append(np.frombuffer(payload, dtype, count, start).reshape(array["shape"]))
        start += count * dtype.itemsize
    return out


def _kwargs(props: dict[str, Any], kind: LayerKind) -> dict[str, Any]:
    """A new layer's properties (by name) as napari's ``add_*`` keywords (the per-item
    ones are set once it is made: ``_add_items``)."""
    keyword = {p.name: key for key, p in initial_keywords(kind).items()}
    return {keyword[name]: _napari_value(name, value) for name, value in props.items()
            if name in keyword}


def _add_items(ctx: Context, add: Callable[..., Layer | list[Layer]], data: Any,
               count: int, kwargs: dict[str, Any], props: dict[str, Any],
               arrays: dict[str, np.ndarray] | None = None) -> Result:
    """A new points or shapes layer of ``count`` items, then each item's own values
    (napari refuses them as empty arrays at creation, and takes them as set
    afterwards). They come one per item (or one for all) in ``props``, or as ``arrays``
    (checked by the operation's validator to have one row per item), checked before the
    layer is made; a value napari refuses takes the new layer away again."""
    items: dict[str, Any] = {name: value for name, value in props.items()
                             if LAYER_PROPERTIES[name].per_item and value}
    for name, value in items.items():
        if len(value) == 1 and count > 1:
            items[name] = value * count  # one value for every item
        elif len(value) != count:
            raise ProtocolError(ErrorCode.INVALID,
                                f"'{name}' has {len(value)} values for {count} items")
    items.update(arrays or {})
    layers = _add(ctx, add, data, kwargs)
    for layer in layers:
        try:
            for name, value in items.items():
                _set(layer, name, value, name)
        except ProtocolError:
            ctx.viewer.layers.remove(layer)
            raise
    return _added(ctx, layers)


def _napari_value(prop: str, value: Any) -> Any:
    """A property's wire value as napari takes it: a colormap a client defined becomes
    napari's ``Colormap`` (by name, napari looks it up)."""
    if prop == "colormap" and isinstance(value, dict):
        from napari.utils import colormaps

        try:
            if "labels" in value:  # a labels layer's
                name, arguments = label_colormap_arguments(value)
                return getattr(colormaps, name)(**arguments)
            return colormaps.Colormap(**value)
        except (ValueError, TypeError) as exc:
            raise _refusal("colormap", exc) from None
    return value


# -- viewer ------------------------------------------------------------------------------
@handles(Op.CAMERA_SET)
def _camera_set(ctx: Context) -> Result:
    cam, args = ctx.viewer.scene.camera, ctx.args
    before = (tuple(cam.center), cam.zoom, tuple(cam.angles), cam.perspective)
    if "center" in args:
        center = args["center"]
        if ctx.viewer.dims.ndisplay == 2 and len(center) == 3:
            center = center[1:]
        _set(cam, "center", tuple(center), "camera.center")
    for key in ("zoom", "perspective"):
        if key in args:
            _set(cam, key, args[key], f"camera.{key}")
    if "angles" in args:
        _set(cam, "angles", tuple(args["angles"]), "camera.angles")
    if (tuple(cam.center), cam.zoom, tuple(cam.angles), cam.perspective) != before:
        # someone looked elsewhere: keep their view
        ctx.session.look_of(ctx.client).fitted = False
    return {}


def _full_length(values: list[int], ndim: int, key: str) -> tuple[int, ...]:
    if len(values) != ndim:
        raise ProtocolError(ErrorCode.INVALID, f"'{key}' must have {ndim} entries")
    return tuple(values)


@handles(Op.DIMS_SET)
def _dims_set(ctx: Context) -> Result:
    dims, args = ctx.viewer.dims, ctx.args
    if "ndisplay" in args:
        dims.ndisplay = args["ndisplay"]
    if "order" in args:
        dims.order = _full_length(args["order"], dims.ndim, "order")
    if "current_step" in args:
        dims.current_step = _full_length(args["current_step"], dims.ndim, "current_step")
    if "step" in args:
        axis, value = args["step"]
        if axis >= dims.ndim:
            raise ProtocolError(ErrorCode.INVALID, f"axis {axis} out of range (ndim {dims.ndim})")
        dims.set_current_step(axis, value)
    return {}


@handles(Op.VIEW_RESET)
def _view_reset(ctx: Context) -> Result:
    ctx.viewer.reset_view()
    ctx.session.look_of(ctx.client).fitted = True
    return {}


@handles(Op.VIEW_OWN)
def _view_own(ctx: Context) -> Result:
    """The client keeps a camera and dims of its own (starting where the session's
    are), or looks through the session's again."""
    session, client = ctx.session, ctx.client
    if ctx.args["own"] and client.own_look is None:
        client.own_look = session.shared.copy()
    elif not ctx.args["own"] and client.own_look is not None:
        client.own_look = None
        session.show(client.canvas, session.shared)  # what ``remember`` keeps
    session.prune()
    session.state_dirty = True
    return {"own": client.own_look is not None}


@handles(Op.CURSOR_SET)
def _cursor_set(ctx: Context) -> Result:
    """Put the cursor at a world position; reply with napari's status bar text for it
    (computed here, from the real data)."""
    viewer, position = ctx.viewer, ctx.args["position"]
    if len(position) != viewer.dims.ndim:
        raise ProtocolError(ErrorCode.INVALID, f"'position' must have {viewer.dims.ndim} entries")
    viewer.mouse_over_canvas = True
    viewer.tooltip.visible = True  # computed always: each client shows it or not
    viewer.cursor.position = tuple(position)
    viewer.update_status_from_cursor()
    return {"status": viewer.status, "tooltip": viewer.tooltip.text, "help": viewer.help}


@handles(Op.OVERLAY_SET)
def _overlay_set(ctx: Context) -> Result:
    """A canvas overlay's fields (the scale bar, the text box, ...), drawn here."""
    name = ctx.args["overlay"]
    overlay = model_of(ctx.viewer.canvas, name)
    for field, value in ctx.args["props"].items():
        _set(overlay, field, value, f"{name}.{field}")
    return {}


# -- layers ------------------------------------------------------------------------------
@handles(Op.LAYER_SET)
def _layer_set(ctx: Context) -> Result:
    """Each property in turn; if one is refused, it and those set before it are put
    back."""
    layer = _layer(ctx, ctx.args["layer"])
    done: list[tuple[str, Any]] = []
    try:
        for prop, value in ctx.args["props"].items():
            if not hasattr(layer, prop):
                raise ProtocolError(ErrorCode.INVALID,
                                    f"{type(layer).__name__} layers have no property '{prop}'")
            done.append((prop, _copy(getattr(layer, prop))))  # napari may fail half-way
            _set(layer, prop, _napari_value(prop, value), prop)
    except BaseException:
        for prop, old in reversed(done):
            _undo(functools.partial(setattr, layer, prop, old), prop)
        raise
    return {}


@handles(Op.LAYER_ADD_IMAGE)
def _add_image(ctx: Context) -> Result:
    args = ctx.args
    props = _kwargs(args.get("props", {}), LayerKind.IMAGE)
    if ctx.command.payload is not None:
        if "arrays" in args:  # a multiscale image's levels
            return _added(ctx, _add(ctx, ctx.viewer.add_image,
                                    _arrays(args, ctx.command.payload),
                                    {**props, "multiscale": True}))
        return _added(ctx, _add(ctx, ctx.viewer.add_image, _array(args, ctx.command.payload),
                                props))
    from napari_engine.data import DataError, open_data  # deferred: readers import zarr

    try:  # outside the roots is "not found" here, whether or not it exists
        specs = open_data(ctx.session.data_roots.check(args["path"]))
    except DataError as exc:
        raise ProtocolError(ErrorCode.NOT_FOUND, str(exc)) from None
    layers = []
    for spec in specs:
        # an OME-Zarr's label images come as labels layers: they take what labels take
        taken = initial_keywords(LayerKind(spec.kind))
        kwargs = {**spec.kwargs, **{k: v for k, v in props.items() if k in taken}}
        if len(specs) > 1 and "name" in props:
            kwargs["name"] = f"{props['name']} [{spec.kwargs['name']}]"
        layers += _add(ctx, getattr(ctx.viewer, f"add_{spec.kind}"), spec.data, kwargs)
    return _added(ctx, layers)


@handles(Op.LAYER_ADD_LABELS)
def _add_labels(ctx: Context) -> Result:
    kwargs = _kwargs(ctx.args.get("props", {}), LayerKind.LABELS)
    if "arrays" in ctx.args:  # a multiscale labels layer's levels (writable copies)
        levels = [level.copy() for level in _arrays(ctx.args, ctx.command.payload)]
        return _added(ctx, _add(ctx, ctx.viewer.add_labels, levels,
                                {**kwargs, "multiscale": True}))
    # a writable copy: painting changes it
    data = _array(ctx.args, ctx.command.payload).copy()
    return _added(ctx, _add(ctx, ctx.viewer.add_labels, data, kwargs))


def _coordinates(array: np.ndarray, what: str) -> np.ndarray:
    """Coordinates from a payload (vectors, tracks, a surface's vertices), as the JSON
    ones are checked: finite, within +-``MAX_COORDINATE`` (past it napari's arithmetic
    overflows and the session stops drawing)."""
    values = np.asarray(array, dtype=float)
    if not np.isfinite(values).all() or np.abs(values).max(initial=0) > MAX_COORDINATE:
        raise ProtocolError(ErrorCode.INVALID, f"{what} must be finite and within "
                            f"+-{MAX_COORDINATE:g}")
    return array


@handles(Op.LAYER_ADD_VECTORS)
def _add_vectors(ctx: Context) -> Result:
    (data,) = _arrays(ctx.args, ctx.command.payload)
    _coordinates(data, "vectors")
    return _added(ctx, _add(ctx, ctx.viewer.add_vectors, data.copy(),
                            _kwargs(ctx.args.get("props", {}), LayerKind.VECTORS)))


@handles(Op.LAYER_ADD_TRACKS)
def _add_tracks(ctx: Context) -> Result:
    (data,) = _arrays(ctx.args, ctx.command.payload)
    _coordinates(data, "tracks")
    return _added(ctx, _add(ctx, ctx.viewer.add_tracks, data.copy(),
                            _kwargs(ctx.args.get("props", {}), LayerKind.TRACKS)))


@handles(Op.LAYER_ADD_SURFACE)
def _add_surface(ctx: Context) -> Result:
    parts = tuple(part.copy() for part in _arrays(ctx.args, ctx.command.payload))
    _coordinates(parts[0], "a surface's vertices")
    return _added(ctx, _add(ctx, ctx.viewer.add_surface, parts,
                            _kwargs(ctx.args.get("props", {}), LayerKind.SURFACE)))


@handles(Op.LAYER_ADD_POINTS)
def _add_points(ctx: Context) -> Result:
    values: dict[str, np.ndarray] = {}
    if ctx.command.payload is not None:  # many points: one array, then their own values
        arrays = _arrays(ctx.args, ctx.command.payload)
        data = _points(arrays[0])
        values = _own_values(ctx.args, arrays)
    else:
        data = np.asarray(ctx.args["data"], dtype=float)
    if data.size == 0 and not (data.ndim == 2 and data.shape[1] >= 2):  # no dimensions:
        data = np.zeros((0, ctx.args.get("ndim") or ctx.viewer.dims.ndim or 2))
    props = ctx.args.get("props", {})
    return _add_items(ctx, ctx.viewer.add_points, data, len(data),
                      _kwargs(props, LayerKind.POINTS), props, values)


def _points(array: np.ndarray) -> np.ndarray:
    """Points from a payload, checked (``_coordinates``): napari's own writable copy
    (the message's array is not)."""
    return np.array(_coordinates(array, "points"), dtype=float)


def _own_values(args: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each item's own values from a payload (``items``: name -> array), checked as the
    JSON values are (a size or width from 0 to ``MAX_SIZE``, colour channels from 0 to
    1): writable copies for napari."""
    out = {}
    for name, index in args.get("items", {}).items():
        _, lo, hi = ITEM_ARRAYS[LAYER_PROPERTIES[name].wire]
        values = np.array(arrays[index], dtype=float)
        if not np.isfinite(values).all() or values.min(initial=lo) < lo or values.max(
                initial=hi) > hi:
            raise ProtocolError(ErrorCode.INVALID,
                                f"each item's {name} must be finite, from {lo:g} to {hi:g}")
        out[name] = values
    return out


@handles(Op.LAYER_ADD_SHAPES)
def _add_shapes(ctx: Context) -> Result:
    values: dict[str, np.ndarray] = {}
    if ctx.command.payload is not None:  # many: arrays (``ops._shapes_arrays``)
        arrays = _arrays(ctx.args, ctx.command.payload)
        data, kinds = _shapes(arrays)
        values = _own_values(ctx.args, arrays)
    else:
        data = [np.asarray(shape, dtype=float) for shape in ctx.args["data"]]
        kinds = ctx.args["shape_type"]
    props = ctx.args.get("props", {})
    kwargs = {"shape_type": kinds, **_kwargs(props, LayerKind.SHAPES)}
    if "ndim" in ctx.args:
        kwargs["ndim"] = ctx.args["ndim"]
    return _add_items(ctx, ctx.viewer.add_shapes, data or None, len(data), kwargs, props,
                      values)


def _shapes(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Shapes from their payload arrays (vertices one after the other, each shape's
    count of vertices and type), checked: 2 to ``MAX_VERTICES`` vertices a shape, all
    of them used, finite coordinates, known types."""
    vertices, counts, types = arrays[:3]
    if counts.size and (counts.min() < 2 or counts.max() > MAX_VERTICES):
        raise ProtocolError(ErrorCode.INVALID,
                            f"each shape has 2 to {MAX_VERTICES} vertices")
    if int(counts.sum(dtype=np.int64)) != len(vertices):
        raise ProtocolError(ErrorCode.INVALID, f"the shapes' counts of vertices add up to "
                            f"{int(counts.sum(dtype=np.int64))}, not {len(vertices)}")
    if types.size and int(types.max()) >= len(SHAPE_TYPES):
        raise ProtocolError(ErrorCode.INVALID, f"a shape's type is an index into "
                            f"{', '.join(SHAPE_TYPES)}")
    coords = np.array(_coordinates(vertices, "a shape's vertices"), dtype=float)
    return (np.split(coords, np.cumsum(counts)[:-1]) if counts.size else [],
            [SHAPE_TYPES[i] for i in types])


@handles(Op.LAYER_REMOVE)
def _layer_remove(ctx: Context) -> Result:
    ctx.viewer.layers.remove(_layer(ctx, ctx.args["layer"]))
    return {}


@handles(Op.LAYER_MOVE)
def _layer_move(ctx: Context) -> Result:
    layers = ctx.viewer.layers
    layer = _layer(ctx, ctx.args["layer"])
    index = min(ctx.args["index"], len(layers) - 1)
    src = layers.index(layer)
    if src != index:
        # LayerList.move(src, dest) inserts before dest; moving down needs dest + 1
        layers.move(src, index + 1 if index > src else index)
    return {}


@handles(Op.LAYER_SELECT)
def _layer_select(ctx: Context) -> Result:
    chosen = [_layer(ctx, layer_id) for layer_id in ctx.args["layers"]]
    selection = ctx.viewer.layers.selection
    selection.clear()
    selection.update(chosen)  # napari's: one layer chosen is the active one, several none
    return {}


@handles(Op.LAYER_HISTOGRAM)
def _layer_histogram(ctx: Context) -> Result:
    """napari's histogram of a layer (its displayed slice, or all its data sampled), by
    napari's own model, on the real data: what the contrast popup shows."""
    args = ctx.args
    layer = _layer(ctx, args["layer"])
    try:
        with exact():
            edges, counts = napari_compat.histogram(layer, args["mode"], args["bins"],
                                                    args["log_scale"])
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID, str(exc)) from None
    return {"bin_edges": edges, "counts": counts}


@handles(Op.LAYER_SAVE)
def _layer_save(ctx: Context) -> Result:
    """Layers written with napari's writers (``napari.save_layers``) under the server's
    save directory, atomically: into a scratch folder there, then renamed into place."""
    root = ctx.session.save_dir
    if root is None:
        raise ProtocolError(ErrorCode.INVALID, "this server does not save (--read-only)")
    layers = [_layer(ctx, layer_id) for layer_id in ctx.args["layers"]]
    target = (root / ctx.args["path"]).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ProtocolError(ErrorCode.INVALID, f"{ctx.args['path']!r} is outside the save "
                            "directory")
    try:
        with exact():
            written = saving.save_atomically(layers, target)
    except (OSError, ValueError) as exc:
        raise ProtocolError(ErrorCode.FAILED, f"could not save to {target}: {exc}") from None
    return {"paths": [str(p) for p in written]}


@handles(Op.LAYER_NEW_LABELS)
def _new_labels(ctx: Context) -> Result:
    """napari's new labels layer (File > New Layer > Labels), sized to the active layer's
    data and lazy: memory only where it is painted."""
    try:
        layer = napari_compat.new_labels(ctx.viewer)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID, str(exc)) from None
    return _added(ctx, [layer])


@handles(Op.LAYER_DATA_RANGE)
def _layer_data_range(ctx: Context) -> Result:
    """napari's data range of a layer (its current slice, or all its data), from the
    real data: what auto-contrast, reset and the contrast range use."""
    layer = _layer(ctx, ctx.args["layer"])
    with exact():
        lo, hi = napari_compat.data_range(layer, ctx.args["mode"])
    return {"range": [lo, hi]}


def _voxels(layer: Layer, level: int) -> Any:
    """One level of an image or labels layer's data (napari's own array)."""
    if not isinstance(layer, Image | Labels):
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r} is a {type(layer).__name__} "
                            "layer: only image and labels layers have voxels to read")
    levels = layer.data if layer.multiscale else [layer.data]
    if level >= len(levels):
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r} has {len(levels)} level(s); "
                            f"there is no level {level}")
    return levels[level]


def _region(array: Any, region: list[tuple[int, int, int]]) -> tuple[slice, ...]:
    try:
        return region_slices(region, array.shape, np.dtype(array.dtype).itemsize)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID, str(exc)) from None


@handles(Op.LAYER_READ)
def _layer_read(ctx: Context) -> Result:
    """A region of a layer's real data, answered as voxels (a binary ``data`` reply):
    what a script's ``layer.data[...]`` reads. Checked here; read on a thread of
    ``ctx.reads`` (it waits for every chunk, as long as the store takes)."""
    array = _voxels(_layer(ctx, ctx.args["layer"]), ctx.args["level"])
    box = _region(array, ctx.args["region"])
    request_id = ctx.command.id
    assert request_id is not None  # the registry makes it carry one

    def read() -> DataReply:
        with exact():
            values = np.asarray(array[box])
        if values.dtype.kind not in "biuf":
            raise ProtocolError(ErrorCode.INVALID,
                                f"data of dtype {values.dtype} cannot travel")
        values = np.ascontiguousarray(values.astype(values.dtype.newbyteorder("="),
                                                    copy=False))
        return DataReply(request_id, values.shape, values.dtype.name, -1, values.tobytes())

    if ctx.reads is None:
        ctx.client.pending_replies.append(read())
    else:
        ctx.reads.start(ctx.session.name, ctx.client.id, request_id, read)
    return None


@handles(Op.LAYER_SET_DATA)
def _layer_set_data(ctx: Context) -> Result:
    """An image or labels layer's data replaced whole (a script's ``layer.data = a``)."""
    args, payload = ctx.args, ctx.command.payload
    layer = _layer(ctx, args["layer"])
    if not isinstance(layer, Image | Labels):
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r}: only an image's or a "
                            "labels layer's data is replaced this way")
    levels = ([level.copy() for level in _arrays(args, payload)] if "arrays" in args
              else [_array(args, payload).copy()])
    if len(levels) > 1 and not layer.multiscale:
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r} is not multiscale")
    if isinstance(layer, Labels) and levels[0].dtype.kind not in "iu":
        raise ProtocolError(ErrorCode.INVALID, "labels are integers")
    _set(layer, "data", levels if layer.multiscale else levels[0], "data")
    return {}


@handles(Op.LAYER_SET_COORDINATES)
def _layer_set_coordinates(ctx: Context) -> Result:
    """A points or shapes layer's coordinates replaced whole."""
    layer = _layer(ctx, ctx.args["layer"])
    args = ctx.args
    data: Any
    if "count" in args:  # many shapes: their arrays
        data, kinds = _shapes(_arrays(args, ctx.command.payload))
        args = {**args, "shape_type": kinds}
    elif "arrays" in args:  # many points: one array
        data = _points(_arrays(args, ctx.command.payload)[0])
    else:
        data = args["data"]
    if isinstance(layer, Points) and "shape_type" not in args:
        coords = np.asarray(data, float) if len(data) else np.zeros((0, layer.ndim))
        if coords.shape[1:] != (layer.ndim,):
            raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r} has {layer.ndim} "
                                "dimensions")
        _set(layer, "data", coords, "data")
    elif isinstance(layer, Shapes) and "shape_type" in args:
        kinds = args["shape_type"]
        try:
            layer.data = []
            if data:
                layer.add([np.asarray(shape, float) for shape in data], shape_type=kinds)
        except _NAPARI_REFUSALS as exc:
            raise _refusal("data", exc) from None
    else:
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r}: coordinates are set on "
                            "points (data) and shapes (data and shape_type) layers")
    return {}


@handles(Op.LAYER_WRITE)
def _layer_write(ctx: Context) -> Result:
    """A box of a labels layer's data replaced (a script's ``labels.data[...] = v``), and
    the layer redrawn."""
    args, payload = ctx.args, ctx.command.payload
    layer = _layer(ctx, args["layer"])
    if not isinstance(layer, Labels) or layer.multiscale:
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r}: only a (single-scale) "
                            "labels layer's data is written")
    data = layer.data
    if np.dtype(data.dtype) != np.dtype(args["dtype"]):
        raise ProtocolError(ErrorCode.INVALID, f"{layer.name!r} holds {data.dtype} labels, "
                            f"not {args['dtype']}")
    if payload is None or len(payload) != args["nbytes"]:
        raise ProtocolError(ErrorCode.INVALID, f"the values are {len(payload or b'')} "
                            f"bytes; the region needs {args['nbytes']}")
    box = _region(data, args["region"])
    values = np.frombuffer(payload, args["dtype"]).reshape(region_shape(args["region"]))
    try:
        data[box] = values
    except (ValueError, TypeError) as exc:
        raise _refusal(f"{layer.name!r} cannot be written", exc) from None
    layer.refresh()
    return {}


@handles(Op.FILES_LIST)
def _files_list(ctx: Context) -> Result:
    """A folder the server offers to browse, listed (File > Open in a window)."""
    roots, root = list(ctx.session.browse_roots), ctx.args["root"]
    if root == "save":  # where ``layer.save`` writes (File > Save's dialog)
        if ctx.session.save_dir is None:
            raise ProtocolError(ErrorCode.INVALID, "this server does not save (--read-only)")
        roots, root = [ctx.session.save_dir], 0
    if not roots:
        raise ProtocolError(ErrorCode.INVALID, "this server offers no folders to browse "
                            "(start it with --browse DIR)")
    if root >= len(roots):
        raise ProtocolError(ErrorCode.INVALID, f"there are {len(roots)} browsed folders")
    try:
        listed = browsing.listing(roots[root], ctx.args["path"])
    except (ValueError, OSError) as exc:
        raise ProtocolError(ErrorCode.NOT_FOUND, str(exc)) from None
    return {"roots": [str(r) for r in roots], "root": ctx.args["root"], **listed}


# -- the session: its render target, input, answers ---------------------------------------
@handles(Op.CANVAS_RESIZE)
def _canvas_resize(ctx: Context) -> Result:
    session, client = ctx.session, ctx.client
    canvas = CanvasSize(ctx.args["width"], ctx.args["height"], ctx.args.get("pixel_ratio", 1.0))
    if canvas == client.canvas:
        return {}
    resized = (canvas.width, canvas.height) != (client.canvas.width, client.canvas.height)
    client.canvas = canvas  # its own: other clients keep theirs
    session.prune()  # the picture of its old size, unless another client has that size
    look = session.look_of(client)
    session.show(canvas, look)
    if look.fitted and resized:
        # the view nobody has moved yet is fitted to the canvas it is shown on, as
        # napari fits its first view to its window
        session.viewer.reset_view()
    return {}


@handles(Op.INPUT_MOUSE)
def _input_mouse(ctx: Context) -> Result:
    """A client's mouse event goes to napari's bindings on the server's canvas."""
    args, client = ctx.args, ctx.client
    kind = args["event"]
    if kind == "release" and client.press_event is None:
        return {}  # a release without its press (e.g. pressed before joining)
    event = napari_compat.dispatch_mouse(
        ctx.session.canvas, kind, (args["pos"][0], args["pos"][1]), args["button"],
        args["modifiers"], press_event=client.press_event)
    if kind == "press":
        client.press_event = event
    elif kind == "release":
        client.press_event = None
    return {}


@handles(Op.INPUT_KEY)
def _input_key(ctx: Context) -> Result:
    args = ctx.args
    handled = napari_compat.dispatch_key(ctx.session.canvas, args["event"], args["key"],
                                         args["modifiers"], args["text"])
    return {"handled": handled}


@handles(Op.SCREENSHOT)
def _screenshot(ctx: Context) -> Result:
    """Answered once the view's data has loaded (``Session.waits``): a screenshot
    shows the data, as napari's does, not what stands in for it while it loads."""
    session, client, command, streamer = ctx.session, ctx.client, ctx.command, ctx.streamer
    assert command.id is not None  # the registry makes it carry one
    session.waits.append(
        (client, command.id, lambda: streamer.screenshot(session, client, command)))
    return None


@handles(Op.SYNC)
def _sync(ctx: Context) -> Result:
    """Answered at once; with ``loaded``, once the view's data has loaded too."""
    if not ctx.args.get("loaded"):
        return {}
    client, request_id = ctx.client, ctx.command.id
    assert request_id is not None  # the registry makes it carry one
    ctx.session.waits.append(
        (client, request_id, lambda: client.pending_replies.append(Reply(request_id, {}, -1))))
    return None
