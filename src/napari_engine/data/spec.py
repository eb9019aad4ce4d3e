"""The hand-off between "what to show" and the napari server: one image layer's worth of arguments.

Readers (OME-Zarr, TIFF, the procedural sample) all produce :class:`LayerSpec` objects so the
server only ever needs one call, ``viewer.add_image(spec.data, **spec.kwargs)``, whatever the
source was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerSpec:
    """What the server needs to add one napari image layer: data plus add_image keyword arguments.

    ``data`` is one array-like, or a list of array-likes (multiscale, finest first).
    ``kwargs`` are keyword arguments for ``napari.components.ViewerModel.add_image``: ``name``
    and ``multiscale`` and ``contrast_limits`` are always set (the latter so napari never scans
    the data); ``scale``, ``translate``, ``colormap``, ``blending``, ``axis_labels``, ``units``
    and ``rgb`` where known.
    """

    data: Any
    kwargs: dict[str, Any]
    #: napari's layer kind: "image", or "labels" (an OME-Zarr's label images): the
    #: server calls ``viewer.add_<kind>``
    kind: str = "image"


class DataError(Exception):
    """A path or URL that cannot be opened; ``str(e)`` is a one-line message for the user."""

    def __init__(self, message: str) -> None:
        # Keep the message to one line: it is shown to a person, not a traceback reader.
        super().__init__(" ".join(str(message).split()))


def brief(exc: BaseException) -> str:
    """A reader's or store's error in a line a person reads (obstore appends its debug
    dump to its messages)."""
    text = " ".join(str(exc).split()).split(" Debug source:")[0]
    return text if len(text) <= 300 else text[:297] + "..."
