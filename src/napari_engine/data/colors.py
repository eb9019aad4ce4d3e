"""Map channel colours from file metadata (hex strings) to napari colormap names.

napari accepts plain names such as 'green' or 'magenta'; using them (rather than building
colormap objects) keeps this package free of napari imports and the specs easy to serialise.
"""

from __future__ import annotations

import colorsys

# Hues (degrees) of napari's single-hue colormaps.
_HUES: dict[str, float] = {
    "red": 0.0, "yellow": 60.0, "green": 120.0, "cyan": 180.0, "blue": 240.0, "magenta": 300.0,
}
DEFAULT_CYCLE: tuple[str, ...] = ("green", "magenta", "cyan", "yellow", "red", "blue")


def colormap_for_hex(color: str | None, fallback: str = "gray") -> str:
    """The napari colormap name nearest in hue to ``color`` ("FF0000", "#00ff00", or an
    ImageJ/OME signed 32-bit RGBA integer as a string); grey for unsaturated colours."""
    rgb = _parse(color)
    if rgb is None:
        return fallback
    h, _, s = colorsys.rgb_to_hls(*rgb)
    if s < 0.25 or max(rgb) < 0.1:
        return "gray"
    hue = h * 360.0
    return min(_HUES, key=lambda name: min(abs(hue - _HUES[name]), 360.0 - abs(hue - _HUES[name])))


def _parse(color: str | None) -> tuple[float, float, float] | None:
    if color is None:
        return None
    text = str(color).strip().lstrip("#")
    try:
        if len(text) in (6, 8) and all(c in "0123456789abcdefABCDEF" for c in text):
            value = int(text[:6], 16)
            return ((value >> 16) / 255.0, ((value >> 8) & 255) / 255.0, (value & 255) / 255.0)
        value = int(text) & 0xFFFFFFFF  # OME: signed RGBA integer
        return ((value >> 24) / 255.0, ((value >> 16) & 255) / 255.0, ((value >> 8) & 255) / 255.0)
    except ValueError:
        return None


def default_colormaps(n_channels: int) -> list[str]:
    """Colormaps for channels without colour metadata: grey for one, a fixed cycle for more."""
    if n_channels == 1:
        return ["gray"]
    return [DEFAULT_CYCLE[i % len(DEFAULT_CYCLE)] for i in range(n_channels)]
