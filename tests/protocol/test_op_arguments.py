"""Every argument of every operation, at and past its bounds: the whole attack surface of
a session, table by table. A refusal names the argument, so a client can tell what to
fix."""

from __future__ import annotations

from typing import Any

import pytest

from napari_engine.protocol import ErrorCode, ProtocolError, validate_command_args
from napari_engine.protocol.ops import OPERATIONS, Op

ACCEPTED: list[tuple[str, dict[str, Any], bool, dict[str, Any]]] = [
    ("camera.set", {"center": [1, 2]}, False, {"center": [1.0, 2.0]}),
    ("camera.set", {"center": [1, 2, 3]}, False, {"center": [1.0, 2.0, 3.0]}),
    ("camera.set", {"zoom": 1e12}, False, {"zoom": 1e12}),
    ("camera.set", {"angles": [0, 90, -45]}, False, {"angles": [0.0, 90.0, -45.0]}),
    ("camera.set", {"perspective": 0}, False, {"perspective": 0.0}),
    ("camera.set", {"perspective": 179}, False, {"perspective": 179.0}),
    ("dims.set", {"current_step": [0, 5, 7]}, False, {"current_step": [0, 5, 7]}),
    ("dims.set", {"step": [31, 0]}, False, {"step": [31, 0]}),
    ("dims.set", {"ndisplay": 2}, False, {"ndisplay": 2}),
    ("dims.set", {"order": [2, 0, 1]}, False, {"order": [2, 0, 1]}),
    ("layer.remove", {"layer": 0}, False, {"layer": 0}),
    ("layer.move", {"layer": 3, "index": 10_000}, False, {"layer": 3, "index": 10_000}),
    ("layer.select", {"layers": []}, False, {"layers": []}),
    ("canvas.resize", {"width": 16, "height": 8192}, False, {"width": 16, "height": 8192}),
    ("canvas.resize", {"width": 16, "height": 2048, "pixel_ratio": 4}, False,
     {"width": 16, "height": 2048, "pixel_ratio": 4.0}),
    ("cursor.set", {"position": [1, 2.5]}, False, {"position": [1.0, 2.5]}),
    ("input.mouse", {"event": "move", "pos": [3, 4]}, False,
     {"event": "move", "pos": [3.0, 4.0], "button": 1, "modifiers": []}),
    ("input.mouse", {"event": "press", "pos": [0, 0], "button": 3,
                     "modifiers": ["Shift", "Meta"]}, False,
     {"event": "press", "pos": [0.0, 0.0], "button": 3, "modifiers": ["Shift", "Meta"]}),
    ("input.key", {"event": "release", "key": "Z", "modifiers": ["Control"], "text": "z"},
     False, {"event": "release", "key": "Z", "modifiers": ["Control"], "text": "z"}),
    ("input.key", {"event": "press", "key": "Escape"}, False,
     {"event": "press", "key": "Escape", "modifiers": [], "text": ""}),
    ("layer.add_points", {"data": [[1, 2], [3, 4]], "props": {"current_size": 3}}, False,
     {"data": [[1.0, 2.0], [3.0, 4.0]], "props": {"current_size": 3.0}}),
    ("layer.add_points", {"data": []}, False, {"data": []}),
    ("layer.add_shapes", {"data": [[[0, 0], [1, 1]]], "shape_type": ["line"]}, False,
     {"data": [[[0.0, 0.0], [1.0, 1.0]]], "shape_type": ["line"]}),
    ("layer.add_shapes", {"data": [[[0, 0], [1, 1]]]}, False,
     {"data": [[[0.0, 0.0], [1.0, 1.0]]], "shape_type": "rectangle"}),
    ("layer.add_shapes", {"data": [], "props": {"current_edge_width": 2,
                                                "current_edge_color": "red"}}, False,
     {"data": [], "shape_type": "rectangle",
      "props": {"current_edge_width": 2.0, "current_edge_color": "red"}}),
    ("layer.add_image", {"path": "/data/a.zarr", "props": {"colormap": "magma"}}, False,
     {"path": "/data/a.zarr", "props": {"colormap": "magma"}}),
    ("layer.add_labels", {"shape": [2, 3], "dtype": "int32", "props": {"opacity": 0.5}}, True,
     {"shape": [2, 3], "dtype": "int32", "nbytes": 24, "props": {"opacity": 0.5}}),
    ("layer.add_image", {"shape": [2, 3, 4], "dtype": "float64"}, True,
     {"shape": [2, 3, 4], "dtype": "float64", "nbytes": 192}),
    ("layer.add_image", {"shape": [2, 3], "dtype": "bool"}, True,
     {"shape": [2, 3], "dtype": "bool", "nbytes": 6}),
    ("view.reset", {}, False, {}),
    ("sync", {}, False, {}),
]


@pytest.mark.parametrize("op, args, payload, clean", ACCEPTED,
                         ids=[f"{a[0]}-{i}" for i, a in enumerate(ACCEPTED)])
def test_accepted_arguments_come_back_clean(op: str, args: dict[str, Any], payload: bool,
                                            clean: dict[str, Any]) -> None:
    assert validate_command_args(op, args, has_payload=payload) == clean


REFUSED: list[tuple[str, dict[str, Any], bool, str]] = [
    ("camera.set", {"center": [1]}, False, "'center'"),
    ("camera.set", {"center": [1, 2, 3, 4]}, False, "'center'"),
    ("camera.set", {"zoom": 1.1e12}, False, "'zoom'"),
    ("camera.set", {"angles": [0, 0]}, False, "'angles'"),
    ("camera.set", {"perspective": 180}, False, "'perspective'"),
    ("camera.set", {"perspective": -1}, False, "'perspective'"),
    ("dims.set", {"current_step": [0, "1"]}, False, "'current_step'"),
    ("dims.set", {"current_step": []}, False, "'current_step'"),
    ("dims.set", {"step": [32, 0]}, False, "'step axis'"),
    ("dims.set", {"step": [0, -1]}, False, "'step value'"),
    ("dims.set", {"step": [0, 1, 2]}, False, "'step'"),
    ("dims.set", {"step": "0,1"}, False, "'step'"),
    ("dims.set", {"ndisplay": True}, False, "'ndisplay'"),
    ("dims.set", {"order": [1, 2]}, False, "'order'"),
    ("dims.set", {"zoom": 1}, False, "zoom"),
    ("layer.set", {"layer": -1, "props": {"visible": True}}, False, "'layer'"),
    ("layer.set", {"props": {"visible": True}}, False, "'layer'"),
    ("layer.set", {"layer": 1}, False, "'props'"),
    ("layer.remove", {}, False, "'layer'"),
    ("layer.move", {"layer": 1}, False, "'index'"),
    ("layer.move", {"layer": 1, "index": 10_001}, False, "'index'"),
    ("layer.select", {"layers": [1, "2"]}, False, "'layers'"),
    ("layer.select", {"layers": 1}, False, "'layers'"),
    ("layer.select", {}, False, "'layers'"),
    ("canvas.resize", {"width": 15, "height": 100}, False, "'width'"),
    ("canvas.resize", {"width": 100, "height": 8193}, False, "'height'"),
    ("canvas.resize", {"width": 100}, False, "'height'"),
    ("canvas.resize", {"width": 100, "height": 100, "pixel_ratio": 0.5}, False,
     "'pixel_ratio'"),
    ("canvas.resize", {"width": 100, "height": 100, "pixel_ratio": 4.5}, False,
     "'pixel_ratio'"),
    ("canvas.resize", {"width": 100, "height": 2049, "pixel_ratio": 4}, False,
     "physical pixels"),
    ("cursor.set", {}, False, "'position'"),
    ("cursor.set", {"position": [float("nan")]}, False, "'position'"),
    ("input.mouse", {"event": "hover", "pos": [0, 0]}, False, "'event'"),
    ("input.mouse", {"pos": [0, 0]}, False, "'event'"),
    ("input.mouse", {"event": "press", "pos": [0]}, False, "'pos'"),
    ("input.mouse", {"event": "press"}, False, "'pos'"),
    ("input.mouse", {"event": "press", "pos": [0, 0], "button": 4}, False, "'button'"),
    ("input.mouse", {"event": "press", "pos": [0, 0], "modifiers": ["Hyper"]}, False,
     "'modifiers'"),
    ("input.mouse", {"event": "press", "pos": [0, 0], "modifiers": "Shift"}, False,
     "'modifiers'"),
    ("input.key", {"event": "press"}, False, "'key'"),
    ("input.key", {"event": "press", "key": "x" * 33}, False, "'key'"),
    ("input.key", {"event": "move", "key": "A"}, False, "'event'"),
    ("input.key", {"event": "press", "key": "A", "text": "x" * 9}, False, "'text'"),
    ("input.key", {"event": "press", "key": "A", "text": 1}, False, "'text'"),
    ("layer.add_points", {}, False, "'data'"),
    ("layer.add_points", {"data": [[1]]}, False, "'point'"),
    ("layer.add_points", {"data": [[1e308, 0, 0], [-1e308, 0, 0]]}, False, "'point'"),
    ("layer.add_points", {"data": [[0] * 13]}, False, "'point'"),
    ("layer.add_points", {"data": [], "ndim": 13}, False, "'ndim'"),
    ("layer.add_shapes", {"data": [[[0, 0], [1e13, 1]]]}, False, "'vertex'"),
    ("layer.add_labels", {"shape": [1] * 30 + [2, 2], "dtype": "uint8"}, True, "'shape'"),
    ("layer.add_image", {"shape": [1] * 11 + [2, 2], "dtype": "uint8"}, True, "'shape'"),
    ("layer.add_image", {"arrays": [{"shape": [1] * 13, "dtype": "uint8"}] * 2}, True,
     "'shape'"),
    ("camera.set", {"center": [1e13, 0]}, False, "'center'"),
    ("cursor.set", {"position": [0, 1e308]}, False, "'position'"),
    ("layer.add_points", {"data": [[1, 2], [1, 2, 3]]}, False, "same number"),
    ("layer.add_points", {"data": "points"}, False, "'data'"),
    ("layer.add_points", {"data": [[0, 0]] * 100_001}, False, "'data'"),
    ("layer.add_points", {"data": [], "props": {"colormap": "gray"}}, False, "colormap"),
    ("layer.add_shapes", {}, False, "'data'"),
    ("layer.add_shapes", {"data": [[[0, 0]]]}, False, "vertices"),
    ("layer.add_shapes", {"data": [[[0, 0]] * 10_001]}, False, "vertices"),
    ("layer.add_shapes", {"data": [[[0, 0], [1, 1]]] * 100_001}, False, "'data'"),
    ("layer.add_shapes", {"data": {"a": 1}}, False, "'data'"),
    ("layer.add_shapes", {"data": [], "props": {"current_size": 3}}, False, "current_size"),
    ("layer.add_shapes", {"data": [[[0, 0], [1, 1]]], "shape_type": "star"}, False,
     "'shape_type'"),
    ("layer.add_shapes", {"data": [[[0, 0], [1, 1]]], "shape_type": ["line", "path"]}, False,
     "'shape_type'"),
    ("layer.add_shapes", {"data": [[[0, 0], [1]]]}, False, "'vertex'"),
    ("layer.add_labels", {"shape": [2, 3], "dtype": "float32"}, True, "'dtype'"),
    ("layer.add_labels", {"shape": [2, 3], "dtype": "uint8"}, False, "binary payload"),
    ("layer.add_labels", {"shape": [2, 3], "dtype": "uint8", "path": "x"}, True, "path"),
    ("layer.add_image", {"shape": [2, 0], "dtype": "uint8"}, True, "'shape'"),
    ("layer.add_image", {"dtype": "uint8"}, True, "'shape'"),
    ("layer.add_image", {"shape": [2, 2]}, True, "'dtype'"),
    ("layer.add_image", {"path": "x" * 4097}, False, "'path'"),
    ("layer.add_image", {"path": "x", "props": {"mode": "paint"}}, False, "mode"),
    ("view.reset", {"now": True}, False, "now"),
    ("sync", {"x": 1}, False, "x"),
]


@pytest.mark.parametrize("op, args, payload, named", REFUSED,
                         ids=[f"{a[0]}-{i}" for i, a in enumerate(REFUSED)])
def test_refused_arguments_say_which(op: str, args: dict[str, Any], payload: bool,
                                     named: str) -> None:
    with pytest.raises(ProtocolError) as info:
        validate_command_args(op, args, has_payload=payload)
    assert info.value.code is ErrorCode.INVALID
    assert named in info.value.message, info.value.message


@pytest.mark.parametrize("op", [op for op in Op if op not in (
    Op.LAYER_ADD_IMAGE, Op.LAYER_ADD_LABELS, Op.LAYER_WRITE, Op.LAYER_ADD_VECTORS,
    Op.LAYER_ADD_TRACKS, Op.LAYER_ADD_SURFACE, Op.LAYER_SET_DATA, Op.LAYER_ADD_POINTS,
    Op.LAYER_SET_COORDINATES, Op.LAYER_ADD_SHAPES)])
def test_a_payload_is_refused_where_none_belongs(op: Op) -> None:
    with pytest.raises(ProtocolError) as info:
        OPERATIONS[op].validate({}, True)
    assert info.value.code is ErrorCode.MALFORMED and str(op) in info.value.message


def test_the_largest_point_and_shape_lists_pass() -> None:
    points = validate_command_args("layer.add_points", {"data": [[0, 0]] * 100_000},
                                   has_payload=False)
    assert len(points["data"]) == 100_000
    shapes = validate_command_args("layer.add_shapes", {"data": [[[0, 0]] * 10_000]},
                                   has_payload=False)
    assert len(shapes["data"][0]) == 10_000


def test_unknown_arguments_are_named_with_what_is_allowed() -> None:
    with pytest.raises(ProtocolError) as info:
        validate_command_args("canvas.resize", {"width": 20, "height": 20, "depth": 3},
                              has_payload=False)
    assert "depth" in info.value.message
    assert "allowed: height, pixel_ratio, width" in info.value.message


@pytest.mark.parametrize("first, second, merged", [
    ({"step": [0, 1]}, {"step": [0, 2]}, {"step": [0, 2]}),
    ({"step": [0, 1]}, {"step": [1, 2]}, None),
    ({"current_step": [1, 2]}, {"current_step": [3, 4]}, {"current_step": [3, 4]}),
    ({"current_step": [1, 2]}, {"step": [0, 2]}, None),
    ({"step": [0, 2]}, {"current_step": [1, 2]}, None),
    ({"ndisplay": 3}, {"step": [0, 2]}, None),
    ({"order": [1, 0]}, {"current_step": [0, 1]}, None),
    ({"step": [0, 2]}, {"ndisplay": 3}, None),  # napari reacts to the switch from the step
])
def test_dims_moves_merge_only_where_the_order_does_not_matter(
        first: dict[str, Any], second: dict[str, Any], merged: dict[str, Any] | None) -> None:
    merge = OPERATIONS[Op.DIMS_SET].merge
    assert merge is not None and merge(first, second) == merged


def test_a_write_needs_its_values_and_a_label_dtype() -> None:
    args = {"layer": 1, "region": [[0, 2, 1], [0, 3, 1]], "dtype": "uint8"}
    with pytest.raises(ProtocolError, match="binary payload"):
        validate_command_args(Op.LAYER_WRITE, args, has_payload=False)
    with pytest.raises(ProtocolError, match="'dtype'"):
        validate_command_args(Op.LAYER_WRITE, {**args, "dtype": "float32"}, has_payload=True)
    assert validate_command_args(Op.LAYER_WRITE, args, has_payload=True)["nbytes"] == 6


def test_arrays_in_one_payload_are_checked_and_sized() -> None:
    arrays = [{"shape": [4, 3], "dtype": "float64"}, {"shape": [2, 3], "dtype": "int64"}]
    args = validate_command_args(Op.LAYER_ADD_SURFACE, {"arrays": arrays}, has_payload=True)
    assert args["nbytes"] == 4 * 3 * 8 + 2 * 3 * 8
    with pytest.raises(ProtocolError, match="binary payload"):
        validate_command_args(Op.LAYER_ADD_SURFACE, {"arrays": arrays}, has_payload=False)
    with pytest.raises(ProtocolError, match="1 to 1"):
        validate_command_args(Op.LAYER_ADD_VECTORS, {"arrays": arrays}, has_payload=True)
    with pytest.raises(ProtocolError, match="dtype"):
        validate_command_args(Op.LAYER_ADD_IMAGE, {"arrays": [
            {"shape": [4, 4], "dtype": "complex128"}] * 2}, has_payload=True)


def test_a_listed_path_stays_below_its_folder() -> None:
    assert validate_command_args(Op.FILES_LIST, {}, has_payload=False) == {
        "root": 0, "path": ""}
    assert validate_command_args(Op.FILES_LIST, {"root": 1, "path": "a/b"},
                                 has_payload=False)["path"] == "a/b"
    for bad in ("../x", "/etc", "~/x", "a/../../b", "c:/x"):
        with pytest.raises(ProtocolError, match="path"):
            validate_command_args(Op.FILES_LIST, {"path": bad}, has_payload=False)


def test_many_points_travel_as_one_array() -> None:
    array = {"shape": [60_000, 3], "dtype": "float64"}
    out = validate_command_args("layer.add_points", {"arrays": [array]}, has_payload=True)
    assert out["nbytes"] == 60_000 * 3 * 8
    for bad in ({"shape": [10], "dtype": "float64"}, {"shape": [10, 1], "dtype": "float64"},
                {"shape": [10, 3], "dtype": "uint8"}, {"shape": [10**8, 2], "dtype": "float32"}):
        with pytest.raises(ProtocolError) as info:
            validate_command_args("layer.add_points", {"arrays": [bad]}, has_payload=True)
        assert info.value.code is ErrorCode.INVALID
    # each point's own sizes and colours: one array each, one row per point
    sizes, colours = {"shape": [60_000], "dtype": "float32"}, {"shape": [60_000, 4],
                                                               "dtype": "float64"}
    out = validate_command_args("layer.add_points", {
        "arrays": [array, sizes, colours], "items": {"size": 1, "face_color": 2}},
        has_payload=True)
    assert out["items"] == {"size": 1, "face_color": 2}
    assert out["nbytes"] == 60_000 * (3 * 8 + 4 + 4 * 8)
    for arrays, items in (([array, sizes], {}),  # an array nobody named
                          ([array, sizes], {"size": 2}),  # no such array
                          ([array, sizes], {"size": True}),
                          ([array, sizes], {"symbol": 1}),  # not an array's property
                          ([array, colours], {"size": 1}),  # not one value a point
                          ([array, {"shape": [59_999], "dtype": "float32"}], {"size": 1}),
                          ([array, sizes], []), ([array, sizes], {"size": "1"})):
        with pytest.raises(ProtocolError) as info:
            validate_command_args("layer.add_points", {"arrays": arrays, "items": items},
                                  has_payload=True)
        assert info.value.code is ErrorCode.INVALID
    with pytest.raises(ProtocolError):
        validate_command_args("layer.add_points", {
            "arrays": [array, sizes], "items": {"size": 1}, "props": {"size": [1.0]}},
            has_payload=True)


def test_many_points_replace_a_layers_coordinates_as_one_array() -> None:
    array = {"shape": [60_000, 2], "dtype": "float32"}
    out = validate_command_args(Op.LAYER_SET_COORDINATES, {"layer": 3, "arrays": [array]},
                                has_payload=True)
    assert out == {"layer": 3, "arrays": [array], "nbytes": 60_000 * 2 * 4}
    for bad in ({"layer": 3, "arrays": [array], "data": [[0, 0]]},  # both
                {"layer": 3, "arrays": [array, array]},
                {"layer": 3, "arrays": [{"shape": [10], "dtype": "float32"}]}):
        with pytest.raises(ProtocolError):
            validate_command_args(Op.LAYER_SET_COORDINATES, bad, has_payload=True)


def test_many_shapes_travel_as_arrays() -> None:
    vertices = {"shape": [4000, 2], "dtype": "float64"}
    counts, types = {"shape": [1000], "dtype": "int64"}, {"shape": [1000], "dtype": "uint8"}
    colours = {"shape": [1000, 4], "dtype": "float32"}
    out = validate_command_args(Op.LAYER_ADD_SHAPES, {
        "arrays": [vertices, counts, types, colours], "items": {"face_color": 3}},
        has_payload=True)
    assert out["count"] == 1000 and out["items"] == {"face_color": 3}
    assert out["nbytes"] == 4000 * 2 * 8 + 1000 * 8 + 1000 + 1000 * 4 * 4
    for arrays in ([vertices, counts],  # no types
                   [vertices, counts, {"shape": [999], "dtype": "uint8"}],  # not one a shape
                   [vertices, {"shape": [1000], "dtype": "float32"}, types],
                   [{"shape": [4000, 2], "dtype": "int64"}, counts, types],
                   [{"shape": [4000], "dtype": "float64"}, counts, types],
                   [{"shape": [3_000_000, 2], "dtype": "float32"}, counts, types]):
        with pytest.raises(ProtocolError) as info:
            validate_command_args(Op.LAYER_ADD_SHAPES, {"arrays": arrays}, has_payload=True)
        assert info.value.code is ErrorCode.INVALID
    with pytest.raises(ProtocolError):  # a point's size is no shape's
        validate_command_args(Op.LAYER_ADD_SHAPES, {
            "arrays": [vertices, counts, types, {"shape": [1000], "dtype": "float32"}],
            "items": {"size": 3}}, has_payload=True)
    out = validate_command_args(Op.LAYER_SET_COORDINATES, {
        "layer": 2, "arrays": [vertices, counts, types]}, has_payload=True)
    assert out["count"] == 1000
