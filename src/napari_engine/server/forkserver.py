"""Start servers by forking a process that has already imported them.

A server started as ``python -m napari_engine.server`` spends about 2 of its 3 CPU
seconds to first frame importing napari, vispy, numpy and zarr (measured here: 1.9 s
of imports, 2.9 s of CPU from start to stop of an empty server). The test suite starts
about 80 servers on a 2-core machine; the fork server imports them once and forks a
fresh server for each (``ServerProcess.forkserver``), which then runs the same
``cli.main`` as one started from the command line. It forks from a process that has
imported modules and started nothing else (no GL context, no event loop, no thread of
its own), as ``multiprocessing``'s forkserver does.

The protocol between the two ends is one ``SOCK_SEQPACKET`` socket pair: a request is
a JSON message (arguments, environment, working folder, CPU cores) carrying three file
descriptors (the child's stdout and stderr, and a status pipe); the answer is the
child's pid. When the child ends, the fork server writes its exit code (negative: the
signal that ended it, as ``subprocess`` says it) into the status pipe and closes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

#: what ``cli.main`` imports when it runs: imported once, before any fork
PRELOADED = ("napari_engine.server.cli", "napari_engine.server.network",
             "napari_engine.server.session", "napari_engine.server.scheduler",
             "napari_engine.server.streams", "napari_engine.server.workers",
             "napari_engine.server.guard", "napari_engine.server.browsing",
             "napari_engine.data", "napari_engine.data.roots", "napari_engine.data.cluster",
             "napari_engine.data.cache")
#: the largest request (a server's arguments and environment)
MAX_REQUEST = 1 << 20


class ForkedProcess:
    """A server forked by the fork server: what ``ServerProcess`` uses of
    ``subprocess.Popen`` (it is not this process's child, so its exit code comes
    through the status pipe)."""

    def __init__(self, args: list[str], pid: int, stdout: IO[str], stderr: IO[str],
                 status: int) -> None:
        self.args, self.pid = args, pid
        self.stdout: IO[str] | None = stdout
        self.stderr: IO[str] | None = stderr
        self._status = status
        self.returncode: int | None = None

    def _read_status(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._status], [], [], timeout)
            if ready:
                text = os.read(self._status, 64).decode().strip()
                os.close(self._status)
                self.returncode = int(text) if text else -signal.SIGKILL
        return self.returncode

    def poll(self) -> int | None:
        return self._read_status(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._read_status(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # ended since: status to come
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """A fork server, started as this object is made (it imports the server, so its
    first fork waits for that), and the requests to it (``spawn``)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = ours
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "napari_engine.server.forkserver", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL)
        theirs.close()
        self._lock = threading.Lock()

    def spawn(self, args: list[str], env: dict[str, str], cpus: set[int] | None = None
              ) -> ForkedProcess:
        """A server forked with ``args`` (as ``python -m napari_engine.server`` takes
        them), ``env`` and the current folder, pinned to ``cpus``."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        status_r, status_w = os.pipe()
        request = json.dumps({"args": args, "env": env, "cwd": os.getcwd(),
                              "cpus": sorted(cpus) if cpus is not None else None})
        try:
            with self._lock:
                socket.send_fds(self._socket, [request.encode()], [out_w, err_w, status_w])
                answer = self._socket.recv(64)
        finally:
            for fd in (out_w, err_w, status_w):
                os.close(fd)
        if not answer:
            for fd in (out_r, err_r, status_r):
                os.close(fd)
            raise RuntimeError("the fork server is gone")
        return ForkedProcess([sys.executable, "-m", "napari_engine.server", *args],
                             int(answer), open(out_r), open(err_r), status_r)

    def close(self) -> None:
        self._socket.close()  # the fork server ends when its socket does
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


def _serve(fd: int) -> None:
    """The fork server's loop: fork a server for each request, report each one's end."""
    from napari_engine.server.gl_env import prepare_headless_env

    prepare_headless_env()  # before OpenGL is imported: it picks its platform then
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    control = socket.socket(fileno=fd)
    statuses: dict[int, int] = {}  # child pid -> its status pipe
    while True:
        ready, _, _ = select.select([control], [], [], 0.1)
        _reap(statuses)
        if not ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        if not message:  # the other end closed: the children go on until stopped
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            for status in statuses.values():
                os.close(status)
            _run_server(json.loads(message), *fds)  # never returns
        os.close(fds[0])
        os.close(fds[1])
        statuses[pid] = fds[2]
        control.send(str(pid).encode())


def _reap(statuses: dict[int, int]) -> None:
    """Tell each ended child's requester its exit code."""
    while statuses:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = statuses.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):  # its requester is gone
                os.write(fd, str(os.waitstatus_to_exitcode(status)).encode())
            os.close(fd)


def _run_server(request: dict[str, Any], stdout: int, stderr: int, status: int) -> None:
    """In the forked child: become ``python -m napari_engine.server ARGS`` and exit as
    it would (``sys.exit``: the interpreter's own shutdown, atexit handlers included)."""
    os.close(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.close(stdout)
    os.close(stderr)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    if request["cpus"] is not None:
        os.sched_setaffinity(0, set(request["cpus"]))
    sys.argv = [sys.argv[0], *request["args"]]
    from napari_engine.server.cli import main

    sys.exit(main(request["args"]))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
