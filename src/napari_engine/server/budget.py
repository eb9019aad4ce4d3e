"""A time budget for each command (``--command-budget``): a command that runs past it
is interrupted and undone, so one client's expensive request cannot hold the engine
thread (every session's frames) for minutes.

All sessions of a server share one engine thread (napari, Qt and GL are not
thread-safe), so a command napari spends a minute on is a minute without frames for
everyone. Cost limits (``protocol.validate``) refuse what is known to be expensive
before napari sees it; this is the net under them, for what nobody foresaw.

How: a watchdog thread watches the command that is running; past its budget it raises
``OverBudget`` in the engine thread (``PyThreadState_SetAsyncExc``: delivered at the
next Python instruction there, so napari's Python loops stop at once and a long C
call when it returns), again every ``RETRY_S`` in case napari swallowed it, and the
command is undone like any other failed command (``commands._all_or_nothing``). A
command still running ``STUCK_AFTER_S`` past its budget is stuck where no exception can
reach it (a C call that never returns): a worker process (``--workers``) then exits, and
its front starts it again with its sessions restored from their journals (the stuck
command was never journaled); a server without workers can only say so in its log.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: the budget unless ``--command-budget`` says otherwise
DEFAULT_BUDGET_S = 30.0
#: how often the interruption is raised again while the command still runs
RETRY_S = 0.5
#: how often the watchdog looks at the running command
POLL_S = 0.05
#: past its budget by this much, a command is stuck beyond reach (``on_stuck``)
STUCK_AFTER_S = 15.0
#: the exit status of a worker that gave up on a stuck command
STUCK_EXIT = 75
#: set in a worker's environment by its front: a stuck worker exits to be restarted
WORKER_VARIABLE = "NAPARI_ENGINE_WORKER"


class OverBudget(Exception):
    """Raised in the engine thread when its command has run past its budget."""

    def __init__(self) -> None:
        super().__init__("the command ran past the server's time budget")


@dataclass(frozen=True)
class _Running:
    serial: int
    what: str
    thread_id: int
    started: float


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Raise ``exc_type`` in the thread at its next Python instruction (None: forget a
    pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None)


def exit_stuck_worker(what: str, seconds: float) -> None:
    """A worker gives up: its front starts it again (its sessions from their journals).
    Said straight to stderr: the stuck thread may hold a log handler's lock, or be
    blocked writing to it."""
    message = (f"{what} has been stuck for {seconds:.0f} s where it cannot be "
               "interrupted: this worker exits to be started again\n")
    try:
        os.write(2, message.encode())
    finally:
        os._exit(STUCK_EXIT)


def log_stuck(what: str, seconds: float) -> None:
    """A server without workers can only tell: nothing restarts it."""
    log.critical("%s has been stuck for %.0f s where it cannot be interrupted: every "
                 "session waits for it (--workers would restart the stuck process)",
                 what, seconds)


def default_on_stuck() -> Callable[[str, float], None]:
    """Exit in a worker (its front restarts it), log otherwise."""
    return exit_stuck_worker if os.environ.get(WORKER_VARIABLE) else log_stuck


class CommandBudget:
    """``limit(what)`` around each command; ``seconds <= 0``: no budget.

    The engine thread only takes a plain lock (``threading.Lock``, whose ``with`` runs
    no Python code where an interruption could land and leave it held) to arm and
    disarm; the watchdog polls every ``POLL_S`` rather than being woken (a Condition's
    notify is Python code, which an interruption could leave half done)."""

    def __init__(self, seconds: float, *,
                 on_stuck: Callable[[str, float], None] | None = None,
                 stuck_after: float = STUCK_AFTER_S, retry: float = RETRY_S) -> None:
        self.seconds = seconds
        self.on_stuck = on_stuck or default_on_stuck()
        self.stuck_after = stuck_after
        self.retry = retry
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._serial = 0
        self._watchdog: threading.Thread | None = None

    @contextmanager
    def limit(self, what: str) -> Iterator[None]:
        """Run the block within the budget: past it, ``OverBudget`` is raised inside it
        (or as it ends: a command that finishes on the deadline may be interrupted)."""
        if self.seconds <= 0 or (self._running is not None
                                 and self._running.thread_id == threading.get_ident()):
            yield  # no budget, or inside a command that already has one
            return
        self._start_watchdog()
        try:
            with self._lock:
                self._serial += 1
                self._running = _Running(self._serial, what, threading.get_ident(),
                                         time.monotonic())
            yield
        finally:
            if self._disarm():
                raise OverBudget  # one landed as the block ended: it was over budget

    def _disarm(self) -> bool:
        """Stop watching this thread's command and forget an interruption still pending
        for it. One that lands here, before that is done, is caught and the disarming
        done again (left armed, the watchdog would interrupt whatever the thread did
        next); returns whether one landed."""
        landed = False
        while True:
            try:
                with self._lock:
                    self._running = None
                    _raise_in(threading.get_ident(), None)
                return landed
            except OverBudget:
                landed = True

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="command-budget",
                                              daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        warned, raised_at = 0, 0.0
        while True:
            time.sleep(POLL_S)
            stuck = warn = None
            with self._lock:  # the engine cannot disarm between the look and the raise
                running, now = self._running, time.monotonic()
                if running is None:
                    continue
                over = now - running.started - self.seconds
                if over < 0:
                    continue
                if over >= self.stuck_after:
                    self._running = None  # told once; it may still end by itself
                    stuck = running
                elif now - raised_at >= self.retry:
                    _raise_in(running.thread_id, OverBudget)
                    raised_at = now
                    if warned != running.serial:
                        warned, warn = running.serial, running
            # told outside the lock: a log handler may be slow, or held by the engine
            if warn is not None:
                log.warning("%s has run past its budget of %g s: interrupting it",
                            warn.what, self.seconds)
            if stuck is not None:
                self.on_stuck(stuck.what, over + self.seconds)


#: no budget: commands run as long as they take (``run`` without one, a replay)
UNLIMITED = CommandBudget(0.0)
