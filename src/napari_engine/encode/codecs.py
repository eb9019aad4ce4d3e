"""The frame encoders and decoders, one function pair per encoding."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

import imagecodecs
import numpy as np
import simplejpeg


class Encoding(StrEnum):
    """How a frame's pixels are encoded (the frame header's ``encoding``)."""

    JPEG = "jpeg"
    ZSTD = "zstd"  # raw RGBA rows, zstd level 1: lossless and fast
    PNG = "png"

    @property
    def lossless(self) -> bool:
        return self is not Encoding.JPEG


def _rgba(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 4:
        raise ValueError(f"frames are (h, w, 4) uint8 arrays, got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)


def encode_frame(frame: np.ndarray, encoding: Encoding, *, quality: int = 80) -> bytes:
    """Encode one RGBA frame. JPEG drops alpha and uses 4:2:0 below quality 90."""
    frame = _rgba(frame)
    if encoding is Encoding.JPEG:
        sub = "444" if quality >= 90 else "420"
        return bytes(simplejpeg.encode_jpeg(frame, quality=quality, colorspace="RGBA",
                                            colorsubsampling=sub, fastdct=True))
    if encoding is Encoding.ZSTD:
        # imagecodecs takes any buffer; its stubs say bytes only
        return bytes(imagecodecs.zstd_encode(cast(Any, frame), level=1))
    if encoding is Encoding.PNG:
        return bytes(imagecodecs.png_encode(frame, level=1))
    raise ValueError(f"unknown encoding {encoding!r}")


def decode_frame(data: bytes | memoryview, encoding: Encoding, width: int,
                 height: int) -> np.ndarray:
    """Decode a frame back to an (h, w, 4) uint8 RGBA array."""
    if encoding is Encoding.JPEG:
        out = simplejpeg.decode_jpeg(bytes(data), colorspace="RGBA")
    elif encoding is Encoding.ZSTD:
        raw = imagecodecs.zstd_decode(bytes(data))
        out = np.frombuffer(raw, dtype=np.uint8)
        if out.size != width * height * 4:
            raise ValueError(f"zstd frame has {out.size} bytes, expected {width * height * 4}")
        out = out.reshape(height, width, 4)
    elif encoding is Encoding.PNG:
        out = imagecodecs.png_decode(bytes(data))
        if out.ndim == 3 and out.shape[2] == 3:
            out = np.dstack([out, np.full(out.shape[:2], 255, np.uint8)])
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    if out.shape != (height, width, 4):
        raise ValueError(f"decoded frame is {out.shape}, expected {(height, width, 4)}")
    return np.asarray(out)
