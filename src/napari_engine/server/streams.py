"""Frames for the clients of each session: when to draw, who gets which frame, stills.

Runs on the engine thread. A picture of a session (one canvas size, one look:
``pictures``) is drawn only when it changed and one of its clients has a frame credit
(and fewer than ``MAX_ENCODES`` of the session's frames are being encoded); each of its
clients with a credit gets a frame of that render, encoded as ``policy.choose`` says,
and its credit is taken at once; the encoder thread sends it. A client that had no credit
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
from napari_engine.server.pictures import Picture, PictureKey
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
    @staticmethod
    def _with_credit(clients: list[ClientRecord]) -> list[ClientRecord]:
        return [c for c in clients if c.streams and c.credits.can_send()]

    def maybe_render(self, session: Session) -> None:
        """Draw each picture that changed, if a frame of it can go out now."""
        for key, clients in session.groups().items():
            if (not session.dirty(key) or session.encoding_busy >= MAX_ENCODES
                    or not self._with_credit(clients)):
                continue
            picture = session.picture(key)
            if time.monotonic() - picture.last_render_time < 1.0 / self.config.max_fps:
                continue
            self.render(session, key,
                        scale=session.moving_scale(key, self.config.interactive_scale))

    def render(self, session: Session, key: PictureKey, *, scale: float = 1.0,
               still: bool = False) -> None:
        """Draw, then reserve a frame of it for every client of the picture with a
        credit."""
        picture = session.render(key, scale)
        session.publish_state()  # drawing may move napari state (multiscale level)
        clients = session.groups().get(key, [])
        orders = [self._reserve(picture, client,
                                self._encoding(picture, client, still), still=still)
                  for client in self._with_credit(clients)]
        self._submit(session, picture, orders)

    def needs_render(self, session: Session, key: PictureKey) -> bool:
        """The picture's last frame does not show the current state at full size."""
        latest = session.picture(key).latest
        return (session.dirty(key) or latest is None or latest.scale != 1.0
                or latest.partial)

    # -- frames ------------------------------------------------------------------------
    def _encoding(self, picture: Picture, client: ClientRecord, still: bool) -> FrameEncoding:
        stream = client.stream
        encoding = policy.choose(stream, still=still, now=time.monotonic(),
                                 canvas_pixels=picture.canvas.physical_pixels,
                                 lossless=self.config.lossless)
        if not still and encoding.codec != client.moving_codec:
            client.moving_codec = encoding.codec
            rate = stream.link.measured_bps
            log.info("client %d: moving frames as %s (link %s Mbit/s, JPEG quality %d, "
                     "step %d)", client.id, encoding.codec,
                     "?" if rate is None else f"{rate / 1e6:.0f}", stream.quality.quality,
                     stream.quality.step)
        return encoding

    def _header(self, picture: Picture, client: ClientRecord, encoding: FrameEncoding, *,
                still: bool, reply_to: int | None = None) -> FrameHeader:
        frame = picture.latest
        assert frame is not None
        step = encoding.step
        input_t = picture.input_t.get(client.id)
        echo = input_t is not None and input_t != client.echoed_t
        if echo:
            client.echoed_t = input_t
        return FrameHeader(
            seq=next(self._seq), render=picture.render_no, version=picture.version,
            width=-(-frame.width // step), height=-(-frame.height // step),
            encoding=encoding.codec.value, lossless=encoding.lossless,
            scale=frame.scale * picture.canvas.pixel_ratio / step, view=picture.view,
            still=still and reply_to is None and client.stream.gets_stills,
            timings=Timings(load_ms=frame.load_s * 1e3, render_ms=frame.render_s * 1e3,
                            readback_ms=frame.readback_s * 1e3),
            strips=frame.partial, input_t=input_t if echo else None, reply_to=reply_to)

    def _reserve(self, picture: Picture, client: ClientRecord, encoding: FrameEncoding, *,
                 still: bool) -> FrameOrder:
        """The picture's latest frame for ``client``, taking one of its credits."""
        header = self._header(picture, client, encoding, still=still)
        client.credits.sent(header.seq)
        client.last_sent_render = picture.render_no
        client.last_sent_still = still
        return FrameOrder(client.id, client.sink, header, encoding, client.tiles,
                          client.video if encoding.codec is Codec.H264 else None)

    def _submit(self, session: Session, picture: Picture, orders: list[FrameOrder]) -> None:
        """Hand frames of the picture's latest render to the encoder thread. Every
        streamed frame goes this way, so frames leave in the order they were reserved."""
        if not orders or picture.latest is None:
            return
        session.encoding_busy += 1
        self.encoder.submit(EncodeJob(session.name, picture.render_no,
                                      picture.latest.pixels, picture.render_started,
                                      dict(picture.encoded), tuple(orders),
                                      picture.latest.pan))

    def send_latest(self, session: Session, client: ClientRecord, *,
                    may_be_still: bool = True) -> None:
        """Send the client's picture's last frame (a late joiner, a caught-up client, a
        still)."""
        key = session.key_of(client)
        picture = session.picture(key)
        if picture.latest is None:
            return
        still = may_be_still and self._is_still(session, key)
        encoding = self._encoding(picture, client, still)
        self._submit(session, picture, [self._reserve(picture, client, encoding, still=still)])

    def screenshot(self, session: Session, client: ClientRecord, command: Command) -> None:
        """Reply with a lossless frame of the client's picture that reflects every
        command applied so far."""
        session.publish_state()
        key = session.key_of(client)
        if self.needs_render(session, key):
            # streaming clients get this render too, or they would be left on an older one
            self.render(session, key)
        picture = session.picture(key)
        assert picture.latest is not None
        encoding = policy.screenshot_encoding(
            command.args.get("encoding", self.config.lossless.value))
        cached = picture.encoded.get(encoding)
        if cached is None:
            t0 = time.perf_counter()
            cached = (encode_whole(picture.latest.pixels, encoding), time.perf_counter() - t0)
            picture.encoded[encoding] = cached
        session.flush_replies(client)
        header = self._header(picture, client, encoding, still=False, reply_to=command.id)
        timings = dataclasses.replace(
            header.timings, encode_ms=cached[1] * 1e3,
            server_ms=(time.perf_counter() - picture.render_started) * 1e3)
        client.sink.send_frame(header.with_encoding(timings=timings), cached[0])

    # -- what the clients and the encoder say --------------------------------------------
    def on_ack(self, session: Session, client: ClientRecord, job: FrameAck) -> None:
        client.credits.acked(job.seq)
        stream = client.stream
        stream.link.acked(job.seq, time.perf_counter(), job.received, job.waited)
        client.credits.window = credit_window(stream.link, client.credits.max_in_flight)
        key = session.key_of(client)
        behind = client.last_sent_render < session.picture(key).render_no
        if (client.streams and behind and not session.dirty(key)
                and client.credits.can_send()):
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
        for picture in session.pictures.values():
            if picture.render_no == job.render_no:
                for encoding, data, seconds in job.encoded:
                    picture.encoded[encoding] = (data, seconds)
        for client_id, seq in job.unsent:
            client = session.clients.get(client_id)
            if client is not None:
                client.credits.cancel(seq)
                client.last_sent_render = -1

    # -- stills ------------------------------------------------------------------------
    def _is_still(self, session: Session, key: PictureKey) -> bool:
        picture = session.picture(key)
        return policy.is_still(render_dirty=session.dirty(key),
                               since_last_render=time.monotonic() - picture.last_render_time,
                               still_delay=self.config.still_delay)

    def stills(self, session: Session) -> None:
        """Once a picture's scene rests: a full redraw if its last frame was reduced or
        drawn as strips, else the still to each of its clients that takes one and has
        not had it."""
        for key, clients in session.groups().items():
            picture = session.picture(key)
            if picture.latest is None or not self._is_still(session, key):
                continue
            if picture.latest.scale != 1.0 or picture.latest.partial:
                if self._with_credit(clients) and session.encoding_busy < MAX_ENCODES:
                    self.render(session, key, still=True)
                continue
            for client in clients:
                if (client.stream.gets_stills and not client.last_sent_still
                        and client.last_sent_render == picture.render_no
                        and client.credits.can_send()):
                    self.send_latest(session, client)
