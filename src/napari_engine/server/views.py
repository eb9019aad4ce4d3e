"""What each client of a shared session looks through.

A session has one napari viewer, but its clients are several windows and scripts. Each
has its own canvas (a window's size and display; a script's ``size``), and looks through
a *look*: a camera and the dims' slice. By default the look is the session's, shared by
every client that has not chosen otherwise (``ViewMode.SHARED``: a colleague's z-scroll
moves your slider too); a client may keep a look of its own (``ViewMode.OWN``).

The viewer holds one canvas size and one look at a time: the session puts a client's
into it before that client's command acts or its picture is drawn (``put``), and takes
the look back out after the command (``capture``). Only public napari API.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from napari.components import ViewerModel

from napari_engine.server.state import camera_state, dims_state

#: the dims fields a look holds (the rest, such as ranges and labels, is the data's)
LOOK_DIMS = ("ndisplay", "order", "current_step", "point")


@dataclass(frozen=True, slots=True)
class CanvasSize:
    """A client's canvas: logical pixels, drawn at ``pixel_ratio`` physical pixels each."""

    width: int
    height: int
    pixel_ratio: float = 1.0

    @property
    def physical_pixels(self) -> int:
        return round(self.width * self.height * self.pixel_ratio ** 2)

    def section(self) -> dict[str, Any]:
        """The ``canvas`` state section a client is sent."""
        return {"width": self.width, "height": self.height,
                "pixel_ratio": float(self.pixel_ratio)}


@dataclass
class Look:
    """A camera and a slice (the ``camera`` section and the ``LOOK_DIMS`` of ``dims``)."""

    camera: dict[str, Any]
    dims: dict[str, Any]
    #: napari's fit of the layers that nobody has moved since: a new canvas size fits it
    #: again, as napari fits its first view to its window
    fitted: bool = True

    @property
    def key(self) -> tuple[Any, ...]:
        """What a picture drawn through this look depends on (compared by value)."""
        return (self.camera, self.dims)

    def copy(self) -> Look:
        return dataclasses.replace(self, camera=dict(self.camera), dims=dict(self.dims))

    def dims_section(self, shared: dict[str, Any]) -> dict[str, Any]:
        """The ``dims`` section through this look: the data's dims, this slice."""
        return {**shared, **self.dims}


def capture(viewer: ViewerModel, fitted: bool = True) -> Look:
    """The look the viewer shows now."""
    dims = dims_state(viewer)
    return Look(camera_state(viewer), {k: dims[k] for k in LOOK_DIMS}, fitted)


def matches(look: Look, viewer: ViewerModel) -> bool:
    """``look`` was taken of data with the viewer's dimensions (adding a layer of more
    dimensions makes every other look stale)."""
    return len(look.dims["current_step"]) == viewer.dims.ndim


def put(viewer: ViewerModel, look: Look) -> None:
    """Show ``look`` in the viewer; only what differs is set (each change of the slice
    makes napari slice every layer again)."""
    dims, wanted = viewer.dims, look.dims
    if matches(look, viewer):
        if dims.ndisplay != wanted["ndisplay"]:
            dims.ndisplay = wanted["ndisplay"]
        if list(dims.order) != list(wanted["order"]):
            dims.order = tuple(wanted["order"])
        if list(dims.point) != list(wanted["point"]):
            dims.point = tuple(wanted["point"])
    camera, now = viewer.scene.camera, camera_state(viewer)
    for name in ("angles", "perspective", "zoom", "center"):
        if now[name] != look.camera[name]:
            value = look.camera[name]
            setattr(camera, name, tuple(value) if isinstance(value, list) else value)
