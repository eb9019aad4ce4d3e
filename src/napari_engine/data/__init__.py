"""Turning "what to show" into napari layer specs.

``open_data(path)`` reads local OME-Zarr and TIFF/OME-TIFF files lazily; ``sample_layers()``
builds the built-in procedural, petabyte-scale sample. Both return :class:`LayerSpec` objects
that the server adds with ``viewer.add_image(spec.data, **spec.kwargs)``. Nothing here does I/O
at import time.
"""

from napari_engine.data.open import FILE_SUFFIXES, open_data
from napari_engine.data.sample import sample_layers
from napari_engine.data.spec import DataError, LayerSpec

__all__ = ["FILE_SUFFIXES", "DataError", "LayerSpec", "open_data", "sample_layers"]
