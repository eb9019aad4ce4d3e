"""The canvas-overlay table: napari's viewer overlays that the server draws into its
picture, and which of their fields cross the wire.

napari draws a scale bar, a text box, the axes and the current slice over the canvas
(``viewer.canvas.overlays``). The client's window paints the server's picture, so these
are drawn where the picture is made: their fields travel like layer properties (the
``overlay.set`` operation one way, the state's ``overlays`` section the other) and the
server's napari draws them exactly as napari does. The overlays that follow the pointer
as it moves (the labels brush circle, the zoom box) are not here: the window draws
those itself, with no round trip.

The canvas's grid mode (``viewer.canvas.grid``: layers side by side) travels the same
way, as the row ``grid`` (``model_of`` finds it).

Adding a field: a row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from napari_engine.protocol import validate as v
from napari_engine.protocol.properties import TO_WIRE, Wire

Check = Callable[[Any, str], Any]
MAX_OVERLAY_TEXT = 4096


@dataclass(frozen=True, slots=True)
class OverlayField:
    """One field of one overlay."""

    name: str
    wire: Wire
    check: Check
    #: None is a value (napari's "automatic": a colour that follows the theme)
    nullable: bool = False


def _size(hi: float) -> Check:
    return lambda value, key: v.number(value, key, lo=0.0, hi=hi, lo_open=True)


def _unit_interval(value: Any, key: str) -> float:
    return v.number(value, key, lo=0.0, hi=1.0)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_OVERLAY_TEXT:
        raise v.fail(f"'{key}' must be a string of at most {MAX_OVERLAY_TEXT} characters")
    return value


def _font_size(value: Any, key: str) -> int:
    return v.integer(value, key, lo=1, hi=500)


#: what every canvas overlay has
_COMMON = (
    OverlayField("visible", Wire.BOOL, v.boolean),
    OverlayField("opacity", Wire.FLOAT, _unit_interval),
    OverlayField("position", Wire.TEXT, v.enum_text),
    OverlayField("box", Wire.BOOL, v.boolean),
    OverlayField("box_color", Wire.COLOR, v.enum_text, nullable=True),
)

OVERLAYS: dict[str, tuple[OverlayField, ...]] = {
    "scale_bar": (*_COMMON,
                  OverlayField("colored", Wire.BOOL, v.boolean),
                  OverlayField("color", Wire.COLOR, v.enum_text),
                  OverlayField("ticks", Wire.BOOL, v.boolean),
                  OverlayField("font_size", Wire.INT, _font_size),
                  OverlayField("length", Wire.FLOAT, _size(1e18), nullable=True)),
    "text": (*_COMMON,
             OverlayField("color", Wire.COLOR, v.enum_text, nullable=True),
             OverlayField("font_size", Wire.INT, _font_size),
             OverlayField("text", Wire.TEXT, _text)),
    "current_slice": (*_COMMON,
                      OverlayField("color", Wire.COLOR, v.enum_text, nullable=True),
                      OverlayField("font_size", Wire.INT, _font_size)),
    "axes": (*_COMMON,
             OverlayField("labels", Wire.BOOL, v.boolean),
             OverlayField("colored", Wire.BOOL, v.boolean),
             OverlayField("dashed", Wire.BOOL, v.boolean),
             OverlayField("arrows", Wire.BOOL, v.boolean),
             OverlayField("size", Wire.INT, lambda value, key: v.integer(value, key, lo=1,
                                                                          hi=10_000))),
}


def _grid_shape(value: Any, key: str) -> list[float]:
    rows_columns = v.numbers(value, key, min_len=2, max_len=2)
    if not all(x == int(x) and -1 <= x <= 1000 for x in rows_columns):
        raise v.fail(f"'{key}' must be [rows, columns], whole numbers (-1: automatic)")
    return rows_columns


def _grid_stride(value: Any, key: str) -> int:
    stride = v.integer(value, key, lo=-50, hi=50)
    if stride == 0:
        raise v.fail(f"'{key}' must not be 0")
    return stride


OVERLAYS["grid"] = (  # not an overlay: the canvas's grid mode (``model_of``)
    OverlayField("enabled", Wire.BOOL, v.boolean),
    OverlayField("stride", Wire.INT, _grid_stride),
    OverlayField("shape", Wire.FLOATS, _grid_shape),
    OverlayField("spacing", Wire.FLOAT, lambda value, key: v.number(value, key, lo=0.0,
                                                                    hi=1e6)),
)


def model_of(canvas: Any, name: str) -> Any:
    """The napari model of a row of the table on a viewer's ``canvas``: an overlay, or
    the grid."""
    return canvas.grid if name == "grid" else canvas.overlays[name]


#: napari's overlays that follow the pointer: each window draws its own (at once, and
#: only its own pointer's), so the server never draws them into the shared picture
POINTER_OVERLAYS = ("_brush_circle", "_zoom_box")


def fields_of(overlay: str) -> dict[str, OverlayField]:
    return {f.name: f for f in OVERLAYS[overlay]}


def overlay_to_wire(field: OverlayField, value: Any) -> Any:
    """A napari overlay field's value as the JSON value the wire carries."""
    if value is None and field.nullable:
        return None
    return TO_WIRE[field.wire](value)


def validate_overlay_set(args: dict[str, Any], op: str) -> dict[str, Any]:
    """``{"overlay": name, "props": {field: value}}``, checked against the table."""
    name = v.require(args, "overlay", op)
    if name not in OVERLAYS:
        raise v.fail(f"{op}: 'overlay' must be one of {', '.join(OVERLAYS)}")
    props = v.require(args, "props", op)
    if not isinstance(props, dict) or not props:
        raise v.fail(f"{op}: 'props' must be a non-empty object")
    table = fields_of(name)
    unknown = sorted(set(props) - set(table))
    if unknown:
        raise v.fail(f"{op}: {name} has no field {', '.join(unknown)}; "
                     f"allowed: {', '.join(table)}")
    clean = {}
    for key, value in props.items():
        field = table[key]
        clean[key] = None if value is None and field.nullable else field.check(value, key)
    return {"overlay": name, "props": clean}
