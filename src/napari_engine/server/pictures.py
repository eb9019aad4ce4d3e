"""One picture of a session: the frames drawn for one canvas size and one look.

Clients with the same canvas size that share the session's look see the same picture,
so one render serves them all (two windows of one size: one draw, two encodings); a
client with another size, or a look of its own, has a picture of its own. A picture is
drawn again when the scene changed since its last frame (``Session.scene``, bumped by
anything but a look), or when its look did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from napari_engine.protocol import FrameView
from napari_engine.server.policy import FrameEncoding
from napari_engine.server.views import CanvasSize

if TYPE_CHECKING:
    from napari_engine.server.renderer import RenderedFrame

#: a picture's canvas, and the client whose own look it shows (None: the session's)
PictureKey = tuple[CanvasSize, int | None]


@dataclass
class Picture:
    """The latest frame of one picture, and what it showed."""

    key: PictureKey
    latest: RenderedFrame | None = None
    #: the session's render number of ``latest`` (renders are numbered per session)
    render_no: int = -1
    #: the scene and the look ``latest`` shows (-1: never drawn)
    scene: int = -1
    look: tuple[Any, ...] | None = None
    version: int = -1  # the state version ``latest`` shows
    view: FrameView | None = None
    #: each client's last applied command time when it was drawn (input-to-frame echo)
    input_t: dict[int, float | None] = field(default_factory=dict)
    #: whole-frame encodings of ``latest``, with their seconds
    encoded: dict[FrameEncoding, tuple[bytes, float]] = field(default_factory=dict)
    render_started: float = 0.0  # perf_counter
    last_render_time: float = 0.0  # monotonic

    @property
    def canvas(self) -> CanvasSize:
        return self.key[0]

    def shows(self, scene: int, look: tuple[Any, ...]) -> bool:
        """Its latest frame shows ``scene`` through ``look``."""
        return self.scene == scene and self.look == look
