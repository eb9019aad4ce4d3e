"""The data-loading stage's seat beside the scheduler.

A frame must never wait for data. The scheduler asks the loading stage, before drawing a
session, whether the data that draw needs is still on its way (``pending``); if so it
draws other sessions and comes back when the stage submits ``DataReady`` for it, never
blocking its loop. Loading itself (chunks read with bounded concurrency off the engine
thread, coarse levels standing in for missing chunks, prefetch, cancellation) belongs to
the stage behind this interface.

``InlineLoading`` is today's stage: napari slices inside its draw, on the engine thread,
so nothing is ever pending.
"""

from __future__ import annotations

from typing import Protocol

from napari_engine.server.session import Session


class LoadingStage(Protocol):
    """What the scheduler needs from a data-loading stage."""

    def pending(self, session: Session) -> bool:
        """True while data the session's next draw needs is still loading (the stage
        then submits ``DataReady(session.name)`` once it has arrived)."""
        ...

    def forget(self, session: str) -> None:
        """The session closed: drop its requests and cached state."""
        ...


class InlineLoading:
    """Data is read inside napari's draw: nothing is ever pending."""

    def pending(self, session: Session) -> bool:
        return False

    def forget(self, session: str) -> None:
        return None
