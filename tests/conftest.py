"""Shared fixtures: real server processes, an Xvfb display, paths to the shared data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from napari_engine.bench.display import start_xvfb
from napari_engine.server.gl_env import prepare_headless_env
from napari_engine.server.process import ServerProcess

# In-process GL tests need PyOpenGL's EGL flavour, chosen once at its first import, which
# any test module importing napari may trigger: so choose before collecting anything.
# Tests that start a real Qt window (under Xvfb) set their own environment.
prepare_headless_env()

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests save screenshots and figures for a person to look at."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


ServerFactory = Callable[..., ServerProcess]


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
