"""``--memory-limit``: the server process's address space, and each worker's (the front
process routes, and stays unlimited); by default the machine's memory shared among the
workers (``sizing``)."""

from __future__ import annotations

import psutil

from napari_engine.server import sizing
from napari_engine.server.process import ServerProcess

LIMIT = 6 << 30


def _limit(pid: int) -> int:
    soft, _hard = psutil.Process(pid).rlimit(psutil.RLIMIT_AS)
    return int(soft)


def test_the_limit_is_the_servers_and_each_workers() -> None:
    args = ["--token", "t", "--size", "64x48", "--empty", "--journal-dir", "none"]
    with ServerProcess(args) as alone:  # by default: the machine's memory
        expected = sizing.default_memory_limit(0)  # None under NVIDIA's driver
        assert _limit(alone.pid) == (psutil.RLIM_INFINITY if expected is None else expected)
    with ServerProcess([*args, "--workers", "1", "--memory-limit", "6G"]) as front:
        workers = [p for p in psutil.Process(front.pid).children()
                   if "napari_engine.server" in " ".join(p.cmdline())]
        assert len(workers) == 1 and _limit(workers[0].pid) == LIMIT
        assert _limit(front.pid) != LIMIT
