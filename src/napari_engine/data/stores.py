"""Remote stores: an OME-Zarr served over HTTP(S) or kept in S3, opened for zarr-python.

Chosen by measurement (``python -m napari_engine.bench.stores``: the same pyramid, zarr v2
and v3, served on loopback by Python's HTTP server and by moto's S3 server; medians of 3,
a 16-chunk region of level 0): over S3, zarr-python reading through obstore took 52-55
ms, through fsspec (s3fs) 144-156 ms, tensorstore 34-36 ms; over HTTP 23 / 26 / 10-12
ms. zarr-python over obstore is taken: the local and the remote images then share one
reader (zarr groups and arrays: the NGFF metadata, every zarr format and codec zarr
reads, dask arrays over them), at 2.8x fsspec's speed on S3. tensorstore reads chunks
faster still and is the candidate for the loading stage's chunk reads; it has no
reader for the OME metadata.

Credentials and endpoints come from the usual environment variables, read by obstore:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``
(or ``AWS_DEFAULT_REGION``), ``AWS_ENDPOINT_URL`` (MinIO, Ceph, a local test server),
``AWS_SKIP_SIGNATURE=true`` for a public bucket read anonymously; or from options
(``configure``: the server's ``--storage-option KEY=VALUE``), obstore's S3 keys
(``endpoint``, ``region``, ``access_key_id``, ``secret_access_key``, ``session_token``,
``skip_signature``, ...), which win over the environment. Plain ``http://`` is allowed
where the URL or the endpoint says so.

An HTTP(S) store is read from its own host only (``only_its_host``): obstore follows
redirects wherever they point, and a client allowed one URL root (``--data-root``) must
not make the server fetch from another host through a redirect there.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import zarr

from napari_engine.data.spec import DataError, brief
from napari_engine.data.tiff import TIFF_SUFFIXES

#: what ``remote_store`` opens
REMOTE_SCHEMES = ("http://", "https://", "s3://")
#: a zipped OME-Zarr (RFC-9's ``.ozx``; the zarr store at the archive's root)
ZIPPED_ZARR_SUFFIXES = (".ozx", ".zarr.zip")
#: other object stores people name, refused with a clear message
_OTHER_SCHEMES = ("gs://", "gcs://", "az://", "abfs://", "azure://")


#: S3 options for every ``s3://`` store (``configure``)
_s3_options: dict[str, str] = {}


def configure(options: dict[str, str]) -> None:
    """S3 options for every ``s3://`` store opened from now on (obstore's configuration
    keys); checked here: an unknown key is a ``DataError`` naming it."""
    from obstore.store import S3Store

    try:
        S3Store("napari-engine-check", config=options)  # type: ignore[arg-type]
    except Exception as exc:  # obstore: an unknown key, a malformed value
        raise DataError(f"storage options: {brief(exc)}") from exc
    _s3_options.clear()
    _s3_options.update(options)


def is_remote(text: str) -> bool:
    """Whether ``text`` names a remote store (of any scheme people use)."""
    return text.lower().startswith(REMOTE_SCHEMES + _OTHER_SCHEMES)


def remote_store(url: str) -> Any:
    """A read-only zarr store over ``url`` (``http(s)://host/path.ome.zarr`` or
    ``s3://bucket/path.ome.zarr``)."""
    if not url.lower().startswith(REMOTE_SCHEMES):
        raise DataError(f"only http(s):// and s3:// stores are supported: {url}")
    if url.lower().rstrip("/").endswith(TIFF_SUFFIXES):
        raise DataError(f"only OME-Zarr is read remotely (copy a TIFF to the server): {url}")
    from obstore.store import from_url

    try:
        s3 = url.lower().startswith("s3://")
        config = dict(_s3_options) if s3 else None
        store = from_url(url.rstrip("/"), config=config,  # type: ignore[call-overload]
                         client_options={"allow_http": True,
                                         **({} if s3 else only_its_host(url))})
    except Exception as exc:  # obstore's errors for a malformed URL or configuration
        raise DataError(f"cannot open {url}: {brief(exc)}") from exc
    return zarr.storage.ObjectStore(store, read_only=True)


#: a proxy nothing answers at (no server can listen on port 0)
NOWHERE = "http://127.0.0.1:0"
#: the environment's proxy settings, which obstore (reqwest) follows
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy")


def only_its_host(url: str) -> dict[str, str]:
    """obstore client options under which a store of ``url`` reaches its own host and
    no other: every request goes through a proxy at ``NOWHERE`` (and fails) except those
    to the URL's host (reqwest's ``no_proxy``, which also lets its subdomains through),
    so a redirect elsewhere is an error. Where the environment names a proxy, that proxy
    is the operator's way out and is kept (none is added)."""
    host = urlsplit(url).hostname
    if not host or any(os.environ.get(name) for name in PROXY_VARIABLES):
        return {}
    return {"proxy_url": NOWHERE, "proxy_excludes": host}


def zipped_store(path: Any) -> Any:
    """A read-only zarr store over a zipped OME-Zarr (``.ozx``) on this machine."""
    import zipfile

    import zarr

    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
        return zarr.storage.ZipStore(path, mode="r")
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot open zipped OME-Zarr {path}: {brief(exc)}") from exc



class ContainedLocalStore(zarr.storage.LocalStore):
    """A read-only zarr store over a local OME-Zarr folder that reads nothing outside
    it: a key whose file is a link out of the folder (``0/c/0/0 -> /home/x/.ssh/id``)
    is an error, not data (zarr's own local store follows links, and a client could
    read any file as chunk bytes)."""

    def _inside(self, key: str) -> None:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise PermissionError(f"{key!r} links outside the OME-Zarr folder")

    async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        self._inside(key)
        return await super().get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: Any = None, byte_range: Any = None) -> Any:
        self._inside(key)
        return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(self, prototype: Any, key_ranges: Any) -> Any:
        key_ranges = list(key_ranges)
        for key, _range in key_ranges:
            self._inside(key)
        return await super().get_partial_values(prototype, key_ranges)


def contained_store(path: Any) -> ContainedLocalStore:
    """``ContainedLocalStore`` over the folder ``path``, read-only."""
    from pathlib import Path

    return ContainedLocalStore(Path(path), read_only=True)
