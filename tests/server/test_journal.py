"""Edits are never lost: a server killed in the middle of a brush stroke and restarted
with the same command line restores every edit it had acknowledged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile

from napari_engine.protocol import encode_binary
from napari_engine.server.journal import Journal
from napari_engine.server.process import ServerProcess
from tests.server.wire import RawClient


def _save_labels(client: RawClient, layer_id: int, name: str, cid: int) -> None:
    reply = client.command("layer.save", {"layers": [layer_id], "path": name}, cid=cid)
    assert reply["type"] == "reply", reply


def test_a_killed_server_restores_every_acknowledged_edit(tmp_path: Path) -> None:
    volume = np.zeros((3, 64, 64), np.uint16)
    volume[:, 10:50, 10:50] = 500
    data = tmp_path / "volume.tif"
    tifffile.imwrite(data, volume, photometric="minisblack")
    saved = tmp_path / "saved"
    args = ["--token", "t", "--size", "320x240", "--data", str(data),
            "--journal-dir", str(tmp_path / "journal"), "--save-dir", str(saved)]
    first = ServerProcess(args)
    first.start()
    client = RawClient(first.url)
    labels = client.command("layer.new_labels", {}, cid=1)["result"]["layers"][0]
    client.command("layer.set", {"layer": labels, "props": {
        "mode": "paint", "selected_label": 7, "brush_size": 6, "name": "cells"}}, cid=2)
    points = client.command("layer.add_points", {"data": [[1.0, 20.0, 30.0]]},
                            cid=3)["result"]["layers"][0]
    client.command("layer.set", {"layer": points, "props": {"visible": False}}, cid=4)
    client.command("layer.select", {"layers": [labels]}, cid=50)  # the brush's layer
    client.command("input.mouse", {"event": "press", "pos": [120, 100], "button": 1,
                                   "modifiers": []}, cid=5)
    for i, x in enumerate(range(125, 200, 5)):  # a stroke, each move acknowledged
        client.command("input.mouse", {"event": "move", "pos": [x, 100], "button": 1,
                                       "modifiers": []}, cid=6 + i)
    # a script's ``labels.data[0, :4, :4] = 3`` (binary values, acknowledged)
    client.send(encode_binary({"type": "command", "id": 90, "op": "layer.write", "args": {
        "layer": labels, "region": [[0, 1, 1], [0, 4, 1], [0, 4, 1]], "dtype": "uint8"}},
        np.full((1, 4, 4), 3, np.uint8).tobytes()))
    assert client.expect("reply", id=90)
    _save_labels(client, labels, "before.tif", 100)
    first.proc.kill()  # SIGKILL in the middle of the stroke: no release, no clean exit
    first.proc.wait(10)
    first.stop()
    client.close()

    with ServerProcess(args) as second:
        again = RawClient(second.url)
        state = again.welcome["state"]
        layers = {layer["id"]: layer for layer in state["layers"]}
        assert layers[labels]["name"] == "cells" and layers[labels]["selected_label"] == 7
        assert layers[points]["data"] == [[1.0, 20.0, 30.0]]
        assert layers[points]["visible"] is False
        _save_labels(again, labels, "after.tif", 1)
        before, after = (tifffile.imread(saved / n) for n in ("before.tif", "after.tif"))
        assert (before == 7).sum() > 100  # the stroke painted something
        assert (before[0, :4, :4] == 3).all()  # and the script wrote
        np.testing.assert_array_equal(after, before)
        again.close()


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "s")
    journal.record("layer.set", {"layer": 1, "props": {"opacity": 0.5}}, None)
    journal.record("layer.add_image", {"shape": [2], "dtype": "uint8", "nbytes": 2},
                   b"\x01\x02")
    journal.close()
    with open(tmp_path / "s" / "commands.jsonl", "ab") as log:
        log.write(json.dumps({"op": "layer.set", "args": {"layer": 1}}).encode()[:20])
    entries = list(Journal(tmp_path / "s").entries())
    assert [e.op for e in entries] == ["layer.set", "layer.add_image"]
    assert entries[1].payload == b"\x01\x02"
    # a server restarted on it journals on after the cut line, not onto it
    again = Journal(tmp_path / "s")
    again.record("layer.add_image", {"shape": [1], "dtype": "uint8", "nbytes": 1}, b"\x03")
    again.close()
    entries = list(Journal(tmp_path / "s").entries())
    assert [e.op for e in entries] == ["layer.set", "layer.add_image", "layer.add_image"]
    assert [e.payload for e in entries[1:]] == [b"\x01\x02", b"\x03"]


def test_a_journal_that_cannot_be_written_is_reported_and_given_up(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from napari_engine.protocol import Command, Op
    from napari_engine.server import commands

    class FullDisk(Journal):
        def record(self, op: str, args: dict[str, object], payload: object) -> None:
            raise OSError(28, "No space left on device")

    told: list[object] = []
    session = SimpleNamespace(name="s", journal=FullDisk(tmp_path / "s"),
                              tell_all=told.append)
    commands._journal(session, Command(op=Op.LAYER_SET, args={}))  # type: ignore[arg-type]
    assert session.journal is None  # the session goes on, unjournaled
    assert len(told) == 1 and "No space left" in told[0].message  # type: ignore[attr-defined]


def test_every_layer_kind_and_replaced_data_come_back(tmp_path: Path) -> None:
    """Layers made from arrays a client sent (vectors, a surface, a multiscale image)
    and data replaced whole are journaled with their payloads."""
    import napari_engine

    args = ["--token", "t", "--size", "200x150", "--empty",
            "--journal-dir", str(tmp_path / "journal")]
    vectors = np.array([[[1.0, 1.0], [3.0, 0.0]], [[5.0, 5.0], [0.0, 2.0]]])
    surface = (np.array([[0.0, 0.0], [0.0, 9.0], [9.0, 0.0]]), np.array([[0, 1, 2]]))
    levels = [np.arange(64, dtype=np.uint8).reshape(8, 8), np.zeros((4, 4), np.uint8)]
    with ServerProcess(args) as first:
        viewer = napari_engine.connect(first.url, stream="none")
        viewer.add_vectors(vectors, name="flow")
        viewer.add_surface(surface, name="mesh")
        viewer.add_image(levels, multiscale=True, name="pyramid")
        image = viewer.add_image(np.zeros((6, 6), np.uint16), name="replaced")
        image.data = np.full((5, 7), 9, np.uint16)
        viewer.sync()
        viewer.close()
    with ServerProcess(args) as second:
        again = napari_engine.connect(second.url, stream="none")
        try:
            assert [x.name for x in again.layers] == ["flow", "mesh", "pyramid", "replaced"]
            np.testing.assert_array_equal(again.layers["flow"].data, vectors)
            np.testing.assert_array_equal(again.layers["mesh"].data[1], surface[1])
            np.testing.assert_array_equal(np.asarray(again.layers["pyramid"].data[0]),
                                          levels[0])
            np.testing.assert_array_equal(np.asarray(again.layers["replaced"].data),
                                          np.full((5, 7), 9, np.uint16))
        finally:
            again.close()
