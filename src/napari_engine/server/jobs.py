"""The work items the engine thread takes from its queue: typed, frozen dataclasses.

The network thread hands over what clients sent (``Join``, ``Leave``, ``RunCommand``,
``FrameAck``); the encoder thread reports what it did (``FrameSent``, ``FramesEncoded``);
the data-loading stage says when a session's data arrived (``DataReady``). Being data
rather than closures, a batch can be looked at and coalesced (several camera moves in a
row become one) before napari is touched, and no thread ever runs code on another's
objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_engine.protocol import OPERATIONS, Command, Hello
from napari_engine.protocol.server_messages import ServerMessage
from napari_engine.server.policy import FrameEncoding
from napari_engine.server.session import ClientSink


@dataclass(frozen=True, slots=True)
class Join:
    """A client said hello to ``session``."""

    session: str
    client_id: int
    sink: ClientSink
    hello: Hello


@dataclass(frozen=True, slots=True)
class Leave:
    """A client's connection closed."""

    session: str
    client_id: int


@dataclass(frozen=True, slots=True)
class RunCommand:
    """A command from a client (several merged into one, when they coalesce)."""

    session: str
    client_id: int
    command: Command
    # ids of earlier commands merged into this one; each still gets its reply
    merged_ids: tuple[int, ...] = ()
    count: int = 1  # how many client messages this job stands for (back-pressure slots)


@dataclass(frozen=True, slots=True)
class FrameAck:
    """A client took frame ``seq`` (and every earlier one)."""

    session: str
    client_id: int
    seq: int
    received: float | None = None  # the client's arrival time of the frame (its clock)
    waited: float | None = None  # how long the client waited for it (see ``Ack``)


@dataclass(frozen=True, slots=True)
class FrameSent:
    """Encoder thread: one frame left for one client (for its link estimate)."""

    session: str
    client_id: int
    seq: int
    size: int
    sent_at: float  # time.perf_counter()
    encoding: FrameEncoding
    still: bool


@dataclass(frozen=True, slots=True)
class FramesEncoded:
    """Encoder thread: a render's frames are done. ``encoded`` holds the whole-frame
    encodings it made (kept for late joiners and stills) with their seconds; ``unsent``
    the (client id, seq) of frames reserved but never sent, whose credits come back."""

    session: str
    render_no: int
    encoded: tuple[tuple[FrameEncoding, bytes, float], ...] = ()
    unsent: tuple[tuple[int, int], ...] = ()
    #: seconds spent encoding this render's moving frames, and the render's scale
    moving: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class DataReady:
    """The data-loading stage: data a session was waiting for has arrived."""

    session: str


@dataclass(frozen=True, slots=True)
class ReadDone:
    """A client's read of layer data (``server/reads.py``), done off the engine thread:
    its answer, for the client's replies."""

    session: str
    client_id: int
    reply: ServerMessage


@dataclass(frozen=True, slots=True)
class Wake:
    """Nothing to do but look at the stop flag and the timers (shutdown)."""


Job = (Join | Leave | RunCommand | FrameAck | FrameSent | FramesEncoded | DataReady | ReadDone
       | Wake)


def coalesce(batch: list[Job]) -> list[Job]:
    """Merge each client's repeated moves (operations with ``OpSpec.merge``: latest wins).

    A move merges with the same client's previous move of the same operation even when
    other moves of that client came in between (a window sends the cursor with every
    dims step): the merged command takes the later one's place, so the latest value of
    each operation still applies in the order the client sent them. Frame and data
    events (acks, sends, encodes, arrived chunks) do not change napari's state: moves
    merge across them (a z-scroll that outpaces the slicing would otherwise queue up
    behind the acks of its own frames). Nothing merges across any other job (an edit,
    another client's command). A session woken for arrived data once in a batch needs
    no second wake (a chunk arriving wakes it: dozens a batch while a plane loads).
    """
    out: list[Job] = []
    woken: set[str] = set()
    for job in batch:
        if isinstance(job, DataReady):
            if job.session in woken:
                continue
            woken.add(job.session)
        if isinstance(job, RunCommand) and _moves(job):
            for i in range(len(out) - 1, -1, -1):
                prev = out[i]
                if isinstance(prev, _STATELESS):
                    continue
                if not (isinstance(prev, RunCommand) and _moves(prev)
                        and prev.session == job.session and prev.client_id == job.client_id):
                    break
                if prev.command.op == job.command.op:
                    merged = _merged(prev, job)
                    if merged is not None:
                        del out[i]
                        job = merged
                    break
        out.append(job)
    return out


#: jobs that leave napari's state as it is
_STATELESS = (FrameAck, FrameSent, FramesEncoded, DataReady, Wake)


def _moves(job: RunCommand) -> bool:
    return OPERATIONS[job.command.op].merge is not None and job.command.payload is None


def _merged(prev: RunCommand, job: Job) -> RunCommand | None:
    if not isinstance(job, RunCommand):
        return None
    merge = OPERATIONS[job.command.op].merge
    if (merge is None or prev.command.op != job.command.op or prev.session != job.session
            or prev.client_id != job.client_id or prev.command.payload is not None):
        return None
    args = merge(prev.command.args, job.command.args)
    if args is None:
        return None
    ids = prev.merged_ids + ((prev.command.id,) if prev.command.id is not None else ())
    t = job.command.t if job.command.t is not None else prev.command.t
    command = Command(op=job.command.op, args=args, id=job.command.id, t=t)
    return RunCommand(job.session, job.client_id, command, ids, prev.count + job.count)
