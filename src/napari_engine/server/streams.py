"""Frames for the clients of each session: when to draw, who gets which frame, stills.

Runs on the engine thread. A session is drawn only when it changed and some client has
a frame credit (and fewer than ``MAX_ENCODES`` of its frames are being encoded); each
client with a credit gets a frame of that render, encoded as ``policy.choose`` says, and
its credit is taken at once; the encoder thread sends it. A client that had no credit
gets the newest frame when its ack returns one (frame spoiling: fewer, newer frames,
never a backlog). Once a scene has rested for ``still_delay`` seconds, clients that take
stills get one (a full redraw first when the last frame was reduced or drawn as strips).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from dataclasses import dataclass

from napari_engine.protocol import Command, FrameHeader, Timings
from napari_engine.server import policy
from napari_engine.server.adapt import credit_window
from napari_engine.server.encoder import EncodeJob, FrameEncoder, FrameOrder, encode_whole
from napari_engine.server.jobs import FrameAck, FramesEncoded, FrameSent
from napari_engine.server.policy import Codec, FrameEncoding
from napari_engine.server.session import ClientRecord, Session

#: renders of one session being encoded at once
MAX_ENCODES = 2

log = logging.getLogger(__name__)


@dataclass
class StreamConfig:
    """How frames are streamed: the command line's choices."""

    still_delay: float = 0.3
    max_fps: float = 120.0
    #: resolution of frames rendered while the scene keeps changing (1.0: full; None:
    #: follow the drawing time, see ``adapt.RenderScale``); stills, screenshots and the
    #: frame after the scene rests are always full resolution
    interactive_scale: float | None = 1.0
    lossless: Codec = Codec.ZSTD


class Streamer:
    """Decides and reserves every streamed frame; the encoder sends them."""

    def __init__(self, config: StreamConfig, encoder: FrameEncoder) -> None:
        self.config = config
        self.encoder = encoder
        self._seq = itertools.count(1)

    # -- drawing -----------------------------------------------------------------------
    def wants_frame(self, session: Session) -> bool:
        return any(c.streams and c.credits.can_send() for c in session.clients.values())

    def maybe_render(self, session: Session) -> None:
        """Draw the session if it changed and a frame can go out now."""
        if (not session.render_dirty or session.encoding_busy >= MAX_ENCODES
                or not self.wants_frame(session)):
            return
        if time.monotonic() - session.last_render_time < 1.0 / self.config.max_fps:
            return
        self.render(session, scale=session.moving_scale(self.config.interactive_scale))

    def render(self, session: Session, *, scale: float = 1.0, still: bool = False) -> None:
        """Draw, then reserve a frame of it for every client with a credit."""
        session.render(scale)
        session.publish_state()  # drawing may move napari state (multiscale level)
        orders = [self._reserve(session, client, self._encoding(session, client, still),
                                still=still)
                  for client in session.clients.values()
                  if client.streams and client.credits.can_send()]
        self._submit(session, orders)

    def needs_render(self, session: Session) -> bool:
        """The last frame does not show the current state at full size."""
        latest = session.latest
        return (session.render_dirty or latest is None or latest.scale != 1.0
                or latest.partial)

    # -- frames ------------------------------------------------------------------------
    def _encoding(self, session: Session, client: ClientRecord, still: bool) -> FrameEncoding:
        stream = client.stream
        encoding = policy.choose(stream, still=still, now=time.monotonic(),
                                 canvas_pixels=session.canvas_pixels,
                                 lossless=self.config.lossless)
        if not still and encoding.codec != client.moving_codec:
            client.moving_codec = encoding.codec
            rate = stream.link.measured_bps
            log.info("client %d: moving frames as %s (link %s Mbit/s, JPEG quality %d, "
                     "step %d)", client.id, encoding.codec,
                     "?" if rate is None else f"{rate / 1e6:.0f}", stream.quality.quality,
                     stream.quality.step)
        return encoding

    def _header(self, session: Session, client: ClientRecord, encoding: FrameEncoding, *,
                still: bool, reply_to: int | None = None) -> FrameHeader:
        frame = session.latest
        assert frame is not None
        step = encoding.step
        input_t = session.latest_t.get(client.id)
        echo = input_t is not None and input_t != client.echoed_t
        if echo:
            client.echoed_t = input_t
        return FrameHeader(
            seq=next(self._seq), render=session.render_count, version=session.latest_version,
            width=-(-frame.width // step), height=-(-frame.height // step),
            encoding=encoding.codec.value, lossless=encoding.lossless,
            scale=frame.scale * session.pixel_ratio / step, view=session.latest_view,
            still=still and reply_to is None and client.stream.gets_stills,
            timings=Timings(load_ms=frame.load_s * 1e3, render_ms=frame.render_s * 1e3,
                            readback_ms=frame.readback_s * 1e3),
            strips=frame.partial, input_t=input_t if echo else None, reply_to=reply_to)

    def _reserve(self, session: Session, client: ClientRecord, encoding: FrameEncoding, *,
                 still: bool) -> FrameOrder:
        """The latest frame for ``client``, taking one of its credits."""
        header = self._header(session, client, encoding, still=still)
        client.credits.sent(header.seq)
        client.last_sent_render = session.render_count
        client.last_sent_still = still
        return FrameOrder(client.id, client.sink, header, encoding, client.tiles,
                          client.video if encoding.codec is Codec.H264 else None)

    def _submit(self, session: Session, orders: list[FrameOrder]) -> None:
        """Hand frames of the latest render to the encoder thread. Every streamed frame
        goes this way, so frames leave in the order they were reserved."""
        if not orders or session.latest is None:
            return
        session.encoding_busy += 1
        self.encoder.submit(EncodeJob(session.name, session.render_count,
                                      session.latest.pixels, session.latest_render_started,
                                      dict(session.latest_encoded), tuple(orders),
                                      session.latest.pan))

    def send_latest(self, session: Session, client: ClientRecord, *,
                    may_be_still: bool = True) -> None:
        """Send the last rendered frame (a late joiner, a caught-up client, a still)."""
        if session.latest is None:
            return
        still = may_be_still and self._is_still(session)
        encoding = self._encoding(session, client, still)
        self._submit(session, [self._reserve(session, client, encoding, still=still)])

    def screenshot(self, session: Session, client: ClientRecord, command: Command) -> None:
        """Reply with a lossless frame that reflects every command applied so far."""
        session.publish_state()
        if self.needs_render(session):
            # streaming clients get this render too, or they would be left on an older one
            self.render(session)
        assert session.latest is not None
        encoding = policy.screenshot_encoding(
            command.args.get("encoding", self.config.lossless.value))
        cached = session.latest_encoded.get(encoding)
        if cached is None:
            t0 = time.perf_counter()
            cached = (encode_whole(session.latest.pixels, encoding), time.perf_counter() - t0)
            session.latest_encoded[encoding] = cached
        session.flush_replies(client)
        header = self._header(session, client, encoding, still=False, reply_to=command.id)
        timings = dataclasses.replace(
            header.timings, encode_ms=cached[1] * 1e3,
            server_ms=(time.perf_counter() - session.latest_render_started) * 1e3)
        client.sink.send_frame(header.with_encoding(timings=timings), cached[0])

    # -- what the clients and the encoder say --------------------------------------------
    def on_ack(self, session: Session, client: ClientRecord, job: FrameAck) -> None:
        client.credits.acked(job.seq)
        stream = client.stream
        stream.link.acked(job.seq, time.perf_counter(), job.received, job.waited)
        client.credits.window = credit_window(stream.link, client.credits.max_in_flight)
        behind = client.last_sent_render < session.render_count
        if client.streams and behind and not session.render_dirty and client.credits.can_send():
            self.send_latest(session, client)

    @staticmethod
    def on_sent(client: ClientRecord, job: FrameSent) -> None:
        client.stream.link.sent(job.seq, job.size, job.sent_at)
        policy.observe_sent(client.stream, job.encoding, still=job.still, size=job.size)

    @staticmethod
    def on_encoded(session: Session, job: FramesEncoded) -> None:
        """Keep the encodings for late joiners and stills; give unsent frames' credits
        back (those clients get the newest frame when one exists)."""
        session.encoding_busy -= 1
        if job.moving is not None:
            session.render_scale.observe_encode(*job.moving)
        if job.render_no == session.render_count:
            for encoding, data, seconds in job.encoded:
                session.latest_encoded[encoding] = (data, seconds)
        for client_id, seq in job.unsent:
            client = session.clients.get(client_id)
            if client is not None:
                client.credits.cancel(seq)
                client.last_sent_render = -1

    # -- stills ------------------------------------------------------------------------
    def _is_still(self, session: Session) -> bool:
        return policy.is_still(render_dirty=session.render_dirty,
                               since_last_render=time.monotonic() - session.last_render_time,
                               still_delay=self.config.still_delay)

    def stills(self, session: Session) -> None:
        """Once the scene rests: a full redraw if the last frame was reduced or drawn as
        strips, else the still to each client that takes one and has not had it."""
        if session.latest is None or not self._is_still(session):
            return
        if session.latest.scale != 1.0 or session.latest.partial:
            if self.wants_frame(session) and session.encoding_busy < MAX_ENCODES:
                self.render(session, still=True)
            return
        for client in session.clients.values():
            if (client.stream.gets_stills and not client.last_sent_still
                    and client.last_sent_render == session.render_count
                    and client.credits.can_send()):
                self.send_latest(session, client)
