"""The layer-property table: validation, conversion and who may set what derive from it."""

from __future__ import annotations

from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from napari_engine.protocol import LAYER_PROPERTIES, ErrorCode, LayerKind, ProtocolError
from napari_engine.protocol.properties import (
    initial_keywords,
    properties_of,
    settable,
    to_wire,
    validate_props,
)


class Blending(StrEnum):
    """Like napari's string enums: ``str()`` is the value."""

    ADDITIVE = "additive"


def test_every_layer_kind_has_the_common_properties() -> None:
    for kind in LayerKind:
        names = {p.name for p in properties_of(kind)}
        assert {"name", "visible", "opacity", "blending", "scale", "mode"} <= names
    # a layer type the client does not mirror still has the common ones
    assert {p.name for p in properties_of("vectors")} >= {"name", "visible", "opacity"}
    assert "colormap" not in {p.name for p in properties_of("vectors")}


def test_kind_specific_properties_stay_with_their_kind() -> None:
    assert "colormap" in settable(LayerKind.IMAGE)
    assert "colormap" not in settable(LayerKind.POINTS)
    assert "selected_label" in settable(LayerKind.LABELS)
    assert "current_size" in settable(LayerKind.POINTS)
    assert "selected_data" not in settable()  # read-only: the server's alone
    assert not LAYER_PROPERTIES["contrast_limits_range"].settable


def test_add_keywords_are_napari_keywords() -> None:
    points = initial_keywords(LayerKind.POINTS)
    assert points["size"].name == "current_size" and points["face_color"].name == (
        "current_face_color")
    assert "mode" not in initial_keywords(LayerKind.IMAGE)
    assert initial_keywords(LayerKind.IMAGE)["contrast_limits"].name == "contrast_limits"


def test_validation_by_the_table() -> None:
    assert validate_props({"opacity": 1, "colormap": "magma"}, "layer.set") == {
        "opacity": 1.0, "colormap": "magma"}
    assert validate_props({"current_size": 3}, "op", LayerKind.POINTS) == {"current_size": 3.0}
    for bad in ({"opacity": 1.5}, {"selected_data": [1]}, {"gamma": 0}, {}, [],
                {"contrast_limits": [5, 1]}, {"brush_size": True}):
        with pytest.raises(ProtocolError) as info:
            validate_props(bad, "layer.set")
        assert info.value.code is ErrorCode.INVALID
    with pytest.raises(ProtocolError, match="colormap"):
        validate_props({"colormap": "gray"}, "op", LayerKind.POINTS)  # not a points keyword


@pytest.mark.parametrize("name, value, wire", [
    ("opacity", np.float32(0.5), 0.5),
    ("visible", np.bool_(True), True),
    ("selected_label", np.int64(7), 7),
    ("scale", np.array([1.0, 2.0]), [1.0, 2.0]),
    ("contrast_limits", (0, 255), [0.0, 255.0]),
    ("colormap", SimpleNamespace(name="magma"), "magma"),
    ("current_face_color", np.array([1.0, 0.0, 0.0, 1.0]), "#ff0000ff"),
    ("current_face_color", "red", "red"),
    ("units", ("micrometer", "pixel"), ["micrometer", "pixel"]),
    ("selected_data", {3, 1}, [1, 3]),
    ("blending", Blending.ADDITIVE, "additive"),
    ("current_size", np.array(10.0), 10.0),
])
def test_napari_values_become_plain_json(name: str, value: Any, wire: Any) -> None:
    converted = to_wire(LAYER_PROPERTIES[name], value)
    assert converted == wire
    assert type(converted) is type(wire)


@pytest.mark.parametrize("name, accepted, refused", [
    ("opacity", [0, 1], [-0.01, 1.01]),
    ("gamma", [0.001, 100], [0, 100.1]),
    ("attenuation", [0, 1e9], [-1, 1.1e9]),
    ("brush_size", [0.5, 10_000], [0, 10_001]),
    ("contour", [0, 1000], [-1, 1001, 1.5]),
    ("selected_label", [0, 2**31], [-1, 2**31 + 1]),
    ("current_size", [0, 1e9], [-1, 2e9]),
    ("current_edge_width", [0, 1e9], [-0.5, 2e9]),
    ("iso_threshold", [-1e9, 1e9], [float("inf"), "1"]),
    ("visible", [True, False], [0, "yes"]),
    ("name", ["a", "x" * 256], ["", "x" * 257, 3]),
    ("colormap", ["viridis", "x" * 64], ["x" * 65, ""]),
    ("scale", [[1.0], [1.0] * 32, [1e-12, -1e12]], [[], [1.0] * 33, [0, "1"], [0.0],
                                                    [1e13], [1e-13], [1e308]]),
    ("translate", [[-1e12, 1e12], [0.0] * 32], [[1e308, 0], [1e13], [float("nan")]]),
    ("rotate", [[[1e12]]], [[[1e308]], [[1, 0], [0, 1e13]]]),
    ("contrast_limits", [[0, 1], [-5, 5.5]], [[1, 1], [2, 1], [0, 1, 2]]),
])
def test_each_property_check_at_its_bounds(name: str, accepted: list[Any],
                                           refused: list[Any]) -> None:
    for value in accepted:
        assert validate_props({name: value}, "layer.set")[name] is not None
    for value in refused:
        with pytest.raises(ProtocolError, match=f"'{name}'"):
            validate_props({name: value}, "layer.set")


def test_the_table_names_its_add_keywords() -> None:
    assert LAYER_PROPERTIES["opacity"].initial == "opacity"
    assert LAYER_PROPERTIES["current_size"].initial == "size"
    assert LAYER_PROPERTIES["mode"].initial is None
    assert LAYER_PROPERTIES["thumbnail"].check is None  # the server's alone
    rgb = LAYER_PROPERTIES["rgb"]  # given when a layer is made, never set after
    assert rgb.initial == "rgb" and rgb.fixed and not rgb.settable
    assert validate_props({"rgb": True}, "layer.add_image", "image") == {"rgb": True}
    with pytest.raises(ProtocolError, match="unknown layer property rgb"):
        validate_props({"rgb": True}, "layer.set")
    rotate = validate_props({"rotate": [[0, -1], [1, 0]]}, "layer.set")["rotate"]
    assert rotate == [[0.0, -1.0], [1.0, 0.0]]
    with pytest.raises(ProtocolError, match="square matrix"):
        validate_props({"affine": [[1, 0], [0]]}, "layer.set")
