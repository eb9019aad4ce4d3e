"""The client in memory, as h11's ``ConnectionPair`` does it: a ``ClientCore`` joined to a
small server that speaks the real protocol (typed messages, state patches, replies,
errors) over a dict of state instead of napari. No sockets, threads or GL: the client
core, the mirror and the bridge get unit tests that run in milliseconds, and a test
decides exactly when each message is delivered.
"""

from __future__ import annotations

import copy
import queue
from collections.abc import Callable
from typing import Any

from napari.utils.colormaps import AVAILABLE_COLORMAPS

from napari_engine.client.core import (
    Answered,
    ClientCore,
    Event,
    Local,
    Refused,
    RemoteError,
    StateChanged,
)
from napari_engine.protocol import (
    OPERATIONS,
    Command,
    ErrorCode,
    Hello,
    ProtocolError,
    Reply,
    ServerMessage,
    StatePatch,
    Welcome,
    decode_text,
    encode_text,
    parse_client_message,
)

#: the colormaps napari knows by name (the server's ``napari_compat.builtin_colormap``)
BUILTIN_COLORMAPS = frozenset(AVAILABLE_COLORMAPS)


def image_layer(layer_id: int, name: str, shape: tuple[int, ...] = (8, 64, 64)) -> dict[str, Any]:
    """A layer's state as the server sends it (an image of ``shape``)."""
    return {"id": layer_id, "type": "image", "ndim": len(shape), "name": name,
            "visible": True, "opacity": 1.0, "blending": "translucent",
            "scale": [1.0] * len(shape), "translate": [0.0] * len(shape), "mode": "pan_zoom",
            "axis_labels": [str(i - len(shape)) for i in range(len(shape))],
            "units": ["pixel"] * len(shape), "shape": list(shape), "dtype": "uint16",
            "multiscale": False, "levels": 1, "level_shapes": [list(shape)], "rgb": False,
            "contrast_limits_range": [0.0, 1000.0], "contrast_limits": [0.0, 1000.0],
            "colormap": "gray", "gamma": 1.0, "interpolation2d": "nearest",
            "interpolation3d": "linear", "rendering": "mip", "depiction": "volume",
            "iso_threshold": 0.5, "attenuation": 0.05}


def session_state() -> dict[str, Any]:
    """A small session: two image layers of 8 planes."""
    return {"camera": {"center": [0.0, 32.0, 32.0], "zoom": 1.0, "angles": [0.0, 0.0, 90.0],
                       "perspective": 0.0},
            "dims": {"ndim": 3, "ndisplay": 2, "order": [0, 1, 2], "current_step": [4, 32, 32],
                     "nsteps": [8, 64, 64], "range": [[0, 7, 1], [0, 63, 1], [0, 63, 1]],
                     "point": [4.0, 32.0, 32.0], "axis_labels": ["0", "1", "2"]},
            "canvas": {"width": 400, "height": 300},
            "layers": [image_layer(1, "nuclei"), image_layer(2, "membrane")],
            "selection": {"selected": [2], "active": 2}}


class QueuePoster:
    """The model's thread, as a test runs it: work waits in a queue until the test
    (the 'GUI thread') runs it."""

    def __init__(self) -> None:
        self.work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def __call__(self, fn: Callable[[], None]) -> None:
        self.work.put(fn)

    def on_own_thread(self) -> bool:
        return True  # the test's thread runs the queue: it is the model's thread

    def drain(self) -> None:
        while not self.work.empty():
            self.work.get()()

    run = drain


class MemoryServer:
    """A session's state and the protocol's answers; ``refuse`` holds (property, value)
    pairs it refuses, as napari on a server would refuse a value."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state or session_state()
        self.version = 1
        self.refuse: set[tuple[str, Any]] = set()
        self.outboxes: list[list[str]] = []
        self.applied: list[int] = []
        self.commands: list[Command] = []

    def join(self) -> int:
        self.outboxes.append([])
        self.applied.append(-1)
        return len(self.outboxes) - 1

    def send(self, client: int, message: ServerMessage) -> None:
        self.outboxes[client].append(encode_text(message.to_message()))

    def receive(self, client: int, data: str | bytes) -> None:
        assert isinstance(data, str), "the memory server takes no binary messages"
        message = parse_client_message(decode_text(data))
        if isinstance(message, Hello):
            self.send(client, Welcome(1, "memory", "s", client, self.version,
                                      copy.deepcopy(self.state), tuple(map(str, OPERATIONS))))
        elif isinstance(message, Command):
            self.commands.append(message)
            self._command(client, message)

    def _command(self, client: int, command: Command) -> None:
        before = copy.deepcopy(self.state)
        try:
            self._apply(command)
            answer: ServerMessage = Reply(command.id or 0, {}, self.version)
        except ProtocolError as exc:
            exc.request_id = command.id
            answer = exc.to_error()
        if command.id is not None:
            self.applied[client] = command.id
        patch = {k: v for k, v in self.state.items() if before.get(k) != v}
        if patch:
            self.version += 1
            for other in range(len(self.outboxes)):
                self.send(other, StatePatch(self.version, self.applied[other],
                                            copy.deepcopy(patch)))
        if command.id is not None:
            self.send(client, answer)

    def _apply(self, command: Command) -> None:
        args, state = command.args, self.state
        if command.op == "camera.set":
            state["camera"].update(args)
        elif command.op == "dims.set":
            dims = state["dims"]
            if "current_step" in args:  # napari clamps each axis to its range
                dims["current_step"] = [min(v, n - 1) for v, n in
                                        zip(args["current_step"], dims["nsteps"], strict=True)]
            if "ndisplay" in args:
                dims["ndisplay"] = args["ndisplay"]
        elif command.op == "layer.set":
            layer = next((x for x in state["layers"] if x["id"] == args["layer"]), None)
            if layer is None:
                raise ProtocolError(ErrorCode.NOT_FOUND, f"no layer with id {args['layer']}")
            for prop, value in args["props"].items():
                if any(prop == p and value == v for p, v in self.refuse):
                    raise ProtocolError(ErrorCode.INVALID, f"{prop}: refused")
                # a colormap sent defined is reported by name when napari knows it by
                # name, else defined, as the server does
                layer[prop] = (value["name"] if isinstance(value, dict) and prop == "colormap"
                               and value["name"] in BUILTIN_COLORMAPS else value)
        elif command.op == "layer.remove":
            state["layers"] = [x for x in state["layers"] if x["id"] != args["layer"]]
        elif command.op == "canvas.resize":
            state["canvas"] = {"width": args["width"], "height": args["height"]}


class MemoryConnection:
    """A client connection to a ``MemoryServer`` (the bridge's ``SessionLink``); messages
    move only when the test calls ``deliver``."""

    url = "memory://session"

    def __init__(self, server: MemoryServer) -> None:
        self.server = server
        self.core = ClientCore(Hello(stream="none"))
        self.index = server.join()
        self._state_listeners: list[Callable[[set[str]], None]] = []
        self._waiters: dict[int, Callable[[Any], None]] = {}
        self.events: list[Event] = []
        self.errors: list[RemoteError] = []
        self.core.connect()
        self.deliver()

    def deliver(self) -> None:
        """Move every queued message both ways until both sides are quiet."""
        while True:
            outgoing = self.core.data_to_send()
            for data in outgoing:
                self.server.receive(self.index, data)
            incoming, self.server.outboxes[self.index] = self.server.outboxes[self.index], []
            for data in incoming:
                for event in self.core.receive(data, now=0.0):
                    self._dispatch(event)
            if not outgoing and not incoming:
                return

    def receive(self) -> None:
        """Take what the server sent this client, without sending anything yet."""
        incoming, self.server.outboxes[self.index] = self.server.outboxes[self.index], []
        for data in incoming:
            for event in self.core.receive(data, now=0.0):
                self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, StateChanged):
            for listener in self._state_listeners:
                listener(set(event.sections))
        elif isinstance(event, Answered):
            callback = self._waiters.pop(event.id, None)
            if callback is not None:
                callback(event.result)
            elif isinstance(event.result, RemoteError):
                self.errors.append(event.result)
        elif isinstance(event, Refused):
            self.errors.append(event.error)

    # -- SessionLink -------------------------------------------------------------------
    def read(self, fn: Callable[[dict[str, Any]], Any]) -> Any:
        return fn(self.core.mirror.state)

    def layer(self, layer_id: int) -> dict[str, Any] | None:
        return copy.deepcopy(self.core.mirror.layer(layer_id))

    def local_edits(self) -> int:
        return self.core.mirror.local_edits

    def send_command(self, op: str, args: dict[str, Any] | None = None, *,
                     on_reply: Callable[[Any], None] | None = None,
                     local: Local | None = None, **_unused: Any) -> int:
        cid = self.core.command(op, args, local=local)
        if on_reply is not None:
            self._waiters[cid] = on_reply
        return cid

    def request(self, op: str, args: dict[str, Any] | None = None, *,
                timeout: float = 60.0) -> Any:
        answers: list[Any] = []
        self.send_command(op, args, on_reply=answers.append)
        self.deliver()
        if not answers:
            raise TimeoutError(f"no reply to {op}")
        if isinstance(answers[0], BaseException):
            raise answers[0]
        return answers[0]

    def on_state(self, listener: Callable[[set[str]], None]) -> None:
        self._state_listeners.append(listener)

    def on_connection(self, listener: Callable[[str], None]) -> None:
        pass  # a memory connection never drops
