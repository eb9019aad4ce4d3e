"""Coalescing of queued commands (pure: no GL, no napari)."""

from __future__ import annotations

from typing import Any

from napari_engine.protocol import Command
from napari_engine.server.jobs import DataReady, FrameAck, Job, RunCommand, coalesce


def _cmd(op: str, args: dict[str, Any], cid: int, client: int = 1, session: str = "s",
         t: float | None = None) -> RunCommand:
    return RunCommand(session, client, Command(op=op, args=args, id=cid, t=t))


def test_consecutive_camera_moves_merge_latest_wins() -> None:
    jobs: list[Job] = [_cmd("camera.set", {"center": [i, i], "zoom": 1.0 + i}, i + 1, t=i)
                       for i in range(5)]
    jobs.append(_cmd("camera.set", {"angles": [0, 0, 90]}, 6))
    (merged,) = coalesce(jobs)
    assert isinstance(merged, RunCommand)
    assert merged.command.args == {"center": [4, 4], "zoom": 5.0, "angles": [0, 0, 90]}
    assert merged.command.id == 6 and merged.merged_ids == (1, 2, 3, 4, 5)
    assert merged.count == 6  # six back-pressure slots to release
    assert merged.command.t == 4  # the newest timestamp echoes


def test_different_clients_sessions_and_ops_do_not_merge() -> None:
    jobs: list[Job] = [_cmd("camera.set", {"zoom": 1.0}, 1),
                       _cmd("camera.set", {"zoom": 2.0}, 2, client=2),
                       _cmd("camera.set", {"zoom": 3.0}, 3, session="other"),
                       _cmd("dims.set", {"step": [0, 1]}, 4),
                       _cmd("layer.set", {"layer": 1, "props": {"opacity": 0.5}}, 5),
                       _cmd("layer.set", {"layer": 1, "props": {"opacity": 0.6}}, 6)]
    assert coalesce(jobs) == jobs


def test_frame_events_do_not_stop_a_merge_but_commands_do() -> None:
    ack = FrameAck("s", 1, 3)
    jobs: list[Job] = [_cmd("camera.set", {"zoom": 1.0}, 1), ack,
                       _cmd("camera.set", {"zoom": 2.0}, 2)]
    first, merged = coalesce(jobs)
    assert first is ack and isinstance(merged, RunCommand)
    assert merged.command.args["zoom"] == 2.0 and merged.merged_ids == (1,)
    edit = _cmd("layer.set", {"layer": 1, "props": {"opacity": 0.5}}, 5)
    jobs = [_cmd("camera.set", {"zoom": 1.0}, 1), edit, _cmd("camera.set", {"zoom": 2.0}, 2)]
    assert coalesce(jobs) == jobs


def test_dims_steps_merge_per_axis_only() -> None:
    same_axis = [_cmd("dims.set", {"step": [0, v]}, v + 1) for v in range(3)]
    (merged,) = coalesce(list(same_axis))
    assert isinstance(merged, RunCommand) and merged.command.args == {"step": [0, 2]}
    two_axes: list[Job] = [_cmd("dims.set", {"step": [0, 5]}, 1),
                           _cmd("dims.set", {"step": [1, 7]}, 2)]
    assert coalesce(two_axes) == two_axes
    layout: list[Job] = [_cmd("dims.set", {"ndisplay": 3}, 1),
                         _cmd("dims.set", {"step": [0, 7]}, 2)]
    assert coalesce(layout) == layout


def test_interleaved_moves_merge_per_operation_in_the_order_of_their_latest() -> None:
    # a window's z-scroll: each dims step comes with the cursor it moved
    jobs: list[Job] = []
    for z in range(4):
        jobs += [_cmd("dims.set", {"step": [0, z]}, 2 * z + 1),
                 _cmd("cursor.set", {"position": [z, 5.0, 5.0]}, 2 * z + 2)]
    dims, cursor = coalesce(jobs)
    assert isinstance(dims, RunCommand) and isinstance(cursor, RunCommand)
    assert (dims.command.op, dims.command.args) == ("dims.set", {"step": [0, 3]})
    assert dims.merged_ids == (1, 3, 5) and dims.count == 4
    assert cursor.command.args == {"position": [3, 5.0, 5.0]}
    assert cursor.merged_ids == (2, 4, 6)
    # the later of the two latest values applies last, as sent
    swapped = coalesce([_cmd("dims.set", {"step": [0, 1]}, 1),
                        _cmd("cursor.set", {"position": [1, 0.0, 0.0]}, 2),
                        _cmd("cursor.set", {"position": [2, 0.0, 0.0]}, 3),
                        _cmd("dims.set", {"step": [0, 2]}, 4)])
    assert [job.command.op for job in swapped if isinstance(job, RunCommand)] == [
        "cursor.set", "dims.set"]


def test_an_edit_or_another_client_between_moves_stops_the_merge() -> None:
    edit: list[Job] = [_cmd("dims.set", {"step": [0, 1]}, 1),
                       _cmd("layer.set", {"layer": 1, "props": {"opacity": 0.5}}, 2),
                       _cmd("cursor.set", {"position": [1, 0.0, 0.0]}, 3),
                       _cmd("dims.set", {"step": [0, 2]}, 4)]
    assert coalesce(list(edit)) == edit
    other: list[Job] = [_cmd("dims.set", {"step": [0, 1]}, 1),
                        _cmd("cursor.set", {"position": [1, 0.0, 0.0]}, 2, client=2),
                        _cmd("dims.set", {"step": [0, 2]}, 3)]
    assert coalesce(list(other)) == other


def test_a_2d_3d_switch_is_a_barrier_for_dims_moves() -> None:
    """napari reacts to a 2D/3D switch from the step and camera as they are then: a step
    before it applies before it, and nothing merges across it (the switch back to 2D
    once lost the slice: the step had merged into the switch and applied after it)."""
    jobs: list[Job] = [_cmd("dims.set", {"current_step": [3, 31, 31]}, 1),
                       _cmd("dims.set", {"ndisplay": 3}, 2),
                       _cmd("camera.set", {"center": [3.0, 31.5, 31.5]}, 3),
                       _cmd("dims.set", {"ndisplay": 2}, 4),
                       _cmd("camera.set", {"center": [0.0, 31.5, 31.5]}, 5)]
    ops = [(j.command.op, j.command.args) for j in coalesce(jobs)
           if isinstance(j, RunCommand)]
    assert ops[:2] == [("dims.set", {"current_step": [3, 31, 31]}),
                       ("dims.set", {"ndisplay": 3})]
    assert ("dims.set", {"ndisplay": 2}) in ops


def test_a_session_is_woken_for_arrived_data_once_a_batch() -> None:
    batch: list[Job] = [DataReady("a"), DataReady("b"), FrameAck("a", 1, 1, 0.0),
                        DataReady("a"), DataReady("b"), DataReady("a")]
    assert coalesce(batch) == [DataReady("a"), DataReady("b"), FrameAck("a", 1, 1, 0.0)]
