"""Frames as a client receives them, and their assembly into pictures. No I/O.

A whole frame (``jpeg``, ``zstd``, ``png``) decodes on its own. A ``tiles`` frame paints
its tiles into the picture the client already shows (after moving it by ``shift``), and
an ``h264`` frame decodes on top of the frames before it: so one ``FrameAssembler`` per
connection takes every streamed frame, in order. It is slow work (decoding), so the
connection runs it on a worker thread, never on the network loop or the GUI thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from napari_engine.encode import Encoding, decode_frame
from napari_engine.encode.motion import Recycler
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


Box = tuple[int, int, int, int]  # x, y, width, height
#: past this many changed boxes since the last take, the window repaints the whole picture
MAX_BOXES = 256


@dataclass(frozen=True, slots=True)
class PictureChange:
    """What changed in a connection's picture since a window last looked: the newest
    header, and where the picture changed (``boxes`` in picture pixels; ``whole`` when it
    changed everywhere, or was replaced). ``shift`` is how far the picture's content moved
    in between (a pan), when only that and ``boxes`` changed."""

    header: FrameHeader
    whole: bool
    shift: tuple[int, int] = (0, 0)
    boxes: tuple[Box, ...] = ()


class Picture:
    """A connection's latest picture, and what changed in it since a window last looked.

    The frame worker records each frame; the window paints straight from ``current()``
    (under ``lock``, so the worker never changes the pixels mid-paint), and
    ``take_current()`` tells it which part of the screen to repaint, however many frames
    came in between (moves add up, boxes merge): it never falls behind by more than one
    picture, and copies nothing.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while the picture changes and while it is read
        self._image: np.ndarray | None = None
        self._header: FrameHeader | None = None
        self._from_tiles = False
        self._whole = False
        self._shift = (0, 0)
        self._boxes: list[Box] = []
        self._changed = False

    def _carry(self, header: FrameHeader) -> FrameHeader:
        """``header``, saying which input the picture reflects: the server names each
        input once, on the first frame that shows it, and the picture shows it on."""
        if header.input_t is None and self._header is not None:
            return replace(header, input_t=self._header.input_t)
        return header

    def record_whole(self, image: np.ndarray, header: FrameHeader) -> None:
        """A whole new picture (the caller does not change ``image`` afterwards)."""
        with self.lock:
            header = self._carry(header)
            self._image, self._header, self._from_tiles = image, header, False
            self._whole, self._shift, self._boxes, self._changed = True, (0, 0), [], True

    def record_tiles(self, image: np.ndarray, header: FrameHeader) -> None:
        """The tiles picture after ``header``'s shift and tiles (the caller holds
        ``lock`` while it paints ``image``, and may change it in place later)."""
        boxes = [(t.x, t.y, t.w, t.h) for t in header.tiles or ()]
        header = self._carry(header)
        if not self._from_tiles or self._image is None or self._image.shape != image.shape:
            self._whole = True  # the window shows another picture (video, a whole frame)
        elif header.shift is not None:
            dx, dy = header.shift
            self._shift = (self._shift[0] + dx, self._shift[1] + dy)
            self._boxes = [moved for box in self._boxes
                           if (moved := _clip((box[0] + dx, box[1] + dy, box[2], box[3]),
                                              image.shape)) is not None]
        self._image, self._header, self._from_tiles = image, header, True
        self._boxes += boxes
        if len(self._boxes) > MAX_BOXES:
            self._whole = True
        self._changed = True

    def current(self) -> tuple[np.ndarray, FrameHeader] | None:
        """The picture now and the header it answers (the caller holds ``lock`` for as
        long as it reads the pixels)."""
        if self._image is None or self._header is None:
            return None
        return self._image, self._header

    @property
    def pending(self) -> bool:
        """Whether it changed since the last take."""
        return self._changed

    def take_current(self) -> tuple[PictureChange | None, FrameHeader | None]:
        """What changed since the last take, and the header the picture answers now (one
        look: no frame can come in between)."""
        with self.lock:
            return self._take(), self._header

    def _take(self) -> PictureChange | None:
        if not self._changed or self._header is None:
            return None
        if self._whole:
            change = PictureChange(self._header, True)
        else:
            change = PictureChange(self._header, False, self._shift, tuple(self._boxes))
        self._whole, self._shift, self._boxes, self._changed = False, (0, 0), [], False
        return change


def _clip(box: Box, shape: tuple[int, ...]) -> Box | None:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(shape[1], x + w), min(shape[0], y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


class FrameAssembler:
    """Turns one connection's streamed frames, in order, into pictures: each frame's own
    for whoever keeps frames (``keep``), and the shared ``picture`` a window watches
    (``show``)."""

    def __init__(self) -> None:
        self._tiles: np.ndarray | None = None
        #: ``_tiles`` was handed out with a frame: the next update must not paint into it
        self._tiles_given = False
        self._recycler = Recycler()  # pictures a shift may paint into again
        self._video: VideoDecoder | None = None
        self.picture = Picture()

    def reset(self) -> None:
        """A new connection: the next tiles start from nothing, video from a keyframe."""
        self._tiles = None
        self._video = None

    def assemble(self, frame: Frame, *, keep: bool = True, show: bool = False) -> Frame:
        """The frame, with its picture where the picture depends on earlier frames (when
        ``keep``: never written again, copy on write); a whole frame is decoded only when
        a window shows it (``show``) and otherwise left to decode when someone looks
        (``Frame.decode``)."""
        h = frame.header
        if h.encoding == "tiles":
            image = self._paint(frame, show)
            # copy on write: a shifted update paints a new array anyway, so the frame
            # keeps this one and the next update that paints in place copies it first
            self._tiles_given = keep
            return replace(frame, image=image if keep else None)
        if h.encoding == "h264":
            if self._video is None:
                self._video = VideoDecoder()
            image = self._video.decode(frame.payload, h.width, h.height)
            frame = replace(frame, image=image)
        elif show:
            frame = replace(frame, image=frame.decode())
        if show:
            assert frame.image is not None
            self.picture.record_whole(frame.image, h)
        return frame

    def _paint(self, frame: Frame, show: bool) -> np.ndarray:
        h = frame.header
        shape = (h.height, h.width, 4)
        index = [list(tile) for tile in h.tiles or ()]
        with self.picture.lock:
            if self._tiles is None or self._tiles.shape != shape:
                self._tiles = np.zeros(shape, np.uint8)
            elif self._tiles_given and h.shift is None:
                self._tiles = self._tiles.copy()
            self._tiles = apply_update(self._tiles, index, frame.payload, h.shift,
                                       self._recycler)
            if show:
                self.picture.record_tiles(self._tiles, h)
        return self._tiles
