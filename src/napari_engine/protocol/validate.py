"""Shape checks for values that arrive from a client: the building blocks of every
operation's and every layer property's validation.

Each check takes the value and the key it came under (for the error message) and
returns a clean plain-Python copy, or raises ``ProtocolError(INVALID)``. They only judge
*shape and range*; whether napari accepts a value (is "viridis" a colormap) is napari's
call, on the server.
"""

from __future__ import annotations

import math
from typing import Any

from napari_engine.protocol.errors import ErrorCode, ProtocolError

MAX_NDIM = 32
MAX_NAME = 256
MAX_ENUM = 64
#: the largest coordinate (world or data units: a point, a vertex, a translation, a
#: camera's center) and scale: a metre in nanometres is 1e9; past 1e12 napari's
#: arithmetic (extents, pixel indices) overflows and a session stops drawing
MAX_COORDINATE = 1e12
#: the smallest magnitude of a scale
MIN_SCALE = 1e-12
#: the most dimensions of a layer: napari's cost grows as 2**ndim past about 14 (a
#: 20-D image of 4 voxels takes seconds to add; 22-D took a minute and 6.5 GB)
MAX_LAYER_NDIM = 12


def fail(message: str) -> ProtocolError:
    """The error for a value of the right kind of message but a wrong value."""
    return ProtocolError(ErrorCode.INVALID, message)


def is_number(value: Any) -> bool:
    """A finite int or float, and not a bool (JSON's true is not 1 here)."""
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value))


def is_int(value: Any) -> bool:
    """An int, and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: Any, key: str, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False) -> float:
    """A finite number in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    if not is_number(value) or value < lo or value > hi or (lo_open and value == lo):
        raise fail(f"'{key}' must be a finite number in {'(' if lo_open else '['}{lo}, {hi}]")
    return float(value)


def integer(value: Any, key: str, *, lo: int = 0, hi: int = 2**62) -> int:
    """An integer in [lo, hi]."""
    if not is_int(value) or not lo <= value <= hi:
        raise fail(f"'{key}' must be an integer in [{lo}, {hi}]")
    return int(value)


def numbers(value: Any, key: str, *, min_len: int = 1, max_len: int = MAX_NDIM) -> list[float]:
    """A list of ``min_len`` to ``max_len`` finite numbers."""
    if (not isinstance(value, list) or not min_len <= len(value) <= max_len
            or not all(is_number(v) for v in value)):
        raise fail(f"'{key}' must be a list of {min_len} to {max_len} finite numbers")
    return [float(v) for v in value]


def coordinates(value: Any, key: str, *, min_len: int = 1, max_len: int = MAX_NDIM
                ) -> list[float]:
    """A list of finite numbers within +-``MAX_COORDINATE``."""
    out = numbers(value, key, min_len=min_len, max_len=max_len)
    if any(abs(x) > MAX_COORDINATE for x in out):
        raise fail(f"'{key}' must be within +-{MAX_COORDINATE:g}")
    return out


def scales(value: Any, key: str) -> list[float]:
    """A list of scales: each finite, its magnitude in [``MIN_SCALE``,
    ``MAX_COORDINATE``]."""
    out = numbers(value, key)
    if any(not MIN_SCALE <= abs(x) <= MAX_COORDINATE for x in out):
        raise fail(f"'{key}' must be scales of magnitude {MIN_SCALE:g} to "
                   f"{MAX_COORDINATE:g}")
    return out


def integers(value: Any, key: str, *, max_len: int = MAX_NDIM) -> list[int]:
    """A list of 1 to ``max_len`` non-negative integers."""
    if (not isinstance(value, list) or not 1 <= len(value) <= max_len
            or not all(is_int(v) and v >= 0 for v in value)):
        raise fail(f"'{key}' must be a list of 1 to {max_len} non-negative integers")
    return [int(v) for v in value]


def text(value: Any, key: str, *, max_len: int = MAX_NAME) -> str:
    """A non-empty string of at most ``max_len`` characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise fail(f"'{key}' must be a non-empty string of at most {max_len} characters")
    return value


def enum_text(value: Any, key: str) -> str:
    """A short name napari will judge (a colormap, a blending or rendering mode)."""
    return text(value, key, max_len=MAX_ENUM)


def boolean(value: Any, key: str) -> bool:
    """true or false, nothing else."""
    if not isinstance(value, bool):
        raise fail(f"'{key}' must be true or false")
    return value


def texts(value: Any, key: str) -> list[str]:
    """A list of 1 to ``MAX_NDIM`` short strings (axis labels, units)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_NDIM:
        raise fail(f"'{key}' must be a list of 1 to {MAX_NDIM} strings")
    return [enum_text(x, key) for x in value]


def matrix(value: Any, key: str) -> list[list[float]]:
    """A square matrix of finite numbers, at most ``MAX_NDIM + 1`` a side (a rotation,
    an affine transform)."""
    side = len(value) if isinstance(value, list) else 0
    if not 1 <= side <= MAX_NDIM + 1 or not all(
            isinstance(row, list) and len(row) == side
            and all(is_number(x) and abs(x) <= MAX_COORDINATE for x in row)
            for row in value):
        raise fail(f"'{key}' must be a square matrix of finite numbers within "
                   f"+-{MAX_COORDINATE:g}, at most {MAX_NDIM + 1} a side")
    return [[float(x) for x in row] for row in value]


MAX_COLORMAP_COLORS = 1024


def colormap(value: Any, key: str) -> str | dict[str, Any]:
    """A colormap by name, or defined: ``{name, colors: [[r, g, b, a], ...], controls,
    interpolation}`` (one a client made itself, which the server does not know)."""
    if isinstance(value, str):
        return enum_text(value, key)
    if not isinstance(value, dict):
        raise fail(f"'{key}' must be a colormap name or {{name, colors, controls, "
                   "interpolation}")
    if "labels" in value:
        return _label_colormap(value, key)
    only(value, {"name", "colors", "controls", "interpolation"}, key)
    colors = require(value, "colors", key)
    if not isinstance(colors, list) or not 1 <= len(colors) <= MAX_COLORMAP_COLORS:
        raise fail(f"'{key}': 'colors' must be a list of 1 to {MAX_COLORMAP_COLORS} colors")
    out: dict[str, Any] = {
        "name": enum_text(require(value, "name", key), key),
        "colors": [numbers(c, "color", min_len=4, max_len=4) for c in colors],
        "interpolation": enum_text(value.get("interpolation", "linear"), key)}
    if "controls" in value:
        out["controls"] = numbers(value["controls"], "controls", max_len=MAX_COLORMAP_COLORS + 1)
    return out


#: labels a direct labels colormap may name
MAX_LABEL_COLORS = 65_536


def _label_colormap(value: dict[str, Any], key: str) -> dict[str, Any]:
    """A labels layer's colormap: ``{labels: "cyclic", colors: ["#rrggbbaa", ...], seed,
    background}`` or ``{labels: "direct", colors: [[label or null, "#rrggbbaa"], ...],
    background}``."""
    only(value, {"labels", "colors", "seed", "background"}, key)
    kind = require(value, "labels", key)
    colors = require(value, "colors", key)
    background = integer(value.get("background", 0), "background", lo=-(2**63), hi=2**63 - 1)
    if kind == "cyclic":
        if not isinstance(colors, list) or not 1 <= len(colors) <= MAX_COLORMAP_COLORS:
            raise fail(f"'{key}': a cyclic labels colormap has 1 to {MAX_COLORMAP_COLORS} "
                       "colours")
        return {"labels": "cyclic", "background": background,
                "seed": number(require(value, "seed", key), "seed", lo=0.0, hi=1.0),
                "colors": [enum_text(c, key) for c in colors]}
    if kind != "direct":
        raise fail(f"'{key}': 'labels' must be 'cyclic' or 'direct'")
    if not isinstance(colors, list) or len(colors) > MAX_LABEL_COLORS or not all(
            isinstance(kc, list) and len(kc) == 2 and (kc[0] is None or is_int(kc[0]))
            for kc in colors):
        raise fail(f"'{key}': a direct labels colormap has at most {MAX_LABEL_COLORS} "
                   "[label or null, colour] pairs")
    return {"labels": "direct", "background": background,
            "colors": [[kc[0], enum_text(kc[1], key)] for kc in colors]}


MAX_TABLE_ROWS = 100_000
MAX_TABLE_COLUMNS = 64


def table(value: Any, key: str) -> dict[str, list[Any]]:
    """Columns of equal length, of numbers, strings, booleans or nulls (a layer's
    features table, one value a point or label)."""
    if not isinstance(value, dict) or len(value) > MAX_TABLE_COLUMNS:
        raise fail(f"'{key}' must be an object of at most {MAX_TABLE_COLUMNS} columns")
    lengths = set()
    for name, column in value.items():
        if not isinstance(column, list) or len(column) > MAX_TABLE_ROWS or not all(
                x is None or isinstance(x, bool | str) or is_number(x) for x in column):
            raise fail(f"'{key}': column {name!r} must be a list of at most "
                       f"{MAX_TABLE_ROWS} numbers, strings, booleans or nulls")
        if any(isinstance(x, str) and len(x) > MAX_NAME for x in column):
            raise fail(f"'{key}': column {name!r} holds a string over {MAX_NAME} characters")
        text(name, f"{key} column name")
        lengths.add(len(column))
    if len(lengths) > 1:
        raise fail(f"'{key}': every column must have the same length")
    return {name: list(column) for name, column in value.items()}


def limits(value: Any, key: str) -> list[float]:
    """[low, high] with low < high (contrast limits)."""
    lo, hi = numbers(value, key, min_len=2, max_len=2)
    if not lo < hi:
        raise fail(f"'{key}' must be [low, high] with low < high")
    return [lo, hi]


def only(args: dict[str, Any], allowed: set[str] | frozenset[str], op: str) -> None:
    """Refuse any key of ``args`` not in ``allowed``."""
    extra = sorted(set(args) - allowed)
    if extra:
        raise fail(f"{op}: unknown argument(s) {', '.join(extra)}; "
                   f"allowed: {', '.join(sorted(allowed))}")


def require(args: dict[str, Any], key: str, op: str) -> Any:
    """The value under ``key``, which must be there."""
    if key not in args:
        raise fail(f"{op}: missing argument '{key}'")
    return args[key]
