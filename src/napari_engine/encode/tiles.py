"""Tiles and dirty regions: send only the parts of a frame that changed.

The server keeps, per client, the picture that client shows; each new frame is cut into
square tiles, and only tiles whose pixels differ are encoded and sent. A static scene
therefore costs nothing after its last still, and a cursor-sized change costs a tile or
two. Tiles sent lossily (JPEG while moving) are remembered and re-sent losslessly once
the scene rests. When most of the frame changed (a pan), one full-frame tile is cheaper
than many small ones.

Pure numpy; the same module assembles tiles on the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_engine.encode.codecs import Encoding, decode_frame, encode_frame

TILE = 64
#: Above this fraction of changed tiles, send the whole frame as one tile.
FULL_FRAME_FRACTION = 0.5


def tile_grid(height: int, width: int, tile: int = TILE) -> tuple[int, int]:
    return -(-height // tile), -(-width // tile)


def changed_tiles(new: np.ndarray, old: np.ndarray | None,
                  tile: int = TILE) -> set[tuple[int, int]]:
    """(row, column) of every tile whose pixels differ between ``old`` and ``new``."""
    rows, cols = tile_grid(new.shape[0], new.shape[1], tile)
    if old is None or old.shape != new.shape:
        return {(r, c) for r in range(rows) for c in range(cols)}
    diff = np.any(new != old, axis=2)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[: diff.shape[0], : diff.shape[1]] = diff
    hits = padded.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(hits), strict=True)}


@dataclass
class TileState:
    """What one client shows, as the server tracks it (owned by the encoder thread)."""

    shown: np.ndarray | None = None
    lossy: set[tuple[int, int]] = field(default_factory=set)


def encode_update(state: TileState, frame: np.ndarray, *, lossless: bool, quality: int = 80,
                  tile: int = TILE) -> tuple[list[list[Any]], bytes]:
    """Tiles that bring the client from ``state.shown`` to ``frame``; updates ``state``.

    Returns the tile index ``[[x, y, w, h, encoding, offset, length], ...]`` and the
    concatenated payload. A lossless update also re-sends tiles last sent lossily.
    """
    dirty = changed_tiles(frame, state.shown, tile)
    if lossless:
        dirty |= state.lossy
    rows, cols = tile_grid(frame.shape[0], frame.shape[1], tile)
    # PNG's filters compress small tiles of smooth content far better than raw zstd, and
    # a tile is small enough for PNG to be quick; a whole frame goes as zstd (speed)
    encoding = Encoding.PNG if lossless else Encoding.JPEG
    boxes: list[tuple[int, int, int, int]]
    if len(dirty) > FULL_FRAME_FRACTION * rows * cols:
        boxes = [(0, 0, frame.shape[1], frame.shape[0])]
        encoding = Encoding.ZSTD if lossless else Encoding.JPEG
        state.lossy = set() if lossless else {(r, c) for r in range(rows) for c in range(cols)}
    else:
        boxes = [(c * tile, r * tile, min(tile, frame.shape[1] - c * tile),
                  min(tile, frame.shape[0] - r * tile)) for r, c in sorted(dirty)]
        state.lossy = state.lossy - dirty if lossless else state.lossy | dirty
    index: list[list[Any]] = []
    chunks: list[bytes] = []
    offset = 0
    for x, y, w, h in boxes:
        data = encode_frame(frame[y:y + h, x:x + w], encoding, quality=quality)
        index.append([x, y, w, h, encoding.value, offset, len(data)])
        chunks.append(data)
        offset += len(data)
    state.shown = frame
    return index, b"".join(chunks)


def apply_update(canvas: np.ndarray, index: list[list[Any]], payload: bytes | memoryview
                 ) -> None:
    """Client side: decode each tile into ``canvas`` (RGBA, the frame's full size)."""
    view = memoryview(payload)
    for x, y, w, h, encoding, offset, length in index:
        canvas[y:y + h, x:x + w] = decode_frame(view[offset:offset + length],
                                                Encoding(encoding), w, h)
