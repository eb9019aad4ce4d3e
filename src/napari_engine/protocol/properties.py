"""The layer-property table: every layer property that crosses the wire, in one place.

Each row says which layer kinds have the property, how its value travels (``Wire``),
whether a client may set it (``layer.set``), under which keyword the ``add_*``
operations accept it for a new layer, and its shape check. Everything else derives from
this table: the protocol's validation of ``layer.set`` and ``props``, the server's state
snapshot (which properties it reads from a napari layer and how it turns them into
JSON), and the client's napari model (which properties it mirrors, both ways).

Adding a property: a row here (and, if its value needs a conversion no ``Wire`` kind has
yet, that kind and its converter in ``TO_WIRE``).

The layer's *structure* (id, kind, shape, dtype, levels, point coordinates) is not a
property: it is fixed when a layer is made, and ``server/state.py`` and the client's
bridge handle it.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from napari_engine.protocol import validate as v


class LayerKind(StrEnum):
    """The layer types the protocol mirrors (napari's class name, lower case)."""

    IMAGE = "image"
    LABELS = "labels"
    POINTS = "points"
    SHAPES = "shapes"
    VECTORS = "vectors"
    TRACKS = "tracks"
    SURFACE = "surface"


class Wire(StrEnum):
    """How a property's napari value travels as JSON."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    FLOATS = "floats"  # a tuple or array of floats
    TEXT = "text"  # str(value): names, and napari's string enums
    COLORMAP = "colormap"  # an image's colormap by name; a labels layer's defined
    COLOR = "color"  # "#rrggbbaa"
    TEXTS = "texts"  # a tuple of strings (axis labels, units)
    INTS = "ints"  # a set of indices, sorted (a selection)
    PICTURE = "picture"  # a small RGBA uint8 array (a thumbnail): shape + zlib, base64
    MATRIX = "matrix"  # a square matrix of floats (a rotation; an affine transform's)
    TABLE = "table"  # columns of equal length: {name: [values]} (a features table)
    COLORS = "colors"  # one "#rrggbbaa" per point or shape


Check = Callable[[Any, str], Any]
ALL = frozenset(LayerKind)
SLICED = frozenset({LayerKind.IMAGE, LayerKind.LABELS})
VECTOR = frozenset({LayerKind.POINTS, LayerKind.SHAPES})


@dataclass(frozen=True, slots=True)
class LayerProperty:
    """One row of the table."""

    name: str
    wire: Wire
    kinds: frozenset[LayerKind]
    #: the shape check for values a client sends; None: read-only, the server's alone
    check: Check | None = None
    #: the keyword an ``add_*`` operation takes it under for a new layer (None: not at add)
    initial: str | None = None
    #: given when the layer is made, never changed after (napari's ``rgb``)
    fixed: bool = False
    #: each client of a shared session has its own (the tool: napari's ``mode``, the
    #: label and brush it paints with); the state tells each client its own
    per_client: bool = False
    #: one value per point or shape (napari's ``size``, ``face_color`` ...): a new layer
    #: takes it once made (napari refuses empty arrays at creation), the state carries it
    #: up to ``MAX_ITEMS`` items
    per_item: bool = False

    @property
    def settable(self) -> bool:
        return self.check is not None and not self.fixed

    def applies_to(self, kind: str) -> bool:
        """Whether layers of ``kind`` have it (rows for every layer apply to layer types
        the protocol does not mirror too: a vectors layer still has a name)."""
        return self.kinds == ALL or kind in self.kinds


def _range(lo: float, hi: float, *, lo_open: bool = False) -> Check:
    return lambda value, key: v.number(value, key, lo=lo, hi=hi, lo_open=lo_open)


def _int_range(hi: int) -> Check:
    return lambda value, key: v.integer(value, key, hi=hi)


def _floats(value: Any, key: str) -> list[float]:
    return v.numbers(value, key)


#: points (or shapes) that travel as JSON in one message or state: their coordinates
#: and each one's own values (past it, the state carries only their count)
MAX_ITEMS = 100_000


def _per_item(one: Check) -> Check:
    """A list of 0 to ``MAX_ITEMS`` values, each checked by ``one``."""
    def check(value: Any, key: str) -> list[Any]:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise v.fail(f"'{key}' must be a list of at most {MAX_ITEMS} values, one per item")
        return [one(x, key) for x in value]
    return check


def _level(value: Any, key: str) -> int | None:
    return None if value is None else v.integer(value, key, hi=64)


#: the largest size or width a point or shape may have
MAX_SIZE = 1e9


def _size(value: Any, key: str) -> float:
    return v.number(value, key, lo=0.0, hi=MAX_SIZE)


def _row(name: str, wire: Wire, kinds: frozenset[LayerKind], check: Check | None = None,
         initial: bool | str = False, fixed: bool = False,
         per_client: bool = False, per_item: bool = False) -> LayerProperty:
    keyword = (name if initial is True else initial) or None
    return LayerProperty(name, wire, kinds, check, keyword, fixed, per_client, per_item)


POINTS_ONLY = frozenset({LayerKind.POINTS})
SHAPES_ONLY = frozenset({LayerKind.SHAPES})


LAYER_PROPERTIES: dict[str, LayerProperty] = {row.name: row for row in (
    _row("name", Wire.TEXT, ALL, v.text, initial=True),
    _row("visible", Wire.BOOL, ALL, v.boolean, initial=True),
    _row("opacity", Wire.FLOAT, ALL, _range(0.0, 1.0), initial=True),
    _row("blending", Wire.TEXT, ALL, v.enum_text, initial=True),
    _row("scale", Wire.FLOATS, ALL, v.scales, initial=True),
    _row("translate", Wire.FLOATS, ALL, v.coordinates, initial=True),
    _row("mode", Wire.TEXT, ALL, v.enum_text, per_client=True),
    _row("axis_labels", Wire.TEXTS, ALL, v.texts, initial=True),
    _row("units", Wire.TEXTS, ALL, v.texts, initial=True),
    _row("rotate", Wire.MATRIX, ALL, v.matrix, initial=True),
    _row("shear", Wire.FLOATS, ALL, v.coordinates, initial=True),
    _row("affine", Wire.MATRIX, ALL, v.matrix, initial=True),
    # the range first: napari fits the limits into it when it changes
    _row("contrast_limits_range", Wire.FLOATS, frozenset({LayerKind.IMAGE})),
    _row("contrast_limits", Wire.FLOATS, frozenset({LayerKind.IMAGE}), v.limits, initial=True),
    # a name, or (from a client) the definition of a colormap the server may not know
    _row("colormap", Wire.COLORMAP, SLICED, v.colormap, initial=True),
    _row("gamma", Wire.FLOAT, frozenset({LayerKind.IMAGE}), _range(0.0, 100.0, lo_open=True),
         initial=True),
    _row("interpolation2d", Wire.TEXT, frozenset({LayerKind.IMAGE}), v.enum_text,
         initial=True),
    _row("interpolation3d", Wire.TEXT, frozenset({LayerKind.IMAGE}), v.enum_text,
         initial=True),
    _row("rendering", Wire.TEXT, SLICED, v.enum_text, initial=True),
    _row("depiction", Wire.TEXT, frozenset({LayerKind.IMAGE}), v.enum_text, initial=True),
    _row("projection_mode", Wire.TEXT, SLICED, v.enum_text, initial=True),
    _row("iso_threshold", Wire.FLOAT, frozenset({LayerKind.IMAGE}), v.number),
    _row("attenuation", Wire.FLOAT, frozenset({LayerKind.IMAGE}), _range(0.0, 1e9)),
    _row("rgb", Wire.BOOL, frozenset({LayerKind.IMAGE}), v.boolean, initial=True, fixed=True),
    _row("auto_contrast", Wire.BOOL, frozenset({LayerKind.IMAGE}), v.boolean, initial=True),
    # the controls' resolution: a multiscale level to draw at (null: napari's choice)
    _row("locked_data_level", Wire.INT, SLICED, _level),
    # napari computes it from the data: where the data is
    _row("thumbnail", Wire.PICTURE, SLICED),
    # False while the data the view shows is loading (napari's layer list animates)
    _row("loaded", Wire.BOOL, SLICED),
    _row("selected_label", Wire.INT, frozenset({LayerKind.LABELS}), _int_range(2**31),
         per_client=True),
    _row("brush_size", Wire.FLOAT, frozenset({LayerKind.LABELS}),
         _range(0.0, 10_000.0, lo_open=True), per_client=True),
    _row("contour", Wire.INT, frozenset({LayerKind.LABELS}), _int_range(1000)),
    # the labels controls' painting options: each painter's own, as the brush
    _row("contiguous", Wire.BOOL, frozenset({LayerKind.LABELS}), v.boolean, per_client=True),
    _row("preserve_labels", Wire.BOOL, frozenset({LayerKind.LABELS}), v.boolean,
         per_client=True),
    _row("n_edit_dimensions", Wire.INT, frozenset({LayerKind.LABELS}), _int_range(32),
         per_client=True),
    _row("show_selected_label", Wire.BOOL, frozenset({LayerKind.LABELS}), v.boolean),
    _row("current_size", Wire.FLOAT, frozenset({LayerKind.POINTS}), _range(0.0, 1e9),
         initial="size"),
    _row("current_face_color", Wire.COLOR, VECTOR, v.enum_text, initial="face_color"),
    _row("current_symbol", Wire.TEXT, POINTS_ONLY, v.enum_text, initial="symbol"),
    _row("current_border_color", Wire.COLOR, POINTS_ONLY, v.enum_text,
         initial="border_color"),
    _row("current_border_width", Wire.FLOAT, POINTS_ONLY, _range(0.0, 1e9),
         initial="border_width"),
    _row("current_edge_width", Wire.FLOAT, frozenset({LayerKind.SHAPES}), _range(0.0, 1e9),
         initial="edge_width"),
    _row("current_edge_color", Wire.COLOR, frozenset({LayerKind.SHAPES}), v.enum_text,
         initial="edge_color"),
    _row("selected_data", Wire.INTS, VECTOR),
    # each point's and shape's own (after the current_* rows: those apply to the selected)
    _row("size", Wire.FLOATS, POINTS_ONLY, _per_item(_size), per_item=True),
    _row("symbol", Wire.TEXTS, POINTS_ONLY, _per_item(v.enum_text), per_item=True),
    _row("face_color", Wire.COLORS, VECTOR, _per_item(v.enum_text), per_item=True),
    _row("border_color", Wire.COLORS, POINTS_ONLY, _per_item(v.enum_text), per_item=True),
    _row("border_width", Wire.FLOATS, POINTS_ONLY, _per_item(_size), per_item=True),
    _row("edge_color", Wire.COLORS, SHAPES_ONLY, _per_item(v.enum_text), per_item=True),
    _row("edge_width", Wire.FLOATS, SHAPES_ONLY, _per_item(_size), per_item=True),
    _row("features", Wire.TABLE, frozenset({LayerKind.LABELS, LayerKind.POINTS,
                                            LayerKind.SHAPES, LayerKind.VECTORS,
                                            LayerKind.TRACKS}), v.table, initial=True),
)}


def properties_of(kind: str) -> Iterator[LayerProperty]:
    """The rows that layers of ``kind`` have, in table order."""
    return (p for p in LAYER_PROPERTIES.values() if p.applies_to(kind))


def settable(kind: str | None = None) -> dict[str, LayerProperty]:
    """Properties a client may set (on layers of ``kind``, or on any layer)."""
    return {p.name: p for p in LAYER_PROPERTIES.values()
            if p.settable and (kind is None or p.applies_to(kind))}


def per_client(kind: str) -> list[LayerProperty]:
    """The properties of a ``kind`` layer that each client has of its own."""
    return [p for p in properties_of(kind) if p.per_client]


#: each item's own values that may travel as an array in a payload (many points or
#: shapes), by
#: wire: the array's columns (a size: N values; a colour: N x 4, RGBA from 0 to 1) and
#: the values' bounds
ITEM_ARRAYS = {Wire.FLOATS: (1, 0.0, MAX_SIZE), Wire.COLORS: (4, 0.0, 1.0)}


def item_arrays(kind: str) -> dict[str, LayerProperty]:
    """The per-item properties of ``kind`` that may travel as arrays (``ITEM_ARRAYS``)."""
    return {p.name: p for p in properties_of(kind) if p.per_item and p.wire in ITEM_ARRAYS}


def initial_keywords(kind: str) -> dict[str, LayerProperty]:
    """``add_*`` keyword -> property, for a new layer of ``kind``."""
    return {p.initial: p for p in properties_of(kind) if p.initial is not None}


def validate_props(props: Any, op: str, kind: str | None = None) -> dict[str, Any]:
    """Check a ``props`` object of ``layer.set`` (any settable property) or of an
    ``add_*`` operation (``kind``: the new layer's initial keywords), returning clean
    values keyed by property name."""
    table = settable() if kind is None else {  # fixed ones too
        p.name: p for p in properties_of(kind) if p.initial is not None or p.per_item}
    if not isinstance(props, dict) or not props:
        raise v.fail(f"{op}: 'props' must be a non-empty object")
    unknown = sorted(set(props) - set(table))
    if unknown:
        raise v.fail(f"{op}: unknown layer propert{'ies' if len(unknown) > 1 else 'y'} "
                     f"{', '.join(unknown)}; allowed: {', '.join(sorted(table))}")
    out = {}
    for key, value in props.items():
        check = table[key].check
        assert check is not None  # ``settable`` and initial rows have one
        out[key] = check(value, key)
    return out


def _label_colormap(value: Any) -> dict[str, Any] | None:
    """A labels layer's colormap as the wire defines it (None: not one): napari's
    ``DirectLabelColormap`` ({label: colour}, None the default) or its
    ``CyclicLabelColormap`` (colours cycled through the labels, and a seed)."""
    background = int(getattr(value, "background_value", 0))
    if getattr(value, "color_dict", None) is not None:
        return {"labels": "direct", "background": background,
                "colors": sorted(([None if k is None else int(k), _hex(c)]
                                  for k, c in value.color_dict.items()),
                                 key=lambda kc: (kc[0] is not None, kc[0] or 0))}
    if getattr(value, "seed", None) is not None:
        return {"labels": "cyclic", "background": background, "seed": float(value.seed),
                "colors": [_hex(c) for c in np.asarray(value.colors, float)]}
    return None


def colormap_definition(colormap: Any) -> dict[str, Any]:
    """An image's napari ``Colormap`` defined, as the wire carries one that the other
    side may not know by name (one made from a file's LUT, or in a window): napari on
    either side makes it from this."""
    return {"name": str(colormap.name),
            "colors": np.asarray(colormap.colors, float).tolist(),
            "controls": np.asarray(colormap.controls, float).tolist(),
            "interpolation": str(colormap.interpolation)}


def is_colormap_definition(value: Any) -> bool:
    """Whether a colormap's wire value is an image's defined colormap (not a name, nor
    a labels layer's)."""
    return isinstance(value, dict) and "colors" in value and "labels" not in value


def label_colormap_arguments(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A labels colormap the wire defined, as napari's class name and its arguments
    (each side makes it with its napari)."""
    if value["labels"] == "direct":
        return "DirectLabelColormap", {
            "color_dict": {k: c for k, c in value["colors"]},
            "background_value": value["background"]}
    return "CyclicLabelColormap", {"colors": value["colors"], "seed": value["seed"],
                                   "background_value": value["background"]}


def _hex(color: Any) -> str:
    if isinstance(color, str):
        return color
    rgba = np.asarray(color, float).ravel()
    return "#" + "".join(f"{int(c * 255 + 0.5):02x}" for c in rgba[:4])


def _cell(value: Any) -> Any:
    """One value of a features table as JSON: a number, a string, a boolean or null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN: a missing value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # a categorical's category, a timestamp


MAX_PICTURE_BYTES = 1 << 16


def _picture(value: Any) -> dict[str, Any]:
    array = np.ascontiguousarray(value, dtype=np.uint8)
    return {"shape": [int(n) for n in array.shape],
            "zlib": base64.b64encode(zlib.compress(array.tobytes(), 6)).decode("ascii")}


def picture_from_wire(value: Any) -> np.ndarray:
    """A ``Wire.PICTURE`` value back to its array (refused when malformed or large)."""
    if not isinstance(value, dict) or not isinstance(value.get("zlib"), str):
        raise ValueError("a picture is {shape, zlib}")
    shape = tuple(int(n) for n in value.get("shape", ()))
    if len(shape) != 3 or int(np.prod(shape)) > MAX_PICTURE_BYTES or min(shape) < 1:
        raise ValueError(f"a picture of shape {shape} is refused")
    raw = zlib.decompressobj().decompress(base64.b64decode(value["zlib"]),
                                          MAX_PICTURE_BYTES + 1)
    if len(raw) != int(np.prod(shape)):
        raise ValueError(f"a picture of shape {shape} holds {len(raw)} bytes")
    return np.frombuffer(raw, np.uint8).reshape(shape).copy()


#: napari value -> wire value, per ``Wire`` kind (napari objects are duck-typed: this
#: package imports no napari). Going back, napari takes the wire value as it is, but for
#: the kinds in ``FROM_WIRE``.
TO_WIRE: dict[Wire, Callable[[Any], Any]] = {
    Wire.BOOL: bool,
    Wire.INT: lambda value: None if value is None else int(value),
    Wire.FLOAT: float,
    Wire.FLOATS: lambda value: [float(x) for x in np.asarray(value, float).ravel()],
    Wire.TEXT: str,
    Wire.COLORMAP: lambda value: _label_colormap(value) or str(value.name),
    Wire.COLOR: _hex,
    Wire.COLORS: lambda value: [_hex(row) for row in np.asarray(value, float).reshape(-1, 4)],
    Wire.TEXTS: lambda value: [str(x) for x in value],
    Wire.INTS: lambda value: sorted(int(i) for i in value),
    Wire.PICTURE: _picture,
    Wire.TABLE: lambda value: {str(name): [_cell(x) for x in value[name].tolist()]
                               for name in value.columns},
    # napari's ``affine`` is a transform object, its ``rotate`` an array
    Wire.MATRIX: lambda value: np.asarray(getattr(value, "affine_matrix", value),
                                          float).tolist(),
}
FROM_WIRE: dict[Wire, Callable[[Any], Any]] = {
    Wire.INTS: set,
    Wire.PICTURE: picture_from_wire,
}


def to_wire(prop: LayerProperty, value: Any) -> Any:
    """A layer's napari value of ``prop`` as the JSON value the wire carries."""
    return TO_WIRE[prop.wire](value)


def from_wire(prop: LayerProperty, value: Any) -> Any:
    """The napari value of ``prop`` that a wire value stands for."""
    convert = FROM_WIRE.get(prop.wire)
    return value if convert is None else convert(value)
