"""Each named operation accepts exactly its documented arguments."""

from __future__ import annotations

from typing import Any

import pytest

from napari_engine.protocol import OPERATIONS, ErrorCode, ProtocolError, validate_command_args


def _ok(op: str, args: dict[str, Any], payload: bool = False) -> dict[str, Any]:
    return validate_command_args(op, args, has_payload=payload)


def _bad(op: str, args: dict[str, Any], payload: bool = False,
         code: ErrorCode = ErrorCode.INVALID) -> str:
    with pytest.raises(ProtocolError) as info:
        validate_command_args(op, args, has_payload=payload)
    assert info.value.code is code, info.value.message
    return info.value.message


def test_operation_table_is_closed() -> None:
    assert set(OPERATIONS) == {"camera.set", "dims.set", "layer.set", "layer.add_image",
                               "layer.remove", "layer.move", "layer.select", "canvas.resize",
                               "cursor.set", "input.mouse", "input.key",
                               "layer.add_labels", "layer.add_points", "layer.add_shapes",
                               "view.reset", "screenshot", "sync", "overlay.set",
                               "layer.data_range", "layer.new_labels", "layer.save",
                               "layer.histogram", "layer.read", "layer.write",
                               "layer.add_vectors", "layer.add_tracks", "layer.add_surface",
                               "layer.set_data", "files.list",
                               "layer.set_coordinates", "view.own"}


def test_the_registry_says_which_merge_and_which_need_an_id() -> None:
    assert {str(op) for op, spec in OPERATIONS.items() if spec.coalesces} == {
        "camera.set", "dims.set", "canvas.resize", "cursor.set"}
    assert {str(op) for op, spec in OPERATIONS.items() if spec.needs_id} == {
        "screenshot", "sync", "layer.data_range", "layer.histogram", "layer.read",
        "files.list"}


def test_data_range_takes_a_layer_and_a_mode() -> None:
    assert _ok("layer.data_range", {"layer": 3}) == {"layer": 3, "mode": "data"}
    assert _ok("layer.data_range", {"layer": 3, "mode": "slice"})["mode"] == "slice"
    assert "mode" in _bad("layer.data_range", {"layer": 3, "mode": "everything"})
    _bad("layer.data_range", {"mode": "slice"})


def test_overlay_set_takes_the_fields_of_the_overlay_table() -> None:
    assert _ok("overlay.set", {"overlay": "scale_bar", "props": {
        "visible": True, "font_size": 12, "color": "#ff0000ff", "box_color": None,
        "length": None}}) == {"overlay": "scale_bar", "props": {
            "visible": True, "font_size": 12, "color": "#ff0000ff", "box_color": None,
            "length": None}}
    assert _ok("overlay.set", {"overlay": "text", "props": {"text": ""}})["props"] == {
        "text": ""}
    assert "allowed" in _bad("overlay.set", {"overlay": "text", "props": {"ticks": True}})
    assert "one of" in _bad("overlay.set", {"overlay": "_brush_circle",
                                            "props": {"visible": True}})
    _bad("overlay.set", {"overlay": "scale_bar", "props": {}})
    _bad("overlay.set", {"overlay": "scale_bar", "props": {"visible": 1}})
    _bad("overlay.set", {"overlay": "scale_bar", "props": {"color": None}})  # not nullable
    _bad("overlay.set", {"overlay": "scale_bar", "props": {"font_size": 0}})
    _bad("overlay.set", {"overlay": "scale_bar", "props": {"length": 0}})
    _bad("overlay.set", {"overlay": "axes", "props": {"opacity": 1.5}})
    _bad("overlay.set", {"overlay": "text", "props": {"text": "x" * 5000}})
    _bad("overlay.set", {"overlay": "text"})


def test_camera_set() -> None:
    assert _ok("camera.set", {"zoom": 1, "angles": [0, 1, 2], "perspective": 30}) == {
        "zoom": 1.0, "angles": [0.0, 1.0, 2.0], "perspective": 30.0}
    _bad("camera.set", {})
    _bad("camera.set", {"zoom": 0})
    _bad("camera.set", {"zoom": True})
    _bad("camera.set", {"center": [1]})
    assert "unknown argument" in _bad("camera.set", {"__class__": 1})


def test_dims_set() -> None:
    assert _ok("dims.set", {"step": [0, 5], "ndisplay": 3}) == {"step": [0, 5], "ndisplay": 3}
    _bad("dims.set", {"ndisplay": 4})
    _bad("dims.set", {"order": [0, 0, 1]})
    _bad("dims.set", {"current_step": [-1, 2]})
    _bad("dims.set", {"step": [0]})


def test_layer_set() -> None:
    out = _ok("layer.set", {"layer": 2, "props": {"opacity": 0.5, "contrast_limits": [0, 10],
                                                  "colormap": "magma", "visible": False}})
    assert out["props"]["contrast_limits"] == [0.0, 10.0]
    _bad("layer.set", {"layer": 2, "props": {"opacity": 2}})
    _bad("layer.set", {"layer": 2, "props": {"contrast_limits": [5, 1]}})
    _bad("layer.set", {"layer": 2, "props": {"data": [1, 2]}})
    _bad("layer.set", {"layer": 2, "props": {}})
    _bad("layer.set", {"layer": "2", "props": {"visible": True}})
    _bad("layer.set", {"layer": 2, "props": {"gamma": 0}})


def test_add_image_from_path_or_array() -> None:
    assert _ok("layer.add_image", {"path": "/data/x.zarr", "props": {"name": "x"}}) == {
        "path": "/data/x.zarr", "props": {"name": "x"}}
    out = _ok("layer.add_image", {"shape": [4, 5], "dtype": "uint16"}, payload=True)
    assert out["nbytes"] == 40
    _bad("layer.add_image", {"shape": [4, 5], "dtype": "object"}, payload=True)
    _bad("layer.add_image", {"shape": [4, 5], "dtype": "uint8", "path": "x"}, payload=True)
    _bad("layer.add_image", {})
    _bad("layer.add_image", {"shape": [4], "dtype": "uint8"}, payload=True)


def test_payload_refused_where_not_expected() -> None:
    _bad("camera.set", {"zoom": 1}, payload=True, code=ErrorCode.MALFORMED)


def test_small_operations() -> None:
    assert _ok("canvas.resize", {"width": 640, "height": 480}) == {"width": 640, "height": 480}
    _bad("canvas.resize", {"width": 10**6, "height": 480})
    assert _ok("screenshot", {}) == {}
    assert _ok("screenshot", {"encoding": "png"}) == {"encoding": "png"}
    _bad("screenshot", {"path": "/etc/passwd"})
    _bad("screenshot", {"encoding": "jpeg"})
    assert _ok("layer.move", {"layer": 1, "index": 0}) == {"layer": 1, "index": 0}
    assert _ok("layer.select", {"layers": [1, 2]}) == {"layers": [1, 2]}


def test_save_takes_a_file_name_under_the_save_directory() -> None:
    assert _ok("layer.save", {"layers": [1, 2], "path": "run 3/labels.tif"}) == {
        "layers": [1, 2], "path": "run 3/labels.tif"}
    for path in ("/etc/passwd", "../x.tif", "a/../../x.tif", "~/x.tif", "C:\\x.tif", "a//b",
                 ""):
        _bad("layer.save", {"layers": [1], "path": path})
    _bad("layer.save", {"layers": [], "path": "x.tif"})
