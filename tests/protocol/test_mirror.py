"""The client mirror: server patches merge without undoing the client's newer changes."""

from __future__ import annotations

import pytest

from napari_engine.protocol import StateMirror


def _mirror() -> StateMirror:
    mirror = StateMirror()
    mirror.apply_server({"camera": {"zoom": 1.0, "center": [0, 0]},
                         "layers": [{"id": 1, "name": "a", "opacity": 1.0}]}, version=1)
    return mirror


def test_patch_replaces_sections() -> None:
    mirror = _mirror()
    assert mirror.apply_server({"camera": {"zoom": 2.0, "center": [1, 1]}}, version=2) == {
        "camera"}
    assert mirror.state["camera"]["zoom"] == 2.0


def test_local_change_survives_an_older_patch_and_yields_to_a_newer_one() -> None:
    mirror = _mirror()
    mirror.set_local("camera", "zoom", 5.0, command_id=10)
    # the server has applied only command 9 of ours: its zoom predates our change
    mirror.apply_server({"camera": {"zoom": 1.5, "center": [0, 0]}}, version=2, applied=9)
    assert mirror.state["camera"]["zoom"] == 5.0
    # now it has applied command 10 (and someone else changed zoom after it)
    mirror.apply_server({"camera": {"zoom": 7.0, "center": [0, 0]}}, version=3, applied=10)
    assert mirror.state["camera"]["zoom"] == 7.0
    assert mirror.pending() == 0


def test_layer_property_pending_then_refused() -> None:
    mirror = _mirror()
    mirror.set_local_layer(1, "opacity", 0.3, command_id=4)
    assert mirror.layer(1) == {"id": 1, "name": "a", "opacity": 0.3}
    mirror.apply_server({"layers": [{"id": 1, "name": "a", "opacity": 1.0}]}, version=2,
                        applied=3)
    assert mirror.layer(1)["opacity"] == 0.3  # type: ignore[index]
    assert mirror.confirm(4)  # refused: the error answers command 4
    assert mirror.layer(1)["opacity"] == 1.0  # type: ignore[index]


def test_the_layer_list_is_the_clients_until_the_server_answers() -> None:
    mirror = StateMirror()
    layers = [{"id": i, "name": n} for i, n in ((1, "a"), (2, "b"), (3, "c"))]
    mirror.apply_server({"layers": layers}, version=1)
    mirror.set_local_order([3, 1], command_id=5)  # b removed, c moved to the bottom
    assert [x["id"] for x in mirror.state["layers"]] == [3, 1]
    # an older patch (another client renamed a) keeps the client's order and removal
    renamed = [{**layers[0], "name": "A"}, *layers[1:]]
    mirror.apply_server({"layers": renamed}, version=2, applied=4)
    assert [x["name"] for x in mirror.state["layers"]] == ["c", "A"]
    mirror.apply_server({"layers": [renamed[2], renamed[0]]}, version=3, applied=5)
    assert [x["id"] for x in mirror.state["layers"]] == [3, 1] and mirror.pending() == 0


def test_stale_versions_are_ignored() -> None:
    mirror = _mirror()
    mirror.apply_server({"camera": {"zoom": 3.0}}, version=5)
    assert mirror.apply_server({"camera": {"zoom": 0.5}}, version=4) == set()
    assert mirror.state["camera"]["zoom"] == 3.0
    assert mirror.layer_by_name("a") is not None and mirror.layer_by_name("b") is None


def test_an_answer_confirms_every_earlier_change() -> None:
    mirror = _mirror()
    mirror.set_local("camera", "zoom", 5.0, command_id=3)
    mirror.set_local("camera", "center", [9, 9], command_id=4)
    # the server clamped or ignored command 3 and sent no patch; its reply is enough
    mirror.confirm(3)
    assert mirror.state["camera"]["zoom"] == 1.0 and mirror.state["camera"]["center"] == [9, 9]
    mirror.confirm(4)
    assert mirror.pending() == 0 and mirror.state["camera"]["center"] == [0, 0]


def test_reset_starts_from_a_full_state() -> None:
    mirror = _mirror()
    mirror.apply_server({"camera": {"zoom": 3.0}}, version=9)
    mirror.set_local("camera", "zoom", 5.0, command_id=3)
    mirror.reset({"camera": {"zoom": 1.0}, "layers": []}, version=1)  # a restarted server
    assert mirror.version == 1 and mirror.pending() == 0
    assert mirror.state["camera"]["zoom"] == 1.0 and mirror.state["layers"] == []


def test_a_new_mirror_has_every_section() -> None:
    mirror = StateMirror()
    assert mirror.version == -1 and mirror.pending() == 0 and mirror.local_edits == 0
    assert mirror.state == {"camera": {}, "dims": {}, "canvas": {}, "layers": [],
                            "selection": {}, "overlays": {}}
    mirror.reset({"camera": {"zoom": 2.0}}, version=3)
    assert mirror.version == 3 and mirror.state["camera"] == {"zoom": 2.0}
    assert mirror.state["layers"] == [] and mirror.state["dims"] == {}


def test_local_changes_count_and_unknown_sections_are_refused() -> None:
    mirror = _mirror()
    mirror.set_local("dims", "ndisplay", 3, command_id=1)
    mirror.set_local_layer(1, "visible", False, command_id=2)
    mirror.set_local_layer(99, "visible", False, command_id=3)  # gone: kept, harmless
    assert mirror.local_edits == 3 and mirror.pending() == 3
    assert mirror.state["dims"]["ndisplay"] == 3 and mirror.layer(1)["visible"] is False
    with pytest.raises(ValueError):
        mirror.set_local("layers", "x", 1, command_id=4)


def test_confirm_says_whether_the_state_moved() -> None:
    mirror = _mirror()
    mirror.set_local("camera", "zoom", 5.0, command_id=1)
    assert mirror.confirm(1)  # the server kept 1.0: the view moves back
    mirror.set_local("camera", "zoom", 1.0, command_id=2)
    assert not mirror.confirm(2)  # the same as the server's: nothing moved
