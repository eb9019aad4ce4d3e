"""The work items the network thread hands to the engine thread.

Frozen dataclasses rather than closures, so the engine can look at a batch and coalesce
it (several camera moves in a row become one) before touching napari.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from napari_engine.protocol import Command, Hello
from napari_engine.server.session import ClientSink


@dataclass(frozen=True, slots=True)
class Join:
    session: str
    client_id: int
    sink: ClientSink
    hello: Hello


@dataclass(frozen=True, slots=True)
class Leave:
    session: str
    client_id: int


@dataclass(frozen=True, slots=True)
class RunCommand:
    session: str
    client_id: int
    command: Command
    # ids of earlier commands merged into this one; each still gets its reply
    merged_ids: tuple[int, ...] = ()
    count: int = 1  # how many client messages this job stands for (back-pressure slots)
    received: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class FrameAck:
    session: str
    client_id: int
    seq: int
    received: float | None = None  # the client's arrival time of the frame (its clock)
    waited: float | None = None  # how long the client waited for it (see ``Ack``)


@dataclass(frozen=True, slots=True)
class Encoded:
    session: str
    render_no: int
    results: dict[tuple[str, int, int], bytes]
    seconds: dict[tuple[str, int, int], float]


@dataclass(frozen=True, slots=True)
class Call:
    """Run an arbitrary function on the engine thread (tests, shutdown)."""

    fn: Callable[[], Any]


Job = Join | Leave | RunCommand | FrameAck | Encoded | Call

#: Operations whose latest value is all that matters, so consecutive ones may merge.
COALESCABLE = frozenset({"camera.set", "dims.set", "canvas.resize", "cursor.set"})


def _merge_args(op: str, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any] | None:
    if op == "dims.set":
        if "step" in first and "step" in second and first["step"][0] != second["step"][0]:
            return None  # two different axes: both must apply
        if ("current_step" in first) != ("current_step" in second) and (
                "step" in first or "step" in second):
            return None  # a full step and a single-axis step do not commute
        if "order" in first or "ndisplay" in first:
            return None  # changing the layout between steps matters
    return {**first, **second}


def coalesce(batch: list[Job]) -> list[Job]:
    """Merge runs of consecutive coalescable commands from the same client (latest wins)."""
    out: list[Job] = []
    for job in batch:
        prev = out[-1] if out else None
        if (isinstance(job, RunCommand) and isinstance(prev, RunCommand)
                and job.command.op in COALESCABLE and prev.command.op == job.command.op
                and prev.session == job.session and prev.client_id == job.client_id
                and prev.command.payload is None):
            merged = _merge_args(job.command.op, prev.command.args, job.command.args)
            if merged is not None:
                ids = prev.merged_ids + ((prev.command.id,) if prev.command.id is not None
                                         else ())
                cmd = Command(op=job.command.op, args=merged, id=job.command.id,
                              t=job.command.t if job.command.t is not None else prev.command.t)
                out[-1] = RunCommand(job.session, job.client_id, cmd, ids, prev.count + job.count,
                                    prev.received)
                continue
        out.append(job)
    return out
