"""Frames as a client receives them, and their assembly into pictures. No I/O.

A whole frame (``jpeg``, ``zstd``, ``png``) decodes on its own. A ``tiles`` frame paints
its tiles into the picture the client already shows (after moving it by ``shift``), and
an ``h264`` frame decodes on top of the frames before it: so one ``FrameAssembler`` per
connection takes every streamed frame, in order. It is slow work (decoding), so the
connection runs it on a worker thread, never on the network loop or the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from napari_engine.encode import Encoding, decode_frame
from napari_engine.encode.tiles import apply_update
from napari_engine.encode.video import VideoDecoder
from napari_engine.protocol import FrameHeader


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as received: the header and the still-encoded payload."""

    header: FrameHeader
    payload: bytes
    received: float  # time.perf_counter() on arrival
    image: np.ndarray | None = None  # the assembled picture, once assembled
    #: how long this connection waited for the frame after handling the message before
    #: (0: it was already there, so ``received`` says when the client got to it, not
    #: when the network delivered it)
    waited: float = 0.0

    def decode(self) -> np.ndarray:
        """The picture: assembled, or decoded now (a whole frame, e.g. a screenshot)."""
        if self.image is not None:
            return self.image
        h = self.header
        return decode_frame(self.payload, Encoding(h.encoding), h.width, h.height)


class FrameAssembler:
    """Turns one connection's streamed frames, in order, into pictures."""

    def __init__(self) -> None:
        self._picture: np.ndarray | None = None
        self._video: VideoDecoder | None = None

    def reset(self) -> None:
        """A new connection: the next tiles start from nothing, video from a keyframe."""
        self._picture = None
        self._video = None

    def assemble(self, frame: Frame) -> Frame:
        """The frame with its picture (a copy the caller may keep) where the picture
        depends on earlier frames; a whole frame is left to decode when someone looks
        (``Frame.decode``), so a client that only counts frames never decodes them."""
        h = frame.header
        if h.encoding == "tiles":
            return replace(frame, image=self._paint(frame))
        if h.encoding == "h264":
            if self._video is None:
                self._video = VideoDecoder()
            return replace(frame, image=self._video.decode(frame.payload, h.width, h.height))
        return frame

    def _paint(self, frame: Frame) -> np.ndarray:
        h = frame.header
        shape = (h.height, h.width, 4)
        if self._picture is None or self._picture.shape != shape:
            self._picture = np.zeros(shape, np.uint8)
        index = [list(tile) for tile in h.tiles or ()]
        self._picture = apply_update(self._picture, index, frame.payload, h.shift)
        return self._picture.copy()
