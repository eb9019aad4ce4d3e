"""A layer made on the client, as the command that makes it on the server."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from napari.layers import Image, Points, Shapes, Surface, Vectors

from napari_engine.client.uploads import layer_command
from napari_engine.protocol import Op, validate_command_args


def test_each_layer_kind_becomes_a_valid_command() -> None:
    image = Image(np.arange(12, dtype=np.uint16).reshape(3, 4), name="img", colormap="red",
                  rotate=30, axis_labels=("row", "col"))
    op, args, payload = layer_command(image)
    assert op is Op.LAYER_ADD_IMAGE and payload == image.data.tobytes()
    clean = validate_command_args(op, args, has_payload=True)
    assert clean["props"]["axis_labels"] == ["row", "col"]
    assert clean["props"]["colormap"]["name"] == "red"  # defined: the server may not know it
    assert len(clean["props"]["rotate"]) == 2
    multiscale = Image([np.zeros((8, 8)), np.zeros((4, 4))], multiscale=True)
    op, args, payload = layer_command(multiscale)
    assert [a["shape"] for a in args["arrays"]] == [[8, 8], [4, 4]] and len(payload) == 80 * 8
    points = Points(np.array([[1.0, 2.0]]), features={"kind": ["a"]})
    op, args, payload = layer_command(points)
    assert payload is None and args["props"]["features"] == {"kind": ["a"]}
    for layer, expected in ((Vectors(np.zeros((2, 2, 2))), Op.LAYER_ADD_VECTORS),
                            (Surface((np.zeros((3, 2)), np.array([[0, 1, 2]]))),
                             Op.LAYER_ADD_SURFACE)):
        op, args, payload = layer_command(layer)
        assert op is expected
        validate_command_args(op, args, has_payload=True)


def test_a_huge_lazy_layer_is_refused_before_a_voxel_is_read() -> None:
    computed: list[object] = []

    def block(chunk: np.ndarray) -> np.ndarray:
        computed.append(chunk.shape)
        return chunk

    huge = da.zeros((600, 1024, 1024), dtype=np.uint16, chunks=(1, 1024, 1024))
    layer = Image(huge.map_blocks(block, dtype=np.uint16), contrast_limits=(0, 1))
    computed.clear()  # napari read the plane it shows
    with pytest.raises(NotImplementedError, match="open its data on the server"):
        layer_command(layer)  # 1.2 GB: more than one message carries
    assert computed == []


def test_many_points_go_as_an_array_unless_their_own_values_would_not_fit_its_header(
        ) -> None:
    rng = np.random.default_rng(0)
    alike = Points(rng.random((3000, 2)) * 100, face_color="red")
    op, args, payload = layer_command(alike)
    assert op is Op.LAYER_ADD_POINTS and payload is not None
    assert args["props"]["face_color"] == ["#ff0000ff"]  # one for all
    validate_command_args(op, args, has_payload=True)
    # each point's own sizes and colours: arrays after the points'
    varied = Points(rng.random((3000, 2)) * 100, face_color=rng.random((3000, 4)),
                    size=rng.random(3000) + 1)
    op, args, payload = layer_command(varied)
    assert payload is not None and args["items"] == {"size": 1, "face_color": 2}
    assert [a["shape"] for a in args["arrays"]] == [[3000, 2], [3000], [3000, 4]]
    clean = validate_command_args(op, args, has_payload=True)
    assert len(payload) == clean["nbytes"]
    # each point's own symbol stays JSON: past the header's room, the points go as JSON
    symbols = rng.choice(["disc", "square", "diamond", "cross"], 6000)
    symbolic = Points(rng.random((6000, 2)) * 100, symbol=symbols, size=rng.random(6000))
    op, args, payload = layer_command(symbolic)
    assert payload is None and len(args["data"]) == len(args["props"]["symbol"]) == 6000
    assert len(args["props"]["size"]) == 6000
    validate_command_args(op, args, has_payload=False)
    # more than JSON carries: said, not dropped
    many = Points(rng.random((100_001, 2)), symbol=rng.choice(["disc", "square"], 100_001))
    with pytest.raises(NotImplementedError, match="own symbol"):
        layer_command(many)


def test_many_shapes_go_as_arrays_with_their_own_colours() -> None:
    rng = np.random.default_rng(2)
    corners = rng.random((300, 2)) * 100
    square = np.array([[0.0, 0.0], [5.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    boxes = [corner + square for corner in corners]
    lines = [np.array([[0.0, 0.0], [10.0, 10.0]])] * 2
    layer = Shapes([*boxes, *lines], shape_type=["rectangle"] * 300 + ["line"] * 2,
                   face_color=rng.random((302, 4)), edge_width=2)
    op, args, payload = layer_command(layer)
    assert op is Op.LAYER_ADD_SHAPES and payload is not None
    assert [a["shape"] for a in args["arrays"]] == [[1204, 2], [302], [302], [302, 4]]
    assert args["items"] == {"face_color": 3} and args["props"]["edge_width"] == [2.0]
    clean = validate_command_args(op, args, has_payload=True)
    assert clean["count"] == 302 and len(payload) == clean["nbytes"]
    few = Shapes([boxes[0]], shape_type="rectangle")
    op, args, payload = layer_command(few)
    assert payload is None and args["shape_type"] == ["rectangle"]
