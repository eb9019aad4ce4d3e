"""The client's copy of the server's viewer state, merged without ping-pong.

The server's napari ViewerModel is the one source of truth. It sends ``state`` messages:
``{"version": V, "applied": A, "patch": {section: value, ...}}`` where ``applied`` is the
id of the last command *from this client* the server had applied when it took the
snapshot. A client that changes something locally (optimistically, so reads and widgets
do not jump back) records the command id under the field it touched (a flat field, a
layer's property, or the layer list's order and membership). Until a patch with
``applied`` at or past that id arrives, the local value wins: the patch predates the
client's own change and would undo it for a moment (the classic echo fight). The answer
to a command (``confirm``) drops the local values up to it: the server's state already
shows the outcome, whether it applied the command or refused it.

Sections: ``camera``, ``dims``, ``canvas``, ``selection`` and ``overlays`` are flat dicts
(``overlays``: each canvas overlay's fields under its name); ``layers`` is a list of
layer dicts, each with a stable integer ``id``.
"""

from __future__ import annotations

import copy
from typing import Any

FLAT_SECTIONS = ("camera", "dims", "canvas", "selection", "overlays")


def empty_state() -> dict[str, Any]:
    """Every section, empty (before the first state)."""
    return {**{section: {} for section in FLAT_SECTIONS}, "layers": []}
Key = tuple[Any, ...]


class StateMirror:
    """Holds the latest server state plus this client's not-yet-confirmed changes."""

    def __init__(self) -> None:
        self.version = -1
        self._server: dict[str, Any] = empty_state()
        # ("camera", "zoom") or ("layer", layer_id, prop) -> (command id, value)
        self._local: dict[Key, tuple[int, Any]] = {}
        self.state: dict[str, Any] = copy.deepcopy(self._server)
        #: how many optimistic changes were ever recorded (a reader that saw N and now
        #: sees more knows a change arrived since)
        self.local_edits = 0

    # -- server side -----------------------------------------------------------------
    def apply_server(self, patch: dict[str, Any], version: int, applied: int = -1) -> set[str]:
        """Merge a server patch; returns the sections that changed. Stale versions are
        ignored (a reply can carry an older version than a patch already seen)."""
        if version < self.version:
            return set()
        self.version = version
        self._local = {k: v for k, v in self._local.items() if v[0] > applied}
        for section, value in patch.items():
            self._server[section] = copy.deepcopy(value)
        self._rebuild()
        return set(patch)

    def reset(self, state: dict[str, Any], version: int) -> None:
        """Start over from a full state (a new connection: the server may have restarted,
        and changes sent before the connection dropped may never have arrived)."""
        self.version = version
        self._local.clear()
        self._server = {**empty_state(), **copy.deepcopy(state)}
        self._rebuild()

    def confirm(self, command_id: int) -> bool:
        """The server answered command ``command_id``: it applied (or refused) every
        command of ours up to it, and its state already shows the outcome. Returns
        whether the state changed (a refused or clamped value gave way to the server's)."""
        before = self.state
        self._local = {k: v for k, v in self._local.items() if v[0] > command_id}
        self._rebuild()
        return self.state != before

    def _rebuild(self) -> None:
        self.state = copy.deepcopy(self._server)
        order = self._local.get(("layers",))
        if order is not None:  # the client's own layer list: removals and moves
            by_id = {layer["id"]: layer for layer in self.state["layers"]}
            self.state["layers"] = [by_id[i] for i in order[1] if i in by_id]
        for key, (_cid, value) in self._local.items():
            if key == ("layers",):
                continue
            if key[0] == "layer":
                layer = self.layer(key[1])
                if layer is not None:
                    layer[key[2]] = value
            else:
                self.state.setdefault(key[0], {})[key[1]] = value

    # -- client side -----------------------------------------------------------------
    def set_local(self, section: str, key: str, value: Any, command_id: int) -> None:
        """Record an optimistic local change made by command ``command_id``."""
        if section not in FLAT_SECTIONS:
            raise ValueError(f"unknown section {section!r}")
        self._local[(section, key)] = (command_id, value)
        self.state.setdefault(section, {})[key] = value
        self.local_edits += 1

    def set_local_layer(self, layer_id: int, prop: str, value: Any, command_id: int) -> None:
        """Record an optimistic change of one layer property."""
        self._local[("layer", layer_id, prop)] = (command_id, value)
        layer = self.layer(layer_id)
        if layer is not None:
            layer[prop] = value
        self.local_edits += 1

    def set_local_order(self, layer_ids: list[int], command_id: int) -> None:
        """Record an optimistic change of the layer list itself: these layers, in this
        order (a layer removed or moved by this client)."""
        self._local[("layers",)] = (command_id, list(layer_ids))
        self._rebuild()
        self.local_edits += 1

    def pending(self) -> int:
        return len(self._local)

    # -- reading ---------------------------------------------------------------------
    def layer(self, layer_id: int) -> dict[str, Any] | None:
        return self._find_layer("id", layer_id)

    def layer_by_name(self, name: str) -> dict[str, Any] | None:
        return self._find_layer("name", name)

    def _find_layer(self, field: str, value: Any) -> dict[str, Any] | None:
        layer: dict[str, Any]
        for layer in self.state["layers"]:
            if layer.get(field) == value:
                return layer
        return None
