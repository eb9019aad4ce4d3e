"""The server as a user runs it: the command line, the URL, the token, bad data paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import ServerFactory
from tests.server.wire import RawClient


def test_prints_url_with_token_and_binds_loopback(start_server: ServerFactory) -> None:
    server = start_server(token="s3cret")
    assert server.url.startswith("ws://127.0.0.1:")
    assert server.url.endswith("/?token=s3cret")
    # what the process really listens on, as the kernel sees it: loopback only
    port = int(server.url.split(":")[2].split("/")[0])
    listening = [c.laddr for c in psutil.Process(server.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
    assert port in {addr.port for addr in listening}


def test_random_token_when_none_given() -> None:
    from napari_engine.server.process import ServerProcess

    with ServerProcess([]) as a, ServerProcess([]) as b:
        token_a, token_b = a.url.split("token=")[1], b.url.split("token=")[1]
    assert len(token_a) >= 24 and token_a != token_b


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong"])
def test_missing_or_wrong_token_is_refused_before_any_state(start_server: ServerFactory,
                                                            query: str) -> None:
    server = start_server()
    base = server.url.split("?")[0]
    with pytest.raises(InvalidStatus) as info:
        RawClient(base + query)
    assert info.value.response.status_code == 401
    assert server.alive()
    RawClient(server.url).close()  # and the right token still works


def test_unknown_path_is_refused(start_server: ServerFactory) -> None:
    server = start_server()
    with pytest.raises(InvalidStatus) as info:
        RawClient(server.url.replace("/?", "/etc/passwd?"))
    assert info.value.response.status_code == 404


@pytest.mark.parametrize("path", ["/no/such/file.zarr", "README.md", "/tmp"])
def test_bad_data_path_is_one_line_and_exit_2(path: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "napari_engine.server", "--data", path,
                           "--port", "0"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_opens_real_files(start_server: ServerFactory, shared_data: Path) -> None:
    server = start_server("--data", str(shared_data / "neuron_4ch_cyx_u16.ome.tiff"),
                          "--data", str(shared_data / "nuclei_plk1.ome.zarr"))
    client = RawClient(server.url)
    layers = client.welcome["state"]["layers"]
    names = [layer["name"] for layer in layers]
    assert len(layers) == 5, names
    assert {"AF647", "AF568", "AF488", "DAPI"} <= set(names)
    zarr_layer = layers[-1]
    assert zarr_layer["multiscale"] and zarr_layer["levels"] == 3
    assert zarr_layer["shape"][-2:] == [682, 682]
    client.close()
