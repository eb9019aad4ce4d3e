"""``python -m napari_engine.server``: open the data, start the scheduler and the websocket.

The scheduler (napari, Qt, GL) runs on the main thread, as Qt expects; the network loop
runs on a background thread. The connection URL is printed on stdout, like Jupyter's,
and is the only thing printed there, so scripts can read it.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_engine.server.budget import DEFAULT_BUDGET_S
from napari_engine.server.gl_env import prepare_headless_env
from napari_engine.server.sizing import (
    CORES_PER_WORKER,
    default_memory_limit,
    default_workers,
)

#: the token, when it is not on the command line (``--token``)
TOKEN_VARIABLE = "NAPARI_ENGINE_TOKEN"
#: the default of ``--workers``
WORKERS_VARIABLE = "NAPARI_ENGINE_WORKERS"
#: where clients' saves go unless ``--save-dir`` says otherwise
DEFAULT_SAVE_DIR = Path.home() / "napari-engine" / "saved"
#: where sessions journal their edits unless ``--journal-dir`` says otherwise
DEFAULT_JOURNAL_DIR = Path.home() / "napari-engine" / "journal"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, not {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise argparse.ArgumentTypeError("width and height must be in [16, 8192]")
    return width, height


def _open_data(args: argparse.Namespace) -> list[Any]:
    """The chunk cache's budget, the Dask cluster, the storage options, then the data's
    layer specs (the built-in sample without ``--data``)."""
    from napari_engine.data import cluster, open_data, sample_layers, stores
    from napari_engine.data.cache import default_cache, default_cache_bytes

    default_cache().resize(args.cache_memory if args.cache_memory is not None
                           else default_cache_bytes())
    address = cluster.address_from(args.dask_scheduler)
    if address is not None:
        threads = cluster.connect(address).threads
        logging.getLogger(__name__).info("chunks computed on the Dask cluster at %s "
                                         "(%d threads)", address, threads)
    if args.storage_option:
        stores.configure(dict(args.storage_option))
    specs = [spec for path in args.data for spec in open_data(path)]
    return specs if args.data or args.empty else sample_layers()


def _tls(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context (None: plain ws://)."""
    if certfile is None:
        if keyfile is not None:
            raise OSError("--keyfile needs --certfile")
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def _option(text: str) -> tuple[str, str]:
    """``--storage-option KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"a storage option looks like KEY=VALUE, not {text!r}")
    return key.strip(), value


def _seconds(text: str) -> float:
    """``--command-budget``: a finite number of seconds, 0 for none."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds (0: no limit)")
    return value


def _scale(value: str) -> float | None:
    """``--interactive-scale``: a fraction in [0.1, 1], or ``auto`` (None)."""
    if value == "auto":
        return None
    try:
        scale = float(value)
    except ValueError:
        scale = -1.0
    if not 0.1 <= scale <= 1.0:
        raise argparse.ArgumentTypeError("must be 'auto' or a number in [0.1, 1]")
    return scale


def _workers(text: str) -> int:
    """``--workers``: a count, or ``auto`` (from the cores)."""
    if text.strip().lower() == "auto":
        return default_workers()
    try:
        count = int(text)
    except ValueError:
        count = -1
    if not 0 <= count <= 1024:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a count of workers, not {text!r}")
    return count


def _memory_limit(text: str) -> int | str:
    """``--memory-limit``: bytes, ``none``, or ``auto`` (resolved once the workers are
    known: ``sizing``)."""
    if text.strip().lower() in ("auto", "none"):
        return text.strip().lower()
    return _memory(text)


def _memory(text: str) -> int:
    """``--cache-memory``: bytes, with an optional K/M/G/T suffix (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in units else ""
    try:
        amount = float(value[: len(value) - len(unit)])
    except ValueError:
        amount = -1.0
    if not 0 <= amount * units[unit] <= 1 << 50:
        raise argparse.ArgumentTypeError(f"must look like 512M or 4G, not {text!r}")
    return int(amount * units[unit])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,  # a worker's command line is the front's less its own options
        prog="python -m napari_engine.server",
        description="Headless napari render server: renders next to the data and streams "
                    "frames to napari-engine clients.")
    parser.add_argument("--data", action="append", default=[], metavar="PATH_OR_URL",
                        help="OME-Zarr or TIFF to open as layers (repeatable); without it a "
                             "built-in procedural petabyte-scale sample is served")
    parser.add_argument("--empty", action="store_true",
                        help="start each session with no layers, as a new napari viewer "
                             "(instead of the built-in sample when there is no --data)")
    parser.add_argument("--browse", action="append", default=[], metavar="DIR",
                        help="a folder clients may browse to open files from (the "
                             "window's File > Open; repeatable); default: the folders of "
                             "the --data paths and the save directory")
    parser.add_argument("--data-root", action="append", default=[], metavar="DIR_OR_URL",
                        help="a folder, or a URL prefix (https://host/path/, s3://bucket/), "
                             "clients may open data from (repeatable; a path is resolved, "
                             "links included, before it is compared); default: the "
                             "folders of the --data paths and the current directory. The "
                             "--browse folders are data roots too")
    parser.add_argument("--read-only", action="store_true",
                        help="refuse clients' saves (layer.save)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE) or None,
                        help="access token clients must present (default: "
                             f"${TOKEN_VARIABLE}, else a random one; the variable keeps it "
                             "off the command line, where every user of the machine sees it)")
    parser.add_argument("--certfile", type=Path, default=None, metavar="PEM",
                        help="serve wss:// (TLS) with this certificate chain (with --keyfile)")
    parser.add_argument("--keyfile", type=Path, default=None, metavar="PEM",
                        help="the certificate's private key (default: in --certfile)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a web page's origin (https://host:port) that may connect; "
                             "browsers' pages of other origins are refused; '*' allows all "
                             "(repeatable)")
    parser.add_argument("--size", type=_size, default=(1920, 1080),
                        help="the canvas of a client that names none, WIDTHxHEIGHT "
                             "(each client has its own; a window sends its own)")
    parser.add_argument("--session-idle", type=float, default=60.0, metavar="SECONDS",
                        help="close a session this long after its last client left")
    parser.add_argument("--still-delay", type=float, default=0.3, metavar="SECONDS",
                        help="send a still (lossless where the link carries it) after the "
                             "scene rests this long")
    parser.add_argument("--interactive-scale", type=_scale, default=None, metavar="S|auto",
                        help="render at S x the resolution while the scene keeps changing "
                             "(e.g. 0.5: a quarter of the pixels), or 'auto' (default): "
                             "full, half or quarter, whichever draws within a 30 frames/s "
                             "budget; stills are always full size")
    parser.add_argument("--pan-redraw", choices=["strips", "full"], default="strips",
                        help="during a 2D pan draw only the uncovered strips over the moved "
                             "last frame (default), or every frame whole")
    parser.add_argument("--save-dir", type=Path, default=DEFAULT_SAVE_DIR, metavar="DIR",
                        help="where clients' saves are written, with napari's writers "
                             f"(default: {DEFAULT_SAVE_DIR})")
    parser.add_argument("--journal-dir", default=str(DEFAULT_JOURNAL_DIR), metavar="DIR",
                        help="where each session's edits are journaled as they happen; a "
                             "server restarted with the same command line restores them "
                             f"('none' turns it off; default: {DEFAULT_JOURNAL_DIR})")
    parser.add_argument("--cache-memory", type=_memory, default=None, metavar="BYTES",
                        help="memory for loaded chunks, shared by every layer and session "
                             "(e.g. 512M, 4G; least recently seen evicted first; default: "
                             "a quarter of this machine's memory, at most 4G)")
    parser.add_argument("--memory-limit", type=_memory_limit, default="auto",
                        metavar="BYTES",
                        help="the address space of this server process (of each worker "
                             "with --workers): an allocation past it fails the command or "
                             "hides the layer that asked for it, not the machine (about 2G "
                             "of it is napari's, Qt's and GL's own; e.g. 8G; 'none'; "
                             "default 'auto': this machine's memory shared among the "
                             "workers, at least 4G, and 128M a core; none where NVIDIA's "
                             "driver is loaded)")
    parser.add_argument("--command-budget", type=_seconds, default=DEFAULT_BUDGET_S,
                        metavar="SECONDS",
                        help="how long one command may hold the server's napari before it "
                             "is interrupted and undone, so that no request freezes the "
                             "other sessions (default %(default)g; 0: no limit)")
    parser.add_argument("--load-workers", type=int, default=8, metavar="N",
                        help="threads loading chunks beside the drawing (default 8; 0: "
                             "napari reads inside its draw, and a frame waits for data)")
    parser.add_argument("--voxels-3d", type=int, default=1 << 24, metavar="N",
                        help="in 3D, draw a multiscale image from its finest level of at "
                             "most N voxels (default 16777216, 256^3; napari itself draws "
                             "the coarsest); coarser levels stand in while it loads")
    parser.add_argument("--storage-option", action="append", default=[], type=_option,
                        metavar="KEY=VALUE",
                        help="an option for s3:// stores, over the AWS_* variables "
                             "(obstore's keys: endpoint, region, access_key_id, "
                             "secret_access_key, session_token, skip_signature, ...); "
                             "repeatable")
    parser.add_argument("--workers", type=_workers,
                        default=os.environ.get(WORKERS_VARIABLE, "auto"),
                        metavar="N",
                        help="run sessions in N worker processes behind this one, which "
                             "routes connections and starts a worker that dies again (its "
                             "sessions come back from their journals; scripts and napari's "
                             "window reconnect); 0: sessions in this process; default "
                             f"${WORKERS_VARIABLE} or 'auto': one per {CORES_PER_WORKER} "
                             "cores this process may use (0 below that)")
    parser.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                        help="load, decode and compute chunks on an existing Dask cluster "
                             "(e.g. tcp://10.0.0.5:8786; default: $DASK_SCHEDULER_ADDRESS; "
                             "none: in this process). Its workers need napari-engine and "
                             "the same data (URL or shared path)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from napari_engine.server.guard import is_loopback, redact_logs

    redact_logs()  # the token never reaches a log, at any level
    try:
        tls = _tls(args.certfile, args.keyfile)
    except (OSError, ssl.SSLError) as exc:
        print(f"error: cannot use the certificate: {exc}", file=sys.stderr)
        return 2
    if tls is None and not is_loopback(args.host):
        print(f"warning: serving {args.host} without TLS: the token and every frame "
              "cross the network in the clear (use --certfile/--keyfile, or bind "
              "127.0.0.1 and forward the port over ssh)", file=sys.stderr)
    memory_limit = (default_memory_limit(args.workers) if args.memory_limit == "auto"
                    else None if args.memory_limit == "none" else int(args.memory_limit))
    if args.workers > 0:
        from napari_engine.server.workers import serve_front

        return serve_front(argv, args.workers, str(args.journal_dir), args.host, args.port,
                           args.token or secrets.token_urlsafe(24), tls=tls,
                           allowed_origins=args.allow_origin, memory_limit=memory_limit,
                           session_idle=args.session_idle,
                           command_budget=args.command_budget)
    if memory_limit is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    prepare_headless_env()
    from napari_engine.data import DataError, cluster

    try:
        specs = _open_data(args)
    except (DataError, cluster.ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from napari_engine.data.roots import DataRoots
    from napari_engine.server.browsing import default_roots
    from napari_engine.server.network import NetworkServer
    from napari_engine.server.scheduler import Scheduler, SchedulerConfig
    from napari_engine.server.streams import StreamConfig

    token = args.token or secrets.token_urlsafe(24)
    save_dir = None if args.read_only else args.save_dir
    browse = (tuple(Path(p).expanduser().resolve() for p in args.browse)
              or tuple(default_roots(args.data, save_dir)))
    scheduler = Scheduler(specs, SchedulerConfig(
        size=args.size, idle_timeout=args.session_idle, pan_strips=args.pan_redraw == "strips",
        save_dir=save_dir,
        journal_dir=None if args.journal_dir == "none" else Path(args.journal_dir),
        browse_roots=browse,
        data_roots=DataRoots.of([*(args.data_root or DataRoots.defaults(args.data)),
                                 *map(str, browse)]),
        load_workers=max(0, args.load_workers), voxels_3d=max(1, args.voxels_3d),
        command_budget=args.command_budget,
        stream=StreamConfig(still_delay=args.still_delay,
                            interactive_scale=args.interactive_scale)))
    network = NetworkServer(scheduler.submit, args.host, args.port, token, tls=tls,
                            allowed_origins=args.allow_origin)
    try:
        port = network.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"{'wss' if tls else 'ws'}://{host}:{port}/?token={token}", flush=True)

    def stop(_signum: int, _frame: object) -> None:
        scheduler.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        scheduler.run()
    finally:
        network.stop()
        cluster.disconnect()
    return 0
