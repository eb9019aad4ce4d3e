"""Frames to bytes and back.

The renderer hands over RGBA uint8 arrays; an ``Encoding`` turns them into bytes for the
wire. JPEG (libjpeg-turbo via simplejpeg) is for frames during interaction; ``zstd``
(raw RGBA, zstd level 1) and ``png`` are lossless, for stills and screenshots. On a
2-core llvmpipe machine PNG costs ~40 ms for a noisy 1920x1080 frame and zstd ~3 ms at a
smaller size, so zstd is the default lossless encoding and PNG is there for tools that
want a standard image format.
"""

from napari_engine.encode.codecs import Encoding, decode_frame, encode_frame

__all__ = ["Encoding", "decode_frame", "encode_frame"]
