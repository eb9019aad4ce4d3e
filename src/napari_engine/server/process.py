"""Start a server as a child process and learn its URL: used by the demo, the benchmark
and the integration tests, so all three run the real server exactly as a user does."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, ClassVar, Protocol, TextIO

if TYPE_CHECKING:
    from napari_engine.server.forkserver import ForkServer


def pinned_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins a child process (and every thread it will start) to
    ``cpus`` (None: no pinning)."""
    if cpus is None:
        return None
    chosen = set(cpus)
    return lambda: os.sched_setaffinity(0, chosen)


class ChildProcess(Protocol):
    """What a started server is to its starter: ``subprocess.Popen``, or a
    ``forkserver.ForkedProcess``."""

    pid: int
    returncode: int | None
    stdout: IO[str] | None
    stderr: IO[str] | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


class ServerProcess:
    """``python -m napari_engine.server --port 0 ...`` in a child process."""

    #: where servers are forked from instead of started anew, when set (the test suite:
    #: ``forkserver``); a server's own workers are always started anew
    forkserver: ClassVar[ForkServer | None] = None

    def __init__(self, args: Sequence[str] = (), *, log_path: str | Path | None = None,
                 start_timeout: float = 120.0, env: dict[str, str] | None = None,
                 cpus: set[int] | None = None, echo: TextIO | None = None,
                 echo_prefix: str = "") -> None:
        self.args = ["--port", "0", *args]
        #: where each line of its stderr is also written (a front: its workers' logs)
        self.echo, self.echo_prefix = echo, echo_prefix
        #: a server started from code journals into a folder of its own unless told
        #: where (tests and benchmarks must not restore each other's sessions); it is
        #: removed when the server stops
        self._scratch_journal: str | None = None
        if "--journal-dir" not in self.args:
            self._scratch_journal = tempfile.mkdtemp(prefix="napari-engine-journal-")
            self.args += ["--journal-dir", self._scratch_journal]
        #: the CPU cores the server may run on (all its threads: set before it starts any)
        self.cpus = cpus
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: ChildProcess | None = None
        self.url = ""
        self._stderr_lines: list[str] = []

    def start(self) -> str:
        proc: ChildProcess
        if self.forkserver is not None:
            proc = self.forkserver.spawn(self.args, self.env, self.cpus)
        else:
            proc = subprocess.Popen(
                [sys.executable, "-m", "napari_engine.server", *self.args],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                preexec_fn=pinned_to(self.cpus))
        self.proc = proc
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None and proc.stderr is not None
        threading.Thread(target=self._pump, args=(proc.stdout, lines), daemon=True).start()
        threading.Thread(target=self._drain_stderr, args=(proc.stderr,), daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            if line.startswith(("ws://", "wss://")):
                self.url = line.strip()
                return self.url
        self.stop()
        raise RuntimeError("server did not start: " + "".join(self._stderr_lines[-20:]))

    @staticmethod
    def _pump(stream: object, lines: queue.Queue[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)

    def _drain_stderr(self, stream: object) -> None:
        log = self.log_path.open("a") if self.log_path else None
        try:
            for line in stream:  # type: ignore[attr-defined]
                self._stderr_lines.append(line)
                del self._stderr_lines[:-200]
                if log:
                    log.write(line)
                    log.flush()
                if self.echo is not None:
                    try:
                        self.echo.write(self.echo_prefix + line)
                        self.echo.flush()
                    except (OSError, ValueError):  # gone (a closed terminal): drain on,
                        self.echo = None  # or the child blocks on a full pipe
        finally:
            if log:
                log.close()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr_lines)

    def resident_bytes(self) -> int:
        """The resident memory of the server and of its workers (``--workers``)."""
        import psutil

        try:
            root = psutil.Process(self.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]
                       if p.is_running())
        except psutil.Error:
            return 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._scratch_journal is not None:
            shutil.rmtree(self._scratch_journal, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
