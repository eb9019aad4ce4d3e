"""The scheduler: the engine thread's loop, the only thread that touches napari, Qt and GL.

Its loop, in plain words:

1. wait for jobs (from the network thread, the encoder thread, the loading stage) or the
   next timer, then take every job that is queued, so a burst is handled as one batch;
2. merge consecutive camera/dims moves (latest wins) and hand each job to its handler:
   sessions (``Join``, ``Leave``), commands (``commands.run``), frames (``Streamer``);
3. for each session whose napari state changed, send one ``state`` patch to its clients,
   then the answers to the commands of the batch;
4. for each session whose picture changed, draw once if a frame can go out
   (``Streamer.maybe_render``), unless the data of a first look at an unseen place is
   still loading (``loading``: coarser data stands in for the rest); then what waited
   for its data to load (screenshots, ``sync(loaded=True)``);
5. timers: stills once a scene rests and its data has loaded, and closing sessions that
   have had no client for ``idle_timeout`` seconds.

Everything done for a session runs inside its ``serving`` block: napari's slicing
there never waits for a chunk (``loading``).

What each step does lives elsewhere; this module only decides when.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari_engine.data.loader import ChunkLoader
from napari_engine.data.roots import DataRoots
from napari_engine.protocol import (
    OPERATIONS,
    PROTOCOL_VERSION,
    ErrorCode,
    ProtocolError,
    ViewMode,
    Welcome,
)
from napari_engine.server import commands
from napari_engine.server.budget import DEFAULT_BUDGET_S, CommandBudget
from napari_engine.server.encoder import FrameEncoder
from napari_engine.server.jobs import (
    DataReady,
    FrameAck,
    FramesEncoded,
    FrameSent,
    Job,
    Join,
    Leave,
    ReadDone,
    RunCommand,
    Wake,
    coalesce,
)
from napari_engine.server.journal import Journal, session_folder
from napari_engine.server.loading import ChunkLoading, InlineLoading, LoadingStage
from napari_engine.server.reads import BackgroundReads
from napari_engine.server.session import ClientRecord, Session
from napari_engine.server.streams import StreamConfig, Streamer
from napari_engine.server.views import CanvasSize

if TYPE_CHECKING:
    from napari_engine.data import LayerSpec

log = logging.getLogger(__name__)

#: how long the loop sleeps when nothing is due (timers are checked at least this often)
IDLE_WAIT_S = 0.05
#: a session's slices are refreshed with arrived chunks at most this often
REFINE_S = 0.05
#: a spare session is made only after the engine has had nothing to do this long
SPARE_AFTER_IDLE_S = 2.0
#: how often the loading stage's figures go to the log (INFO)
STATS_EVERY_S = 10.0


@dataclass
class SchedulerConfig:
    """How the server runs: the command line's choices."""

    size: tuple[int, int] = (1920, 1080)
    idle_timeout: float = 60.0
    #: draw whole-pixel 2D pans as strips over the moved last frame (see ``renderer``)
    pan_strips: bool = True
    stream: StreamConfig = field(default_factory=StreamConfig)
    #: where clients' ``layer.save`` writes (napari's writers); None: saving is off
    save_dir: Path | None = None
    #: where sessions journal their edits, to be restored after a restart; None: off
    journal_dir: Path | None = None
    #: the folders clients may browse (``files.list``)
    browse_roots: tuple[Path, ...] = ()
    #: what clients may open (``--data-root``; the browsed folders too)
    data_roots: DataRoots = field(default_factory=lambda: DataRoots(()))
    #: threads loading chunks off the engine thread (0: napari reads inside its draw)
    load_workers: int = 8
    #: in 3D a multiscale layer is drawn from its finest level of at most this many voxels
    voxels_3d: int = 1 << 24
    #: seconds one command may hold the engine thread before it is interrupted and
    #: undone (``budget``; 0: no limit)
    command_budget: float = DEFAULT_BUDGET_S


class Scheduler:
    """Owns the sessions; ``run()`` must be called on the thread that may use Qt and GL."""

    def __init__(self, specs: list[LayerSpec], config: SchedulerConfig | None = None,
                 loading: LoadingStage | None = None) -> None:
        self.specs = specs
        self.config = config or SchedulerConfig()
        self.sessions: dict[str, Session] = {}
        #: the next session, made ahead of time while the engine is idle
        self._spare: Session | None = None
        self.loading = loading or self._loading_stage()
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._stop = threading.Event()
        self.streamer = Streamer(self.config.stream, FrameEncoder(self.submit))
        self.budget = CommandBudget(self.config.command_budget)
        #: clients' reads of layer data, off this thread
        self.reads = BackgroundReads(self.submit)
        self._qt_app: Any = None
        self._gl_app: Any = None
        self._font_family = ""
        self._stats_logged = (time.monotonic(), "")
        self._last_busy = time.monotonic()
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            Join: self._join, Leave: self._leave, RunCommand: self._command,
            FrameAck: self._ack, FrameSent: self._sent, FramesEncoded: self._encoded,
            DataReady: self._data_ready, ReadDone: self._read_done, Wake: lambda _job: None}

    def _loading_stage(self) -> LoadingStage:
        workers = self.config.load_workers
        if workers <= 0:
            return InlineLoading()
        return ChunkLoading(ChunkLoader(workers, per_source=max(1, workers * 3 // 4)),
                            lambda session: self.submit(DataReady(session.name)))

    def _take_arrivals(self, session: Session) -> None:
        """What the loader brought the session since last asked (``Session.arrived``)."""
        arrivals = self.loading.take_arrivals(session)
        if arrivals is not None:
            session.note_arrivals(arrivals.at, arrivals.errors)

    # -- called from any thread ------------------------------------------------------
    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(Wake())

    # -- the loop --------------------------------------------------------------------
    def _start_gl(self) -> None:
        from qtpy.QtGui import QGuiApplication
        from qtpy.QtWidgets import QApplication
        from vispy import app as vispy_app

        from napari_engine.server.napari_compat import (
            bind_settings_shortcuts,
            bound_brush_strokes,
            check_napari_version,
            place_levels_where_files_say,
            write_no_debug_files,
        )

        check_napari_version()
        bind_settings_shortcuts()
        place_levels_where_files_say()
        write_no_debug_files()
        bound_brush_strokes()
        self._qt_app = QApplication.instance() or QApplication(["napari-engine"])
        # napari pins vispy's default app to Qt; a second application object runs EGL.
        self._gl_app = vispy_app.Application("egl")
        self._font_family = QGuiApplication.font().family()

    def run(self) -> None:
        self._start_gl()
        try:
            while not self._stop.is_set():
                batch = self._next_batch(self._timeout())
                for job in coalesce(batch):
                    self._handle(job)
                self._after_batch()
                self._timers()
                if batch:
                    self._last_busy = time.monotonic()
                elif time.monotonic() - self._last_busy >= SPARE_AFTER_IDLE_S:
                    self._prepare_spare()
                self._qt_app.processEvents()
        finally:
            self._log_stats(force=True)
            for name in list(self.sessions):
                self._close_session(name)
            if self._spare is not None:
                self._spare.close()
            self.streamer.encoder.close()
            self.reads.close()

    def _prepare_spare(self) -> None:
        """While nothing else waits (for ``SPARE_AFTER_IDLE_S``: not between the
        commands of a scroll), make the next session ahead of time (a viewer, its
        canvas, the data's layers: ~0.1-0.4 s), so a new session (a new window, a
        script's ``connect``) opens without that wait."""
        if self._spare is not None or self._stop.is_set():
            return
        try:
            self._spare = self._new_session("")
        except Exception:
            log.exception("could not prepare a session ahead of time")

    def _timeout(self) -> float:
        if any(s.render_dirty or s.arrived or s.waits for s in self.sessions.values()):
            return 1.0 / self.config.stream.max_fps
        return IDLE_WAIT_S

    def _next_batch(self, timeout: float) -> list[Job]:
        try:
            batch = [self._jobs.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self._jobs.get_nowait())
            except queue.Empty:
                return batch

    def _handle(self, job: Job) -> None:
        try:
            self._handlers[type(job)](job)
        except Exception:
            # A bug in one job must not take the server down with it.
            log.exception("engine job %s failed", type(job).__name__)

    def _client(self, session_name: str, client_id: int
                ) -> tuple[Session, ClientRecord] | tuple[None, None]:
        session = self.sessions.get(session_name)
        client = session.clients.get(client_id) if session else None
        if session is None or client is None:
            return None, None
        return session, client

    # -- sessions and clients ----------------------------------------------------------
    def _session(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            log.info("opening session %r", name)
            session, self._spare = self._spare, None
            if session is None:
                session = self._new_session(name)
            else:
                session.data_arrived()  # what it asked for as a spare may be there
            session.rename(name)
            if self.config.journal_dir is not None:
                self._restore(session, self.config.journal_dir)
            self.sessions[name] = session
        return session

    def _restore(self, session: Session, root: Path) -> None:
        """Open the session's journal and apply what it holds (a restarted server)."""
        try:
            session.journal = Journal(session_folder(root, session.name))
        except OSError as exc:  # a read-only disk: the session runs, unjournaled
            log.error("session %r is not journaled: %s", session.name, exc)
            return
        with session.serving():
            restored = commands.replay(session, self.streamer)
        if restored:
            log.info("session %r: %d journaled commands restored", session.name, restored)

    def _new_session(self, name: str) -> Session:
        return Session(name, self.specs, self._gl_app, self._font_family,
                       self.config.size, pan_strips=self.config.pan_strips,
                       save_dir=self.config.save_dir, browse_roots=self.config.browse_roots,
                       data_roots=self.config.data_roots,
                       serving=self.loading.serving, voxels_3d=self.config.voxels_3d)

    def _join(self, job: Join) -> None:
        try:
            session = self._session(job.session)
        except Exception as exc:
            log.exception("could not open session %r", job.session)
            message = f"could not open session: {exc}".splitlines()[0][:500]
            job.sink.send_control(ProtocolError(ErrorCode.FAILED, message).to_error())
            job.sink.close("could not open session")
            return
        hello = job.hello
        canvas = session.default_canvas if hello.size is None else CanvasSize(*hello.size)
        state = session.full_state()  # other clients get what changed first
        client = ClientRecord.joining(job.client_id, job.sink, hello, canvas)
        if hello.view is ViewMode.OWN:  # it starts where the session is, then moves alone
            client.own_look = session.shared.copy()
        # its own selection starts as the session's; its tools as napari's for new layers
        client.own_selection = dict(state["selection"])
        state = session.own_view(client, state)
        session.clients[job.client_id] = client
        session.empty_since = None
        job.sink.send_control(Welcome(
            protocol=PROTOCOL_VERSION, server="napari-engine", session=session.name,
            client_id=job.client_id, version=session.version, state=state,
            operations=tuple(sorted(OPERATIONS))))
        key = session.key_of(client)
        if (session.picture(key).latest is not None and not session.dirty(key)
                and client.streams):
            # a moving-quality frame first: the still follows once its acknowledgement
            # has told the link's round trip (a lossless first still could hold a thin
            # link for seconds)
            self.streamer.send_latest(session, client, may_be_still=False)

    def _leave(self, job: Leave) -> None:
        session = self.sessions.get(job.session)
        if session is None:
            return
        session.clients.pop(job.client_id, None)
        session.prune()
        if not session.clients:
            session.empty_since = time.monotonic()

    def _close_session(self, name: str) -> None:
        session = self.sessions.pop(name)
        log.info("closing session %r", name)
        self.loading.forget(session)
        try:
            session.close()
        except Exception:
            log.exception("closing session %r failed", name)

    # -- what clients, the encoder and the loading stage say -----------------------------
    def _command(self, job: RunCommand) -> None:
        session, client = self._client(job.session, job.client_id)
        if session is not None and client is not None:
            with session.serving():
                commands.run(job, session, client, self.streamer, self.budget, self.reads)

    def _ack(self, job: FrameAck) -> None:
        session, client = self._client(job.session, job.client_id)
        if session is not None and client is not None:
            self.streamer.on_ack(session, client, job)

    def _sent(self, job: FrameSent) -> None:
        _session, client = self._client(job.session, job.client_id)
        if client is not None:
            self.streamer.on_sent(client, job)

    def _encoded(self, job: FramesEncoded) -> None:
        session = self.sessions.get(job.session)
        if session is not None:
            self.streamer.on_encoded(session, job)

    def _read_done(self, job: ReadDone) -> None:
        self.reads.done(job)
        _session, client = self._client(job.session, job.client_id)
        if client is not None:  # sent with the batch's other replies (``_after_batch``)
            client.pending_replies.append(job.reply)

    def _data_ready(self, job: DataReady) -> None:
        session = self.sessions.get(job.session)
        if session is not None:
            self._take_arrivals(session)  # sliced and drawn again (step 4 of the loop)

    # -- after each batch, and timers ------------------------------------------------
    def _after_batch(self) -> None:
        now = time.monotonic()
        for session in list(self.sessions.values()):
            try:
                with session.serving():
                    if session.arrived and now - session.last_refresh >= REFINE_S:
                        session.take_arrivals()
                    session.fit_levels_3d()
                    session.show_loading(self.loading.loading_groups(session))
                    session.publish_state()
                    for client in list(session.clients.values()):
                        session.flush_replies(client)
                    if not self.loading.waiting(session):
                        self.streamer.maybe_render(session)
                    self._finish_waits(session)
                    session.tell_data_errors()
            except Exception as exc:
                self._session_failed(session, exc)

    def _finish_waits(self, session: Session) -> None:
        """Once a session's data has loaded, what waited for it: each such client's
        picture is drawn (napari slices as it draws, and may ask for more), and once
        nothing it shows is loading any more, the waits are answered."""
        if not session.waits or self.loading.pending(session):
            return
        self._take_arrivals(session)  # after: nothing loading has arrived untaken
        if session.arrived:
            session.take_arrivals()
        session.fit_levels_3d()  # a 3D level that has just loaded takes over
        session.publish_state()  # as a screenshot does: what it draws is the state's
        for key in {session.key_of(client) for client, _, _ in session.waits}:
            if self.streamer.needs_render(session, key) or session.data_stale:
                self.streamer.render(session, key)
        if self.loading.pending(session):
            return  # it asked for more
        self._take_arrivals(session)
        if session.arrived:
            return  # it drew before what it asked for arrived: drawn again next time
        self._answer_waits(session, session.data_error())  # a chunk could not load

    @staticmethod
    def _answer_waits(session: Session, error: ProtocolError | None) -> None:
        """Answer what waits for the session's view (``Session.waits``): each as asked,
        or with ``error``."""
        waits, session.waits = session.waits, []
        for client, request_id, answer in waits:
            if client.id not in session.clients:
                continue
            if error is None:
                answer()
            else:
                client.pending_replies.append(ProtocolError(
                    error.code, error.message, request_id=request_id).to_error())
            session.flush_replies(client)

    def _session_failed(self, session: Session, exc: Exception) -> None:
        """A render or state snapshot raised (bad data, a napari bug): the layers that
        cannot be drawn are hidden and named to the clients, and the rest draws; if no
        layer is to blame, the clients are told, what waits is answered with the error,
        and nothing is retried until something changes. Everyone else is served."""
        log.exception("session %r: drawing failed", session.name)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        try:
            hidden = session.hide_undrawable()
        except Exception:
            log.exception("session %r: looking for the layer that cannot be drawn",
                          session.name)
            hidden = []
        if hidden is None:  # it passed: the session draws again, nothing is lost
            session.state_dirty = True
            return
        if hidden:
            names = ", ".join(repr(layer.name) for layer in hidden)
            which = f"layer {names} could not be drawn ({reason}) and is" if len(hidden) == 1 \
                else f"layers {names} could not be drawn ({reason}) and are"
            session.state_dirty = True
            session.tell_all(ProtocolError(ErrorCode.FAILED, f"{which} hidden").to_error())
            return
        error = ProtocolError(ErrorCode.FAILED, f"the server could not draw this view: "
                                                f"{reason}")
        self._answer_waits(session, error)
        session.settle()
        session.state_dirty = False
        session.tell_all(error.to_error())

    def _log_stats(self, force: bool = False) -> None:
        when, last = self._stats_logged
        if not force and time.monotonic() - when < STATS_EVERY_S:
            return
        line = self.loading.stats_line()
        if line is not None and line != last:
            log.info("%s", line)
        self._stats_logged = (time.monotonic(), line or last)

    def _timers(self) -> None:
        self._log_stats()
        now = time.monotonic()
        for name, session in list(self.sessions.items()):
            if (session.empty_since is not None
                    and now - session.empty_since >= self.config.idle_timeout):
                self._close_session(name)
                continue
            try:
                with session.serving():
                    if not self.loading.pending(session):
                        self._take_arrivals(session)
                        if not session.arrived:
                            self.streamer.stills(session)
            except Exception as exc:
                self._session_failed(session, exc)
