"""Object stores on loopback, and ``python -m napari_engine.bench.stores``: the remote
OME-Zarr readers compared on the same stores.

``serve_http(folder)`` serves a folder with Python's own HTTP server; ``serve_s3(folder)``
starts moto's standalone S3 server (a real S3 API over HTTP) and uploads the folder into a
bucket. Both listen on 127.0.0.1 only, on a free port, and stop with their context.

The comparison writes a 3-level OME-Zarr pyramid (zarr v2 and v3, 256 x 256 chunks), serves
it both ways and times, for each reader: opening the image (its metadata) and reading a
level-0 region of 16 chunks (what one view of a 1024 x 1024 canvas needs). Candidates:
zarr-python over fsspec, zarr-python over obstore, and tensorstore.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the bucket ``serve_s3`` uploads into
BUCKET = "napari-engine-test"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server, quiet, and answering byte ranges (``Range: bytes=a-b`` and
    ``bytes=-n``) as every object store and web server does: a sharded zarr v3 array is
    read a chunk at a time out of its shard files."""

    def __init__(self, *args: Any, before: Callable[[str], int | None] | None = None,
                 redirect: Callable[[str], tuple[int, str] | None] | None = None,
                 **kwargs: Any) -> None:
        #: asked before each answer, with the request's path: None to serve it, or an
        #: HTTP status to fail it with (``serve_http``'s ``before``)
        self.before = before
        #: asked next: None to serve the path, or a redirect's status and location
        self.redirect = redirect
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def send_head(self) -> Any:
        status = self.before(self.path) if self.before is not None else None
        if status is not None:
            self.send_error(status, "refused by the test store")
            return None
        moved = self.redirect(self.path) if self.redirect is not None else None
        if moved is not None:
            self.send_response(moved[0])
            self.send_header("Location", moved[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        wanted = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not wanted.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = wanted.removeprefix("bytes=").partition("-")
        if not first:  # the last ``last`` bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start > end or start >= size:
            self.send_error(416, "range not satisfiable")
            return None
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return _Slice(handle, end - start + 1)


class _Slice:
    """The part of a file a range asked for, as ``copyfile`` reads it."""

    def __init__(self, handle: Any, length: int) -> None:
        self._handle, self._left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data: bytes = self._handle.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


class _Server(http.server.ThreadingHTTPServer):
    # readers open many connections at once: the stdlib's backlog of 5 drops the rest,
    # and each dropped connection waits a second for TCP to retry
    request_queue_size = 256
    daemon_threads = True


@contextlib.contextmanager
def serve_http(folder: Path, before: Callable[[str], int | None] | None = None,
               redirect: Callable[[str], tuple[int, str] | None] | None = None
               ) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1; yields the base URL (no trailing slash).
    ``before(path)``, when given, runs before each answer (it may wait: a slow store)
    and may fail it with an HTTP status; ``redirect(path)`` may answer with a redirect
    (a status and a location)."""
    handler = functools.partial(_QuietHandler, directory=str(folder), before=before,
                                redirect=redirect)
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class S3Endpoint:
    """Where a loopback S3 server is, and the environment a client needs for it."""

    url: str  # the endpoint, http://127.0.0.1:PORT
    bucket: str

    @property
    def environment(self) -> dict[str, str]:
        """The usual AWS variables, pointing at this server (moto takes any key)."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def serve_s3(folder: Path) -> Iterator[S3Endpoint]:
    """moto's S3 server on 127.0.0.1 with ``folder``'s files in bucket ``BUCKET``."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = S3Endpoint(f"http://{host}:{port}", BUCKET)
        client = boto3.client("s3", endpoint_url=endpoint.url, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            client.upload_file(str(path), BUCKET, path.relative_to(folder).as_posix())
        yield endpoint
    finally:
        server.stop()


def write_pyramid(folder: Path, *, zarr_format: int, side: int = 2048,
                  chunk: int = 256, sharded: bool = False) -> Path:
    """A 3-level OME-Zarr image (NGFF 0.4 on zarr v2, 0.5 on zarr v3, in shards of 2 x 2
    chunks if ``sharded``) of a uint16 ramp, for the comparison and the tests."""
    import zarr

    path = folder / f"pyramid-v{zarr_format}{'-sharded' if sharded else ''}.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)  # type: ignore[arg-type]
    yy, xx = np.mgrid[0:side, 0:side]
    base = ((yy * 7 + xx * 3) % 65_000).astype(np.uint16)
    datasets: list[dict[str, Any]] = []
    for level in range(3):
        data = base[::2 ** level, ::2 ** level]
        array = group.create_array(str(level), shape=data.shape, dtype=data.dtype,
                                   chunks=(chunk, chunk),
                                   shards=(2 * chunk, 2 * chunk) if sharded else None)
        array[...] = data
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": [2.0 ** level, 2.0 ** level]}]})
    multiscales: Any = [{"version": "0.4" if zarr_format == 2 else "0.5",
                    "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
                    "datasets": datasets, "name": "pyramid"}]
    if zarr_format == 2:
        group.attrs["multiscales"] = multiscales
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": multiscales}
    return path


# -- the readers ------------------------------------------------------------------------
Region = tuple[slice, slice]
#: reader name -> (url, s3 endpoint or None) -> (open the level-0 array, read a region)
Reader = Callable[[str, "S3Endpoint | None"], Callable[[Region], np.ndarray]]


def _zarr_fsspec(url: str, s3: S3Endpoint | None) -> Callable[[Region], np.ndarray]:
    import zarr

    options = ({"endpoint_url": s3.url, "key": "testing", "secret": "testing"}
               if s3 is not None else None)
    group = zarr.open_group(url, mode="r", storage_options=options)
    dict(group.attrs)
    array: Any = group["0"]
    return lambda region: np.asarray(array[region])


def _zarr_obstore(url: str, s3: S3Endpoint | None) -> Callable[[Region], np.ndarray]:
    import zarr
    from obstore.store import HTTPStore, S3Store

    if s3 is not None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        store: Any = S3Store(bucket, prefix=prefix, endpoint=s3.url, access_key_id="testing",
                             secret_access_key="testing", region="us-east-1",
                             client_options={"allow_http": True})
    else:
        store = HTTPStore.from_url(url, client_options={"allow_http": True})
    group = zarr.open_group(zarr.storage.ObjectStore(store, read_only=True), mode="r")
    dict(group.attrs)
    array: Any = group["0"]
    return lambda region: np.asarray(array[region])


def _tensorstore(url: str, s3: S3Endpoint | None) -> Callable[[Region], np.ndarray]:
    import tensorstore as ts

    driver = "zarr3" if "-v3" in url else "zarr"
    if s3 is not None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        kvstore: dict[str, Any] = {"driver": "s3", "bucket": bucket, "path": f"{prefix}/",
                                   "endpoint": s3.url, "aws_region": "us-east-1"}
    else:
        kvstore = {"driver": "http", "base_url": url + "/"}
    array = ts.open({"driver": driver, "kvstore": {**kvstore, "path": kvstore.get(
        "path", "") + "0/"}}, read=True).result()
    return lambda region: np.asarray(array[region].read().result())


READERS: dict[str, Reader] = {"zarr + fsspec": _zarr_fsspec, "zarr + obstore": _zarr_obstore,
                              "tensorstore": _tensorstore}


def _timed(reader: Reader, url: str, s3: S3Endpoint | None, region: Region,
           expected: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median ms to open the image with ``reader``, and to read ``region`` (checked)."""
    opens, reads = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        read = reader(url, s3)
        t1 = time.perf_counter()
        values = read(region)
        reads.append(time.perf_counter() - t1)
        opens.append(t1 - t0)
        if not np.array_equal(values, expected):
            raise AssertionError(f"{reader.__name__} read other values ({url})")
    return statistics.median(opens) * 1e3, statistics.median(reads) * 1e3


def compare(repeats: int = 3) -> list[tuple[str, str, str, float, float]]:
    """(store, zarr format, reader, open ms, 16-chunk read ms), medians of ``repeats``."""
    import os

    import zarr

    rows = []
    region: Region = (slice(512, 1536), slice(512, 1536))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        paths = {fmt: write_pyramid(folder, zarr_format=fmt) for fmt in (2, 3)}
        expected = np.asarray(zarr.open_array(str(paths[2] / "0"))[region])
        with serve_http(folder) as base, serve_s3(folder) as s3:
            os.environ.update(s3.environment)
            urls = [(store, fmt, url, endpoint) for fmt, path in paths.items()
                    for store, url, endpoint in (("http", f"{base}/{path.name}", None),
                                                 ("s3", f"s3://{s3.bucket}/{path.name}", s3))]
            for store, fmt, url, endpoint in sorted(urls, key=lambda u: (u[0], u[1])):
                for name, reader in READERS.items():
                    rows.append((store, f"v{fmt}", name,
                                 *_timed(reader, url, endpoint, region, expected, repeats)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.stores",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'store':<6}{'zarr':<6}{'reader':<16}{'open ms':>10}{'16 chunks ms':>14}")
    for store, fmt, name, open_ms, read_ms in compare(args.repeats):
        print(f"{store:<6}{fmt:<6}{name:<16}{open_ms:>10.1f}{read_ms:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
