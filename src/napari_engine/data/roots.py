"""What a client may open: paths below the server's data roots, URLs below its URL roots.

A server runs next to valuable data with the rights of its user; a client (even one
with the token) names paths and URLs (``add_image(path)``) and must reach only what the
operator offered (``--data-root``). A path is resolved (``~``, ``..``, ``file://``,
symbolic links) before it is compared, so a link inside a root that points outside is
outside; only regular files and folders are opened (a FIFO or a device named ``x.tif``
would block or leak). A name outside the roots gets the same answer whether or not it
exists, so the server's disk cannot be probed through it. URLs (HTTP(S), S3) are
fetched by the server, so they are bounded too (a client must not make the server
fetch from its private network): only below a URL root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from napari_engine.data.spec import DataError
from napari_engine.data.stores import is_remote


class OutsideRoots(DataError):
    """A client named a path or URL it may not open (the message says only that)."""


@dataclass(frozen=True)
class DataRoots:
    """Folders (resolved) and URL prefixes a client may open from."""

    folders: tuple[Path, ...]
    urls: tuple[str, ...] = ()

    @classmethod
    def of(cls, roots: Iterable[str]) -> DataRoots:
        """Roots from ``--data-root`` values: folders, or URL prefixes (``s3://bucket/``,
        ``https://host/path/``)."""
        folders: list[Path] = []
        urls: list[str] = []
        for root in roots:
            if is_remote(root):  # "https://" alone (every host) only if said so
                urls.append(root if root.endswith(("/", "://")) else root + "/")
            else:
                folders.append(Path(root).expanduser().resolve())
        return cls(tuple(dict.fromkeys(folders)), tuple(dict.fromkeys(urls)))

    @staticmethod
    def defaults(data: Iterable[str]) -> list[str]:
        """The roots when none are given: the folder (or URL prefix) of each ``--data``
        and the current directory."""
        roots = []
        for item in data:
            if is_remote(item):  # its folder, never less than its host (or bucket)
                parts = urlsplit(item)
                folder = parts.path.rstrip("/").rsplit("/", 1)[0]
                roots.append(f"{parts.scheme}://{parts.netloc}{folder}/")
            else:
                roots.append(str(Path(item).expanduser().resolve().parent))
        return [*roots, os.getcwd()]

    def check(self, name: str) -> str:
        """``name`` as the server opens it (a resolved path, or the URL), if a client may
        open it; else ``OutsideRoots``."""
        text = str(name).strip()
        if is_remote(text):
            segments = unquote(urlsplit(text).path).replace("\\", "/").split("/")
            if (not {".", ".."} & set(segments)
                    and any(text.startswith(prefix) for prefix in self.urls)):
                return text
            raise OutsideRoots(f"{text!r} is not below the server's data roots "
                               "(--data-root)")
        if text.lower().startswith("file://"):
            text = text[len("file://"):]
        try:
            path = Path(text).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop, a NUL: said alike
            path = None
        if path is None or not any(path.is_relative_to(root) for root in self.folders):
            raise OutsideRoots(f"{name!r} is not below the server's data roots "
                               "(--data-root)")
        try:
            mode = path.stat().st_mode
        except OSError:
            raise DataError(f"no such file or directory: {name}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise DataError(f"not a regular file or folder: {name}")
        return str(path)
