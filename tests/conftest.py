"""Shared fixtures: real server processes, an Xvfb display, paths to the shared data."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from napari_engine.bench.display import start_xvfb
from napari_engine.server.forkserver import ForkServer
from napari_engine.server.gl_env import prepare_headless_env
from napari_engine.server.process import ServerProcess

# In-process GL tests need PyOpenGL's EGL flavour, chosen once at its first import, which
# any test module importing napari may trigger: so choose before collecting anything.
# Tests that start a real Qt window (under Xvfb) set their own environment.
prepare_headless_env()
# The servers tests start serve their sessions in their own process (as ``--workers
# auto`` does below 4 cores) on any machine, unless a test asks for workers: the same
# suite whatever the machine's cores.
os.environ.setdefault("NAPARI_ENGINE_WORKERS", "0")

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
#: the real microscopy files the data tests read (../shared/data/README.md lists them)
SHARED_FILES = ("dna_conf_wf_zcyx_u16.tif", "chromosomes_zyx_u16.tif",
                "cancer_cell_migration_tyx_u16.tif", "neuron_4ch_cyx_u16.ome.tiff",
                "nuclei_plk1.ome.zarr")


def _origin() -> Path | None:
    """The repository a local clone was made from (a fresh clone in a temporary folder
    finds the shared data beside its origin)."""
    try:
        url = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://")) if url else None
    return path if path is not None and path.is_dir() else None


def _find_shared_data() -> Path | None:
    """``$NAPARI_ENGINE_TEST_DATA``, or ``shared/data`` beside the checkout (or its local
    origin) or any folder above them."""
    given = os.environ.get("NAPARI_ENGINE_TEST_DATA")
    if given:
        return Path(given)
    origin = _origin()
    for start in (ROOT, *([origin] if origin else [])):
        for folder in start.resolve().parents:
            if (folder / "shared" / "data").is_dir():
                return folder / "shared" / "data"
    return None


SHARED_DATA = _find_shared_data()


def pytest_report_header() -> str:
    if SHARED_DATA is None:
        return ("shared test data: NOT FOUND (set NAPARI_ENGINE_TEST_DATA): the tests on real "
                "microscopy files will be skipped")
    return f"shared test data: {SHARED_DATA}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SHARED_DATA is None:
        terminalreporter.write_line(
            "WARNING: shared test data not found (set NAPARI_ENGINE_TEST_DATA): every test "
            "on real microscopy files was skipped", red=True, bold=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; skipped loudly when absent, a failure when it is
    there but incomplete (a half-copied folder must not pass for a checked one)."""
    if SHARED_DATA is None:
        pytest.skip("shared test data not found (set NAPARI_ENGINE_TEST_DATA)")
    missing = [name for name in SHARED_FILES if not (SHARED_DATA / name).exists()]
    if missing:
        pytest.fail(f"shared test data at {SHARED_DATA} lacks {', '.join(missing)}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests save screenshots and figures for a person to look at."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


ServerFactory = Callable[..., ServerProcess]


def write_contrast_volume(folder: Path) -> tuple[Any, Path]:
    """A 5-plane uint16 TIFF whose planes differ in range (plane 2 goes to 3000, the
    others to 1000): what napari's contrast range, auto-contrast and histogram are
    checked on. Returns the array and the file."""
    import numpy as np
    import tifffile

    volume = np.zeros((5, 64, 64), np.uint16)
    volume[:, 16:48, 16:48] = 1000
    volume[2, 20:30, 20:30] = 3000
    path = folder / "contrast.tif"
    tifffile.imwrite(path, volume)
    return volume, path


@pytest.fixture(scope="session", autouse=True)
def forked_servers() -> Iterator[None]:
    """Servers the tests start are forked from one process that imported the server once
    (``server/forkserver.py``: importing napari is two thirds of a server's start), unless
    ``NAPARI_ENGINE_TEST_FORK=0``; ``tests/server/test_forkserver.py`` and the demo and
    benchmark start them anew."""
    if os.environ.get("NAPARI_ENGINE_TEST_FORK", "1") == "0":
        yield
        return
    forkserver = ForkServer()
    ServerProcess.forkserver = forkserver
    try:
        yield
    finally:
        ServerProcess.forkserver = None
        forkserver.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start real server processes (``--port 0``); all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(*args: str, token: str = "test-token") -> ServerProcess:
        if "--interactive-scale" not in args:
            # moving frames at full size whatever the machine's load: tests compare them
            args = ("--interactive-scale", "1", *args)
        server = ServerProcess([*args, "--token", token, "--log-level", "INFO"],
                               log_path=tmp_path / f"server{len(started)}.log")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def sample_server() -> Iterator[ServerProcess]:
    """One server on the built-in sample, shared by a test module."""
    with ServerProcess(["--token", "test-token", "--size", "640x480",
                        "--interactive-scale", "1"]) as server:
        yield server


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb display (for tests that need a real napari window)."""
    started = start_xvfb()
    if started is None:
        pytest.skip("Xvfb is not installed or did not start (scripts/setup.sh installs it)")
    proc, display = started
    yield display
    proc.terminate()
    proc.wait(10)
