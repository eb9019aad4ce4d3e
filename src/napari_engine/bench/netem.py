"""A userspace network emulator: a TCP proxy that adds delay, jitter and a bandwidth cap.

These machines have no ``sch_netem`` in the kernel, so links are emulated in user space:
every chunk read from one side is released to the other after its serialisation time
on a link of the given bandwidth (a queue behind earlier chunks, as on a real link) plus
the one-way delay and a random jitter; order is kept. Loopback only.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkProfile:
    """A network link to emulate: its one-way delay, jitter and bandwidth."""

    name: str
    delay_ms: float = 0.0  # one way
    jitter_ms: float = 0.0
    bandwidth_bps: float | None = None  # None: as fast as loopback

    @property
    def rtt_ms(self) -> float:
        return 2 * self.delay_ms


PRESETS = {
    "loopback": LinkProfile("loopback"),
    "lan": LinkProfile("lan", delay_ms=0.5, bandwidth_bps=1e9),
    "wan": LinkProfile("wan", delay_ms=25.0, jitter_ms=2.0, bandwidth_bps=100e6),
    "thin": LinkProfile("thin", delay_ms=40.0, jitter_ms=4.0, bandwidth_bps=10e6),
}


class _Direction:
    """One direction of one connection: a bandwidth queue, then a delay line."""

    def __init__(self, profile: LinkProfile, rng: random.Random) -> None:
        self.profile = profile
        self.rng = rng
        self.busy_until = 0.0
        self.last_delivery = 0.0

    def delivery_time(self, size: int, now: float) -> float:
        p = self.profile
        depart = now
        if p.bandwidth_bps:
            depart = max(now, self.busy_until) + size * 8 / p.bandwidth_bps
            self.busy_until = depart
        jitter = self.rng.uniform(-p.jitter_ms, p.jitter_ms) if p.jitter_ms else 0.0
        deliver = depart + max(0.0, p.delay_ms + jitter) / 1e3
        self.last_delivery = max(deliver, self.last_delivery)  # a link keeps order
        return self.last_delivery


class EmulatedLink:
    """``127.0.0.1:port`` forwards to ``target`` through an emulated link."""

    def __init__(self, target_host: str, target_port: int, profile: LinkProfile,
                 seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self.profile = profile
        self.rng = random.Random(seed)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"netem-{profile.name}",
                                        daemon=True)
        self.bytes_down = 0  # server to client
        self.bytes_up = 0

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._open())
        self._ready.set()
        loop.run_forever()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        up = asyncio.ensure_future(self._pump(client_r, server_w, "up"))
        down = asyncio.ensure_future(self._pump(server_r, client_w, "down"))
        try:
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the link is being stopped; asyncio would log a cancelled handler
        finally:
            for task in (up, down):
                task.cancel()
            for writer in (client_w, server_w):
                writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    name: str) -> None:
        direction = _Direction(self.profile, self.rng)
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                when, data = item
                wait = when - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(64 * 1024)
                if not data:
                    break
                if name == "down":
                    self.bytes_down += len(data)
                else:
                    self.bytes_up += len(data)
                queue.put_nowait((direction.delivery_time(len(data), time.perf_counter()),
                                  data))
        except asyncio.CancelledError:
            sender.cancel()
            raise
        queue.put_nowait(None)  # the peer closed: deliver what is queued, then close
        await sender

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        self._thread.join(5)

    def url_for(self, url: str) -> str:
        """``url`` (of the target server) rewritten to go through this link."""
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        return url.replace(host_port, f"127.0.0.1:{self.port}", 1)


def port_of(url: str) -> int:
    """The port of a ``scheme://host:port/...`` URL."""
    return int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@contextmanager
def emulated_link(port: int, profile: LinkProfile) -> Iterator[EmulatedLink]:
    """A started link in front of ``127.0.0.1:port``, stopped on leaving."""
    link = EmulatedLink("127.0.0.1", port, profile)
    link.start()
    try:
        yield link
    finally:
        link.stop()
