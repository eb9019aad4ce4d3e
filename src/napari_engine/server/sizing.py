"""How large the server makes itself unless told: worker processes from the machine's
cores (``--workers auto``) and an address-space cap per process from its memory
(``--memory-limit auto``).

Workers: one worker process runs one napari, whose engine thread holds Python's lock
for most of a command or a draw, beside its encoder's and Mesa's (llvmpipe) threads
and its loader's; ``CORES_PER_WORKER`` cores a worker. Below that many cores a pool
does not pay: measured on 2 cores (``python -m napari_engine.bench.soak --phases load
--clients 8 --duration 20``, 8 sessions), 2 workers against none put the p95
input-to-frame latency from 155 to 273 ms (the relay and two napari processes on two
cores); there the sessions run in the server's own process.

Memory: a process may map at most the machine's memory shared among its workers (at
least ``MIN_LIMIT``, napari's, Qt's and GL's own ~2 GiB included), and room for the
address space each core's threads reserve (``ROOM_PER_CORE``), so that one
command's allocation fails that command rather than the machine. Not where NVIDIA's
driver is loaded: CUDA and NVIDIA's GL reserve address space far beyond memory, and a
cap on it would break them (``--memory-limit`` still sets one by hand).
"""

from __future__ import annotations

import os
from pathlib import Path

#: the cores one worker process is given by ``--workers auto``
CORES_PER_WORKER = 4
#: the smallest address space ``--memory-limit auto`` gives a process
MIN_LIMIT = 4 << 30
#: address space each core adds to the cap: Mesa's llvmpipe runs a thread per core, and
#: glibc reserves 64 MiB of address space for each thread's malloc arena, plus its stack
ROOM_PER_CORE = 128 << 20
#: what tells that NVIDIA's kernel driver is loaded
NVIDIA_DRIVER = Path("/proc/driver/nvidia")


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a batch job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_memory() -> int:
    """The machine's physical memory, in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def auto_workers(cores: int) -> int:
    """Worker processes for ``cores`` cores (0: sessions in the server's process)."""
    return cores // CORES_PER_WORKER


def auto_memory_limit(memory: int, workers: int, nvidia: bool, cores: int = 1
                      ) -> int | None:
    """The address space of each serving process (None: no cap): its share of memory,
    and room for the threads ``cores`` cores bring (address space they reserve, not
    memory they use)."""
    if nvidia:
        return None
    return max(MIN_LIMIT, memory // max(1, workers)) + cores * ROOM_PER_CORE


def default_workers() -> int:
    return auto_workers(usable_cores())


def default_memory_limit(workers: int) -> int | None:
    return auto_memory_limit(machine_memory(), workers, NVIDIA_DRIVER.exists(),
                             usable_cores())
