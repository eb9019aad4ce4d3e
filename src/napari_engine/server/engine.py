"""The engine thread: the only thread that touches napari, Qt and OpenGL.

Its loop, in plain words:

1. wait for jobs from the network thread (or the next timer), then take every job that is
   queued, so a burst is handled as one batch;
2. merge consecutive camera/dims moves (latest wins) and apply the batch to the sessions;
3. for each session whose napari state changed, send one ``state`` patch to its clients,
   then the replies to the commands of the batch;
4. for each session whose picture changed, render once, if some client has a frame
   credit and fewer than ``MAX_ENCODES`` frames of that session are being encoded;
   encoding runs on one encoder thread (simplejpeg and zstd release the GIL), so the
   next render overlaps the last encode. The credits are taken at render time and the
   encoder thread sends the frame itself, so a frame never waits for the engine thread
   after it was drawn; each client's encoding follows its link (``adapt``);
5. a client that had no credit gets the newest frame when its ack comes back (no backlog);
6. timers: a still once a scene has rested for ``still_delay`` seconds (``auto`` and
   ``tiles`` clients), and closing sessions that have had no client for ``idle_timeout``
   seconds.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_engine.encode import Encoding, encode_frame
from napari_engine.encode.tiles import TileState, encode_update
from napari_engine.encode.video import VideoEncoder
from napari_engine.protocol import (
    PROTOCOL_VERSION,
    Command,
    ErrorCode,
    FrameCredits,
    ProtocolError,
    StreamMode,
)
from napari_engine.protocol.ops import OPERATIONS
from napari_engine.server import napari_compat, operations
from napari_engine.server.adapt import (
    QualityController,
    credit_window,
    lossless_still_fits,
    still_jpeg_quality,
)
from napari_engine.server.jobs import (
    Call,
    Encoded,
    FrameAck,
    Job,
    Join,
    Leave,
    RunCommand,
    coalesce,
)
from napari_engine.server.session import ClientRecord, ClientSink, Session

if TYPE_CHECKING:
    from napari_engine.data import LayerSpec

log = logging.getLogger(__name__)

MAX_ENCODES = 2
#: (encoding, JPEG quality or 0, subsampling step: 1 full size, 2 half width and height)
EncodingKey = tuple[str, int, int]
TILES = "tiles"  # the encoding of tile updates: JPEG tiles (quality > 0) or lossless
H264 = "h264"  # video frames; the key's second field is the encoder's rate cap
#: stream modes that get a still (lossless where the link carries it) once the scene rests
STILL_MODES = frozenset({StreamMode.AUTO, StreamMode.TILES, StreamMode.VIDEO})
#: stream modes whose clients get tile updates (``auto`` between its video frames)
TILE_MODES = frozenset({StreamMode.AUTO, StreamMode.TILES})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame reserved for one client (its credit taken), waiting to be encoded."""

    client_id: int
    sink: ClientSink
    header: dict[str, Any]
    key: EncodingKey
    tiles: TileState | None = None  # set for clients that take tile updates
    video: VideoEncoder | None = None  # set for frames that go as H.264


@dataclass
class EngineConfig:
    size: tuple[int, int] = (1920, 1080)
    still_delay: float = 0.3
    idle_timeout: float = 60.0
    max_fps: float = 120.0
    #: resolution of frames rendered while the scene keeps changing (1.0: full; None:
    #: follow the drawing time, see ``adapt.RenderScale``); stills, screenshots and the
    #: frame after the scene rests are always full resolution
    interactive_scale: float | None = 1.0
    lossless: Encoding = Encoding.ZSTD
    #: draw whole-pixel 2D pans as strips over the moved last frame (see ``renderer``)
    pan_strips: bool = True


def _now() -> float:
    return time.monotonic()


def _encode(pixels: np.ndarray, key: EncodingKey) -> bytes:
    """One whole frame in the encoding ``key`` names (subsampled by its step)."""
    step = key[2]
    return encode_frame(pixels[::step, ::step], Encoding(key[0]), quality=key[1] or 80)


class Engine:
    """Owns the sessions; ``run()`` must be called on the thread that may use Qt and GL."""

    def __init__(self, specs: list[LayerSpec], config: EngineConfig | None = None) -> None:
        self.specs = specs
        self.config = config or EngineConfig()
        self.sessions: dict[str, Session] = {}
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._seq = itertools.count(1)
        # One encoder thread: frames leave in render order, and encoding of frame N
        # overlaps rendering of frame N + 1 (simplejpeg and zstd release the GIL).
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="napari-engine-encode")
        # a second pair of hands for updates with many tiles (see ``tiles``)
        self._tile_pool = ThreadPoolExecutor(1, thread_name_prefix="napari-engine-tiles")
        self._qt_app: Any = None
        self._gl_app: Any = None
        self._font_family = ""

    # -- called from any thread ------------------------------------------------------
    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(Call(lambda: None))

    # -- the loop --------------------------------------------------------------------
    def _start_gl(self) -> None:
        from qtpy.QtGui import QGuiApplication
        from qtpy.QtWidgets import QApplication
        from vispy import app as vispy_app

        from napari_engine.server.napari_compat import (
            bind_settings_shortcuts,
            check_napari_version,
        )

        check_napari_version()
        bind_settings_shortcuts()
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
                self._qt_app.processEvents()
        finally:
            for name in list(self.sessions):
                self._close_session(name)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._tile_pool.shutdown(wait=False, cancel_futures=True)

    def _timeout(self) -> float:
        if any(s.render_dirty for s in self.sessions.values()):
            return 1.0 / self.config.max_fps
        return 0.05

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
            if isinstance(job, RunCommand):
                self._run_command(job)
            elif isinstance(job, FrameAck):
                self._ack(job)
            elif isinstance(job, Encoded):
                self._encoded(job)
            elif isinstance(job, Join):
                self._join(job)
            elif isinstance(job, Leave):
                self._leave(job)
            elif isinstance(job, Call):
                job.fn()
        except Exception:
            # A bug in one job must not take the server down with it.
            log.exception("engine job %s failed", type(job).__name__)

    # -- sessions and clients ----------------------------------------------------------
    def _session(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            log.info("opening session %r", name)
            session = Session(name, self.specs, self._gl_app, self._font_family,
                              self.config.size, pan_strips=self.config.pan_strips)
            self.sessions[name] = session
        return session

    def _join(self, job: Join) -> None:
        try:
            session = self._session(job.session)
        except Exception as exc:
            log.exception("could not open session %r", job.session)
            message = f"could not open session: {exc}".splitlines()[0][:500]
            job.sink.send_control(ProtocolError(ErrorCode.FAILED, message).to_message())
            job.sink.close("could not open session")
            return
        hello = job.hello
        client = ClientRecord(id=job.client_id, sink=job.sink, hello=hello,
                              credits=FrameCredits(hello.max_in_flight),
                              tiles=TileState() if hello.stream in TILE_MODES else None,
                              quality=QualityController(max_quality=hello.jpeg_quality,
                                                        quality=hello.jpeg_quality))
        session.clients[job.client_id] = client
        session.empty_since = None
        if hello.size is not None:
            session.resize(*hello.size)
        job.sink.send_control({
            "type": "welcome", "protocol": PROTOCOL_VERSION, "server": "napari-engine",
            "session": session.name, "client_id": job.client_id,
            "version": session.version, "state": session.full_state(),
            "operations": sorted(OPERATIONS),
        })
        if session.latest is not None and not session.render_dirty and client.streams:
            # a moving-quality frame first: the still follows once its acknowledgement
            # has told the link's round trip (a lossless first still could hold a thin
            # link for seconds)
            self._send_latest(session, client, may_be_still=False)

    def _leave(self, job: Leave) -> None:
        session = self.sessions.get(job.session)
        if session is None:
            return
        session.clients.pop(job.client_id, None)
        if not session.clients:
            session.empty_since = _now()

    def _close_session(self, name: str) -> None:
        session = self.sessions.pop(name)
        log.info("closing session %r", name)
        try:
            session.close()
        except Exception:
            log.exception("closing session %r failed", name)

    # -- commands --------------------------------------------------------------------
    def _run_command(self, job: RunCommand) -> None:
        session = self.sessions.get(job.session)
        client = session.clients.get(job.client_id) if session else None
        if session is None or client is None:
            return
        cmd = job.command
        try:
            result = self._apply(session, client, cmd)
            replies = [{"type": "reply", "id": i, "result": {}} for i in job.merged_ids]
            if cmd.id is not None and result is not None:
                replies.append({"type": "reply", "id": cmd.id, "result": result})
            client.pending_replies.extend(replies)
        except ProtocolError as exc:
            log.info("client %d: %s refused: %s", client.id, cmd.op, exc.message)
            self._refuse(client, job, exc.code, exc.message)
        except Exception as exc:
            log.exception("client %d: %s failed", client.id, cmd.op)
            self._refuse(client, job, ErrorCode.FAILED, f"{cmd.op} failed: {exc}".splitlines()[0])
        finally:
            client.last_applied = max(client.last_applied, cmd.id if cmd.id is not None else -1,
                                      *job.merged_ids)
            if cmd.t is not None:
                client.last_t = cmd.t
            for _ in range(job.count):
                client.sink.command_done()

    @staticmethod
    def _refuse(client: ClientRecord, job: RunCommand, code: ErrorCode, message: str) -> None:
        """Answer a failed command, and every command merged into it, with the error:
        each caller may be waiting for its own answer."""
        for request_id in (*job.merged_ids, job.command.id):
            if request_id is not None:
                client.pending_replies.append(
                    ProtocolError(code, message, request_id=request_id).to_message())
        if job.command.id is None and not job.merged_ids:
            client.pending_replies.append(ProtocolError(code, message).to_message())

    def _apply(self, session: Session, client: ClientRecord,
               cmd: Command) -> dict[str, Any] | None:
        """Apply one command; None means the reply is sent some other way."""
        if cmd.op == "screenshot":
            self._screenshot(session, client, cmd)
            return None
        if cmd.op == "sync":
            return {}
        if cmd.op == "canvas.resize":
            session.resize(cmd.args["width"], cmd.args["height"])
            return {}
        if cmd.op == "input.mouse":
            return self._mouse(session, client, cmd.args)
        if cmd.op == "input.key":
            args = cmd.args
            handled = napari_compat.dispatch_key(session.canvas, args["event"], args["key"],
                                                 args["modifiers"], args["text"])
            return {"handled": handled}
        return operations.apply(session.viewer, session.ids, cmd)

    def _mouse(self, session: Session, client: ClientRecord,
               args: dict[str, Any]) -> dict[str, Any]:
        """A client's mouse event goes to napari's bindings on the server's canvas."""
        kind = args["event"]
        if kind == "release" and client.press_event is None:
            return {}  # a release without its press (e.g. pressed before joining)
        event = napari_compat.dispatch_mouse(
            session.canvas, kind, (args["pos"][0], args["pos"][1]), args["button"],
            args["modifiers"], press_event=client.press_event)
        if kind == "press":
            client.press_event = event
        elif kind == "release":
            client.press_event = None
        return {}

    def _screenshot(self, session: Session, client: ClientRecord, cmd: Command) -> None:
        """Reply with a lossless frame that reflects every command applied so far."""
        self._sync_state(session)
        latest = session.latest
        if session.render_dirty or latest is None or latest.scale != 1.0 or latest.partial:
            # streaming clients get this render too, or they would be left on an older one
            self._render(session, encode=True)
            self._sync_state(session)
        key = (cmd.args.get("encoding", self.config.lossless.value), 0, 1)
        payload = self._encoding_for(session, key)
        self._flush_replies(session, client)
        header = self._frame_header(session, client, key, reply_to=cmd.id)
        header["timings"]["encode_ms"] = round(session.latest_encode_s[key] * 1e3, 3)
        client.sink.send_frame(header, payload)

    # -- state and replies -----------------------------------------------------------
    def _after_batch(self) -> None:
        for session in list(self.sessions.values()):
            try:
                self._sync_state(session)
                for client in list(session.clients.values()):
                    self._flush_replies(session, client)
                self._maybe_render(session)
            except Exception as exc:
                self._session_failed(session, exc)

    def _session_failed(self, session: Session, exc: Exception) -> None:
        """A render or state snapshot raised (bad data, a napari bug): tell the clients,
        stop retrying until something changes, and keep serving everyone else."""
        log.exception("session %r: drawing failed", session.name)
        session.render_dirty = False
        session.state_dirty = False
        error = ProtocolError(ErrorCode.FAILED, f"the server could not draw this view: {exc}"
                              .splitlines()[0][:500]).to_message()
        for client in session.clients.values():
            client.sink.send_control(error)

    def _sync_state(self, session: Session) -> None:
        if not session.state_dirty:
            return
        patch = session.take_patch()
        if not patch:
            return
        for client in session.clients.values():
            client.sink.send_control({"type": "state", "version": session.version,
                                      "applied": client.last_applied, "patch": patch})

    def _flush_replies(self, session: Session, client: ClientRecord) -> None:
        if client.pending_replies:
            self._sync_state(session)
            for reply in client.pending_replies:
                reply.setdefault("version", session.version)
                client.sink.send_control(reply)
            client.pending_replies.clear()

    # -- rendering and frames --------------------------------------------------------
    def _wants_frame(self, session: Session) -> bool:
        return any(c.streams and c.credits.can_send() for c in session.clients.values())

    def _maybe_render(self, session: Session) -> None:
        if (not session.render_dirty or session.encoding_busy >= MAX_ENCODES
                or not self._wants_frame(session)):
            return
        if _now() - session.last_render_time < 1.0 / self.config.max_fps:
            return
        self._render(session, encode=True,
                     scale=session.moving_scale(self.config.interactive_scale))
        self._sync_state(session)  # drawing may move napari state (multiscale level)

    def _render(self, session: Session, *, encode: bool, scale: float = 1.0,
                still: bool = False) -> None:
        session.render(scale)
        if not encode:
            return
        # Reserve a credit now for every client that will get this frame, and let the
        # encoder thread send it: the frame never waits for the engine thread again.
        outgoing = [self._reserve(session, client, self._stream_key(client, still=still),
                                  still=still)
                    for client in session.clients.values()
                    if client.streams and client.credits.can_send()]
        self._submit_frames(session, outgoing)

    def _reserve(self, session: Session, client: ClientRecord, key: EncodingKey, *,
                 still: bool) -> Outgoing:
        header = self._frame_header(session, client, key, still=still)
        return Outgoing(client.id, client.sink, header, key, client.tiles,
                        client.video if key[0] == H264 else None)

    def _submit_frames(self, session: Session, outgoing: list[Outgoing]) -> None:
        """Hand frames of the latest render to the encoder thread. Every streamed frame
        goes this way, so frames leave in the order they were reserved."""
        if not outgoing or session.latest is None:
            return
        session.encoding_busy += 1
        self._pool.submit(self._encode_and_send, session.name, session.render_count,
                          session.latest.pixels, outgoing, session.latest_render_started,
                          dict(session.latest_encoded))

    def _encode_and_send(self, name: str, render_no: int, pixels: np.ndarray,
                         outgoing: list[Outgoing], started: float,
                         cached: dict[EncodingKey, bytes]) -> None:
        """Encoder thread: encode once per encoding, send to each reserved client."""
        results: dict[EncodingKey, bytes] = {}
        seconds: dict[EncodingKey, float] = {}
        unsent = list(outgoing)
        try:
            for item in outgoing:
                key = item.key
                if item.tiles is not None and key[0] != TILES:
                    # a whole frame replaces the client's picture: the next tile update
                    # starts from nothing rather than from a picture it no longer shows
                    item.tiles.shown = None
                if key[0] in (TILES, H264):
                    size = (self._send_tiles(item, pixels, started) if key[0] == TILES
                            else self._send_video(item, pixels, started))
                    unsent.remove(item)
                    self._note_sent(name, item, size)
                    continue
                if key not in results:
                    t0 = time.perf_counter()
                    results[key] = cached.get(key) or _encode(pixels, key)
                    seconds[key] = time.perf_counter() - t0
                timings = item.header["timings"]
                timings["encode_ms"] = round(seconds[key] * 1e3, 3)
                timings["server_ms"] = round((time.perf_counter() - started) * 1e3, 3)
                item.sink.send_frame(item.header, results[key])
                unsent.remove(item)
                self._note_sent(name, item, len(results[key]))
        except Exception:
            log.exception("encoding frame %d of session %r failed", render_no, name)
        finally:
            fresh = {k: v for k, v in results.items() if k not in cached}
            self.submit(Encoded(name, render_no, fresh, {k: seconds[k] for k in fresh}))
            if unsent:
                self.submit(Call(lambda: self._return_credits(name, unsent)))

    def _note_sent(self, name: str, item: Outgoing, size: int) -> None:
        """Encoder thread: tell the engine what left, for the client's link estimate."""
        sent_at = time.perf_counter()
        self.submit(Call(lambda: self._record_sent(name, item, size, sent_at)))

    def _record_sent(self, name: str, item: Outgoing, size: int, sent_at: float) -> None:
        session = self.sessions.get(name)
        client = session.clients.get(item.client_id) if session else None
        if client is None:
            return
        client.link.sent(item.header["seq"], size, sent_at)
        if item.header["lossless"] and item.key[0] != TILES:
            client.last_lossless_bytes = size
        elif not item.header["still"] and item.key[0] in (Encoding.JPEG.value, TILES):
            client.quality.update(size, client.link)

    def _send_tiles(self, item: Outgoing, pixels: np.ndarray, started: float) -> int:
        """Encoder thread: only the tiles that differ from what this client shows (after
        shifting its picture when the view only panned)."""
        assert item.tiles is not None
        t0 = time.perf_counter()
        header = item.header
        update = encode_update(item.tiles, pixels, lossless=header["lossless"],
                               quality=item.key[1] or 80, view=header["view"],
                               scale=header["scale"], pool=self._tile_pool,
                               refine=header["still"])
        header["tiles"] = update.index
        if update.shift is not None:
            header["shift"] = list(update.shift)
        timings = header["timings"]
        timings["encode_ms"] = round((time.perf_counter() - t0) * 1e3, 3)
        timings["server_ms"] = round((time.perf_counter() - started) * 1e3, 3)
        item.sink.send_frame(header, update.payload)
        return len(update.payload)

    @staticmethod
    def _send_video(item: Outgoing, pixels: np.ndarray, started: float) -> int:
        """Encoder thread: the next H.264 frame of this client's stream."""
        assert item.video is not None
        t0 = time.perf_counter()
        payload, keyframe = item.video.encode(pixels, item.key[1])
        header = item.header
        header["keyframe"] = keyframe
        timings = header["timings"]
        timings["encode_ms"] = round((time.perf_counter() - t0) * 1e3, 3)
        timings["server_ms"] = round((time.perf_counter() - started) * 1e3, 3)
        item.sink.send_frame(header, payload)
        return len(payload)

    def _return_credits(self, name: str, unsent: list[Outgoing]) -> None:
        """Frames that were reserved but never sent give their credits back."""
        session = self.sessions.get(name)
        for item in unsent:
            client = session.clients.get(item.client_id) if session else None
            if client is not None:
                client.credits.cancel(item.header["seq"])
                client.last_sent_render = -1  # send it the newest frame when one exists

    def _encoded(self, job: Encoded) -> None:
        """Back on the engine thread: keep the encodings for late joiners and stills."""
        session = self.sessions.get(job.session)
        if session is None:
            return
        session.encoding_busy -= 1
        if job.render_no == session.render_count:
            session.latest_encoded.update(job.results)
            session.latest_encode_s.update(job.seconds)

    def _stream_key(self, client: ClientRecord, *, still: bool) -> EncodingKey:
        """How this client's next frame is encoded.

        ``auto``: H.264 while moving once the link is too thin for full-quality JPEG,
        whole JPEG frames at reduced resolution when even the lowest quality does not
        fit, otherwise JPEG tiles (only what changed; a pan shifts the client's picture);
        once the scene rests, lossless tiles where the link carries them quickly and
        visually lossless JPEG tiles where not (see ``adapt``). ``tiles`` is ``auto``
        without the video and the reduced frames; ``video`` always takes H.264 while
        moving; ``jpeg`` and ``lossless`` clients get what they asked."""
        mode = client.hello.stream
        if not still and (mode is StreamMode.VIDEO or (
                mode is StreamMode.AUTO
                and client.video_choice.video_pays(client.link, client.quality))):
            return (H264, client.video_choice.rate(client.link, _now()), 1)
        if mode in TILE_MODES:
            if not still:
                if mode is StreamMode.AUTO and client.quality.step > 1:
                    return (Encoding.JPEG.value, client.quality.quality, client.quality.step)
                return (TILES, client.quality.quality, 1)
            # lossless tiles where the link carries them, JPEG tiles it carries where not
            return (TILES, 0 if self._lossless_fits(client)
                    else still_jpeg_quality(client.link), 1)
        if mode is StreamMode.LOSSLESS or (mode is StreamMode.VIDEO
                                           and self._lossless_fits(client)):
            return (self.config.lossless.value, 0, 1)
        if mode is StreamMode.VIDEO:
            return (Encoding.JPEG.value, still_jpeg_quality(client.link), 1)
        return (Encoding.JPEG.value, client.hello.jpeg_quality, 1)

    def _lossless_fits(self, client: ClientRecord) -> bool:
        """Whether a lossless still crosses this client's link quickly (its size guessed
        from the last one, or 2 bytes a pixel before any)."""
        guess = client.last_lossless_bytes or self.config.size[0] * self.config.size[1] * 2
        return lossless_still_fits(client.link, guess)

    def _encoding_for(self, session: Session, key: EncodingKey) -> bytes:
        payload = session.latest_encoded.get(key)
        if payload is None:
            assert session.latest is not None
            t0 = time.perf_counter()
            payload = _encode(session.latest.pixels, key)
            session.latest_encoded[key] = payload
            session.latest_encode_s[key] = time.perf_counter() - t0
        return payload

    def _is_still(self, session: Session) -> bool:
        return not session.render_dirty and (
            _now() - session.last_render_time >= self.config.still_delay)

    def _send_latest(self, session: Session, client: ClientRecord, *,
                     may_be_still: bool = True) -> None:
        """Send the last rendered frame (a late joiner, a caught-up client, a still)."""
        if session.latest is None:
            return
        still = may_be_still and self._is_still(session)
        key = self._stream_key(client, still=still)
        self._submit_frames(session, [self._reserve(session, client, key, still=still)])

    def _frame_header(self, session: Session, client: ClientRecord, key: EncodingKey, *,
                      still: bool = False, reply_to: int | None = None) -> dict[str, Any]:
        """The header of the latest frame for ``client``; unless it answers a screenshot,
        this takes one of the client's credits."""
        frame = session.latest
        assert frame is not None
        seq = next(self._seq)
        lossless = (key[1] == 0 if key[0] == TILES
                    else key[0] != H264 and Encoding(key[0]).lossless)
        step = key[2]  # a subsampled frame for a link too thin for the full one
        header: dict[str, Any] = {
            "type": "frame", "seq": seq, "render": session.render_count,
            "version": session.latest_version, "width": -(-frame.width // step),
            "height": -(-frame.height // step), "encoding": key[0], "lossless": lossless,
            "scale": frame.scale / step,
            "view": session.latest_view,
            "still": still and reply_to is None and client.hello.stream in STILL_MODES,
            "timings": {
                "load_ms": round(frame.load_s * 1e3, 3),
                "render_ms": round(frame.render_s * 1e3, 3),
                "readback_ms": round(frame.readback_s * 1e3, 3),
                "encode_ms": 0.0,
                "server_ms": round((time.perf_counter() - session.latest_render_started) * 1e3,
                                   3),
            },
        }
        if frame.partial:
            header["strips"] = True  # a pan drawn as strips over the moved last frame
        input_t = session.latest_t.get(client.id)
        if input_t is not None and input_t != client.echoed_t:
            header["input_t"] = input_t
            client.echoed_t = input_t
        if reply_to is not None:
            header["reply_to"] = reply_to
        else:
            client.credits.sent(seq)
            client.last_sent_render = session.render_count
            client.last_sent_still = still
        return header

    def _ack(self, job: FrameAck) -> None:
        session = self.sessions.get(job.session)
        client = session.clients.get(job.client_id) if session else None
        if session is None or client is None:
            return
        client.credits.acked(job.seq)
        client.link.acked(job.seq, time.perf_counter(), job.received, job.waited)
        client.credits.window = credit_window(client.link, client.credits.max_in_flight)
        behind = client.last_sent_render < session.render_count
        if client.streams and behind and not session.render_dirty and client.credits.can_send():
            self._send_latest(session, client)

    # -- timers ----------------------------------------------------------------------
    def _timers(self) -> None:
        now = _now()
        for name, session in list(self.sessions.items()):
            try:
                self._session_timers(name, session, now)
            except Exception as exc:
                self._session_failed(session, exc)

    def _session_timers(self, name: str, session: Session, now: float) -> None:
        if (session.empty_since is not None
                and now - session.empty_since >= self.config.idle_timeout):
            self._close_session(name)
            return
        if session.latest is None or not self._is_still(session):
            return
        if session.latest.scale != 1.0 or session.latest.partial:
            # the scene rests: replace the reduced (or pan-composed) frame by a full draw
            if self._wants_frame(session) and session.encoding_busy < MAX_ENCODES:
                self._render(session, encode=True, still=True)
            return
        for client in session.clients.values():
            if (client.hello.stream in STILL_MODES and not client.last_sent_still
                    and client.last_sent_render == session.render_count
                    and client.credits.can_send()):
                self._send_latest(session, client)
