"""The session journal: every edit a session applied, on disk as it is applied, so a
server restarted with the same command line restores each session as it was.

A session's journal is a folder (one per session name, under ``--journal-dir``): an
append-only ``commands.jsonl`` with one line per applied command of the operations the
operation table marks ``journal`` (edits, and the view and canvas moves that input events
depend on: a brush stroke lands where the camera was), in the order they were applied,
merged commands as merged; and a file per binary payload (``add_image`` arrays), written
before the line that names it. Each line is written and flushed before the command's
answer leaves, so whatever a client saw acknowledged is in the operating system's hands
(it survives the server being killed; a machine crash may lose what was not yet on disk).
A line cut short by a kill is skipped when the journal is read.

Replaying is the live path again: the same handlers, in the same order, on a session
that starts from the same ``--data`` (layer ids follow from the order).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from napari_engine.protocol import encode_text

log = logging.getLogger(__name__)

LOG_NAME = "commands.jsonl"


def session_folder(root: Path, session: str) -> Path:
    """A session's journal folder: a readable, filesystem-safe name per session name."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in session)[:40]
    digest = hashlib.sha256(session.encode()).hexdigest()[:12]
    return root / f"{safe or 'session'}-{digest}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One applied command, as journaled."""

    op: str
    args: dict[str, Any]
    payload: bytes | None = None


class Journal:
    """One session's journal, open for appending."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / LOG_NAME
        written = log_path.read_bytes() if log_path.exists() else b""
        # payload files are numbered on from the lines already there
        self._count = written.count(b"\n")
        self._log: BinaryIO = open(log_path, "ab")  # noqa: SIM115  # kept open
        if written and not written.endswith(b"\n"):
            # a line cut short by a kill: end it (it is skipped) so the next one stands
            self._log.write(b"\n")
            self._log.flush()
            self._count += 1

    def record(self, op: str, args: dict[str, Any], payload: bytes | memoryview | None
               ) -> None:
        """Append one applied command (its payload first, in a file of its own)."""
        entry: dict[str, Any] = {"op": op, "args": args}
        if payload is not None:
            name = f"payload-{self._count:08d}.bin"
            (self.folder / name).write_bytes(payload)
            entry["payload"] = name
        self._log.write(encode_text(entry).encode() + b"\n")
        self._log.flush()
        self._count += 1

    def entries(self) -> Iterator[Entry]:
        """What was journaled, in order (a line cut short by a kill is skipped)."""
        try:
            lines = (self.folder / LOG_NAME).read_bytes().splitlines()
        except FileNotFoundError:
            return
        for number, line in enumerate(lines, 1):
            try:
                raw = json.loads(line)
                payload = None
                if "payload" in raw:
                    payload = (self.folder / str(raw["payload"])).read_bytes()
                yield Entry(str(raw["op"]), dict(raw["args"]), payload)
            except (ValueError, KeyError, TypeError, OSError) as exc:
                log.warning("journal %s line %d skipped: %s", self.folder, number, exc)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a full disk: what it could not write is lost
            self._log.close()
