"""Normalise unit names from file metadata to ones napari (pint) understands."""

from __future__ import annotations

from collections.abc import Sequence

_ALIASES = {
    "micron": "micrometer", "microns": "micrometer", "um": "micrometer", "µm": "micrometer",
    "\u03bcm": "micrometer", "\\u00b5m": "micrometer",
    "nm": "nanometer", "mm": "millimeter", "cm": "centimeter", "m": "meter", "s": "second",
    "sec": "second", "ms": "millisecond", "min": "minute", "h": "hour", "px": "pixel",
}
_KNOWN = {
    "angstrom", "nanometer", "micrometer", "millimeter", "centimeter", "meter", "kilometer",
    "picosecond", "nanosecond", "microsecond", "millisecond", "second", "minute", "hour", "day",
    "pixel", "inch", "foot",
}


def normalize_unit(unit: str | None) -> str | None:
    """A unit name napari accepts, or None for absent or unrecognised units."""
    if unit is None:
        return None
    text = str(unit).strip()
    name = _ALIASES.get(text, _ALIASES.get(text.lower(), text.lower()))
    return name if name in _KNOWN else None


def units_kwarg(units: Sequence[str | None]) -> tuple[str, ...] | None:
    """napari's ``units`` argument: recognised units per axis, 'pixel' where unknown; None when
    no axis has a recognised unit (napari's default then applies)."""
    names = [normalize_unit(u) for u in units]
    if all(n is None for n in names):
        return None
    return tuple(n if n is not None else "pixel" for n in names)
