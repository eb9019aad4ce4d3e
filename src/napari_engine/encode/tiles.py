"""Tiles and dirty regions: send only the parts of a frame that changed.

The server keeps, per client, the picture that client shows; each new frame is cut into
square tiles, and only tiles whose pixels differ are encoded and sent. A static scene
therefore costs nothing after its last still, and a cursor-sized change costs a tile or
two. Tiles sent lossily (JPEG while moving) are remembered and re-sent losslessly once
the scene rests. When the view only panned, the client first shifts what it shows
(``motion``) and the update carries the exposed strips and corrections. When most of the
frame changed anyway, one full-frame tile is cheaper than many small ones.

Many tiles are encoded on a small thread pool (simplejpeg and imagecodecs release the
GIL); a few are encoded inline, where handing them to threads would cost more than it
saves.

Pure numpy; the same module assembles tiles on the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_engine.encode import motion
from napari_engine.encode.codecs import Encoding, decode_frame, encode_frame

TILE = 64
#: Above this fraction of changed tiles, send the whole frame as one tile.
FULL_FRAME_FRACTION = 0.5
#: Fewer tiles than this are encoded inline even when a pool is given.
PARALLEL_MIN_TILES = 24

Box = motion.Box


def tile_grid(height: int, width: int, tile: int = TILE) -> tuple[int, int]:
    return -(-height // tile), -(-width // tile)


def _pixels(frame: np.ndarray) -> np.ndarray:
    """RGBA pixels as one uint32 each: a quarter of the comparisons of the byte view."""
    if frame.flags.c_contiguous and frame.shape[2] == 4 and frame.dtype == np.uint8:
        return frame.view(np.uint32)[..., 0]
    return np.ascontiguousarray(frame).view(np.uint32)[..., 0]


def changed_grid(new: np.ndarray, old: np.ndarray | None, tile: int,
                  shift: tuple[int, int] | None = None) -> np.ndarray:
    """Tiles of ``new`` that differ from ``old`` (moved by ``shift`` first: compared
    through views, without copying the old picture; the exposed strips count as changed)."""
    rows, cols = tile_grid(new.shape[0], new.shape[1], tile)
    if old is None or old.shape != new.shape:
        return np.ones((rows, cols), bool)
    a, b = _pixels(new), _pixels(old)
    if shift is None:
        return motion.tiles_touched(a != b, tile)
    dst, src = motion.overlap(new.shape[0], new.shape[1], *shift)
    diff = np.ones(a.shape, bool)
    diff[dst] = a[dst] != b[src]
    return motion.tiles_touched(diff, tile)


@dataclass
class TileState:
    """What one client shows, as the server tracks it (owned by the encoder thread)."""

    shown: np.ndarray | None = None
    view: motion.View | None = None  # where ``shown`` sits in the world
    scale: float = 1.0
    lossy_grid: np.ndarray | None = None  # tiles last sent lossily


@dataclass
class TileUpdate:
    """One message's worth of tiles: ``index`` rows are ``[x, y, w, h, encoding, offset,
    length]`` into ``payload``; ``shift`` (dx, dy) moves the client's picture first."""

    index: list[list[Any]] = field(default_factory=list)
    payload: bytes = b""
    shift: tuple[int, int] | None = None


def _encode_boxes(frame: np.ndarray, boxes: Sequence[Box], encoding: Encoding, quality: int,
                  pool: Executor | None) -> list[bytes]:
    def run(part: Sequence[Box]) -> list[bytes]:
        return [encode_frame(frame[y:y + h, x:x + w], encoding, quality=quality)
                for x, y, w, h in part]

    if pool is None or len(boxes) < PARALLEL_MIN_TILES:
        return run(boxes)
    half = len(boxes) // 2  # two cores here; one chunk each keeps the overhead at two calls
    first = pool.submit(run, boxes[:half])
    second = run(boxes[half:])
    return first.result() + second


def encode_update(state: TileState, frame: np.ndarray, *, lossless: bool, quality: int = 80,
                  tile: int = TILE, view: motion.View | None = None, scale: float = 1.0,
                  pool: Executor | None = None, refine: bool = False,
                  pan: motion.PanDelta | None = None) -> TileUpdate:
    """Tiles that bring the client from ``state.shown`` to ``frame``; updates ``state``.

    ``view`` and ``scale`` say where ``frame`` sits in the world; when they show a clean
    2D pan from the state's view, the update shifts the old picture and sends the exposed
    strips plus the tiles the shift does not explain. A lossless update also re-sends the
    tiles last sent lossily; so does a ``refine`` one, at ``quality`` (a visually
    lossless still for a link too thin for a lossless one), after which they count as
    final.
    """
    height, width = frame.shape[:2]
    rows, cols = tile_grid(height, width, tile)
    shown, lossy = state.shown, state.lossy_grid
    shift = None
    if shown is not None and shown.shape == frame.shape:
        shift = motion.pan_shift(state.view, state.scale, view, scale)
    if (shift is not None and pan is not None and shown is pan.base
            and shift == pan.shift):
        dirty = motion.boxes_grid(pan.boxes, height, width, tile)
    else:
        dirty = changed_grid(frame, shown, tile, shift)
    if shift is not None and lossy is not None:
        lossy = motion.shift_tile_grid(lossy, *shift, tile)
    if lossy is None or lossy.shape != (rows, cols):
        lossy = np.zeros((rows, cols), bool)
    final = lossless or refine
    if final:
        dirty |= lossy
    # PNG's filters compress small tiles of smooth content far better than raw zstd, and
    # a tile is small enough for PNG to be quick; a whole frame goes as zstd (speed)
    encoding = Encoding.PNG if lossless else Encoding.JPEG
    boxes: list[Box]
    if dirty.sum() > FULL_FRAME_FRACTION * rows * cols:
        shift = None  # the whole picture is replaced: nothing to move
        boxes = [(0, 0, width, height)]
        encoding = Encoding.ZSTD if lossless else Encoding.JPEG
        lossy = np.full((rows, cols), not final)
    else:
        hits = list(zip(*np.nonzero(dirty), strict=True))
        boxes = [(int(c) * tile, int(r) * tile, min(tile, width - int(c) * tile),
                  min(tile, height - int(r) * tile)) for r, c in hits]
        lossy = (lossy & ~dirty) if final else (lossy | dirty)
    chunks = _encode_boxes(frame, boxes, encoding, quality, pool)
    index: list[list[Any]] = []
    offset = 0
    for (x, y, w, h), data in zip(boxes, chunks, strict=True):
        index.append([x, y, w, h, encoding.value, offset, len(data)])
        offset += len(data)
    state.shown, state.view, state.scale, state.lossy_grid = frame, view, scale, lossy
    return TileUpdate(index, b"".join(chunks), shift)


def apply_update(canvas: np.ndarray, index: list[list[Any]], payload: bytes | memoryview,
                 shift: Sequence[int] | None = None,
                 recycler: motion.Recycler | None = None) -> np.ndarray:
    """Client side: shift the picture (if asked), then decode each tile into it.

    ``canvas`` is RGBA at the frame's full size; returns the updated picture (another
    array when shifted, from ``recycler`` if given; ``canvas`` itself otherwise).
    """
    if shift is not None:
        dx, dy = int(shift[0]), int(shift[1])
        out = recycler.take(canvas) if recycler is not None else None
        canvas = motion.shift_image(canvas, dx, dy, out=out)
    view = memoryview(payload)
    for x, y, w, h, encoding, offset, length in index:
        canvas[y:y + h, x:x + w] = decode_frame(view[offset:offset + length],
                                                Encoding(encoding), w, h)
    return canvas
