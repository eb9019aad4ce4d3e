"""``python -m napari_engine.bench.fuzz``: nothing a client sends escapes the protocol's
own errors, crashes or hangs the server.

Messages are drawn by Hypothesis: arbitrary JSON, messages of every type with fields
of every kind, and commands of every operation in ``OPERATIONS`` whose arguments are
drawn from the names the operations and the layer property table use, with values
near the limits (huge and tiny numbers, deep nesting, long strings, wrong types).

- ``decoder``: in this process, each message through ``decode_text`` /
  ``parse_client_message`` (and as a binary frame's header through ``decode_binary``):
  anything but ``ProtocolError`` is a finding.
- ``server``: a real server on loopback, one raw websocket client sending the
  commands (each answered within ``--answer-s``, else a hang), then a well-behaved
  client that must still get its screenshot; the server's log must hold no traceback.

Prints the cases run and every finding; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_engine.protocol import (
    OPERATIONS,
    PROTOCOL_VERSION,
    ProtocolError,
    decode_binary,
    decode_text,
    encode_binary,
    parse_client_message,
)
from napari_engine.protocol.codec import BINARY_FORMAT_VERSION, BINARY_MAGIC, BINARY_PREFIX
from napari_engine.protocol.properties import LAYER_PROPERTIES

#: argument names the operations use (drawn from, beside random ones)
ARG_NAMES = ("center", "zoom", "angles", "perspective", "current_step", "step",
             "ndisplay", "order", "layer", "props", "data", "shape", "dtype", "arrays",
             "path", "shape_type", "ndim", "index", "mode", "bins", "log_scale", "level",
             "region", "root", "layers", "width", "height", "pixel_ratio", "position",
             "event", "pos", "button", "buttons", "modifiers", "delta", "key", "text",
             "overlay", "loaded", "own", "names", "selected", "nbytes", "items", "count")
MESSAGE_TYPES = ("hello", "command", "ack", "ping", "pong", "bye", "stream")

_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 1e308, -1e308, 1e-308, 1e12, 1e13,
                     0.5, 255, 65535, 10**5]))
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, st.text(max_size=40),
                     st.sampled_from(["", "x" * 300, "viridis", "paint", "image", "../x",
                                      "/etc/passwd", "uint8", "float64", "rectangle"]))


def json_values(depth: int = 4) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, nested at most ``depth`` levels (lists of up to 8)."""
    return st.recursive(_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=8),
        st.dictionaries(st.one_of(st.sampled_from(ARG_NAMES), st.text(max_size=10)), inner,
                        max_size=6)), max_leaves=24)


def _args() -> st.SearchStrategy[dict[str, Any]]:
    props = st.dictionaries(st.sampled_from(sorted(LAYER_PROPERTIES)), json_values(),
                            max_size=4)
    values = st.one_of(json_values(), props)
    return st.dictionaries(st.sampled_from(ARG_NAMES), values, max_size=5)


def commands() -> st.SearchStrategy[dict[str, Any]]:
    """A command of any operation (or a name that is none), with drawn arguments."""
    return st.fixed_dictionaries({
        "type": st.just("command"),
        "id": st.one_of(st.integers(min_value=0, max_value=2**31), _SCALARS),
        "op": st.one_of(st.sampled_from(sorted(OPERATIONS)), st.text(max_size=20)),
        "args": st.one_of(_args(), json_values())})


def messages() -> st.SearchStrategy[Any]:
    """Anything a client might send: commands, other types, arbitrary JSON."""
    typed = st.dictionaries(st.sampled_from(("type", "protocol", "id", "op", "args", "seq",
                                             "stream", "size", "view", "t")),
                            json_values(), max_size=6).map(
        lambda d: {**d, "type": d.get("type", "ack")})
    other = st.fixed_dictionaries({"type": st.sampled_from(MESSAGE_TYPES)}).flatmap(
        lambda base: st.dictionaries(st.text(max_size=8), json_values(), max_size=4).map(
            lambda extra: {**extra, **base}))
    return st.one_of(commands(), typed, other, json_values())


def check_decoder(message: Any) -> str | None:
    """None if the message is parsed or refused with a ``ProtocolError``, as text and
    as a binary frame's header; else the escaped exception, as text."""
    try:
        text = json.dumps(message, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return None  # not JSON: not something a client can send as text
    return check_text(text)


def check_text(text: str) -> str | None:
    """``check_decoder`` of a message's text as it arrives (any text at all)."""
    header = text.encode()
    framed = BINARY_PREFIX.pack(BINARY_MAGIC, BINARY_FORMAT_VERSION, 0, len(header))
    decoders: list[Callable[[], dict[str, Any]]] = [
        lambda: decode_text(text), lambda: decode_text(header),
        lambda: decode_binary(framed + header + b"\x00" * 4)[0]]
    for decode in decoders:
        try:
            parse_client_message(decode())
        except ProtocolError:
            pass
        except Exception:
            return traceback.format_exc(limit=3)
    return None


def run_decoder(cases: int, seed: int) -> dict[str, Any]:
    findings: list[str] = []
    count = 0

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(messages())
    def one(message: Any) -> None:
        nonlocal count
        count += 1
        found = check_decoder(message)
        if found is not None and len(findings) < 20:
            findings.append(found)

    started = time.perf_counter()
    _seeded(one, seed)()
    return {"cases": count, "findings": findings, "seconds": time.perf_counter() - started}


def _seeded(test: Callable[[], None], seed: int) -> Callable[[], None]:
    from hypothesis import seed as with_seed

    return with_seed(seed)(test)


def run_server(cases: int, seed: int, answer_s: float, log: Path) -> dict[str, Any]:
    """The drawn commands against a real server; what went wrong."""
    from websockets.sync.client import connect

    from napari_engine.server.process import ServerProcess

    findings: list[str] = []
    count = 0
    slowest = 0.0
    args = ["--token", "t", "--size", "96x64", "--empty", "--journal-dir", "none",
            "--log-level", "INFO", "--data-root", str(log.parent / "no-data-here")]
    with ServerProcess(args, log_path=log) as server, connect(
            server.url, max_size=None, compression=None, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION,
                            "stream": "none"}))
        ws.recv(30)  # welcome
        seed_layers(ws)

        @settings(max_examples=cases, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(commands())
        def one(command: dict[str, Any]) -> None:
            nonlocal count, slowest
            count += 1
            if not server.alive():
                return
            took = _answered(ws, {**command, "id": count}, answer_s)
            if took is None and len(findings) < 20:
                findings.append(f"no answer within {answer_s} s: {json.dumps(command)[:300]}")
            slowest = max(slowest, took or 0.0)

        _seeded(one, seed)()
        alive = server.alive()
        findings += [_good_client(server.url)] if alive else ["the server died"]
    tracebacks = log.read_text().count("Traceback")
    if tracebacks:
        findings.append(f"{tracebacks} tracebacks in the server's log ({log})")
    return {"cases": count, "findings": [f for f in findings if f],
            "slowest_answer_s": slowest, "alive": alive}


def _answered(ws: Any, command: dict[str, Any], answer_s: float) -> float | None:
    """Seconds until ``command`` was dealt with: a ``sync`` sent after it is answered
    (a client's commands run in order; one refused as malformed has no id to answer);
    0 for one that is no JSON; None if not in time (a hang)."""
    try:
        text = json.dumps(command, allow_nan=False)
    except (ValueError, TypeError):
        return 0.0
    marker = 2**40 + int(command["id"])
    started = time.perf_counter()
    ws.send(text)
    ws.send(json.dumps({"type": "command", "id": marker, "op": "sync", "args": {}}))
    while (left := answer_s - (time.perf_counter() - started)) > 0:
        try:
            raw = ws.recv(left)
        except TimeoutError:
            return None
        if isinstance(raw, str) and json.loads(raw).get("id") == marker:
            return time.perf_counter() - started
    return None


def _good_client(url: str) -> str:
    """'' if a well-behaved client, in a session of its own, gets its screenshot."""
    import napari_engine

    try:
        viewer = napari_engine.connect(url.replace("/?", "/session/good?"), stream="none")
        try:
            viewer.screenshot()
        finally:
            viewer.close()
    except Exception as exc:
        return f"a good client got no screenshot: {exc}"
    return ""


def seed_layers(ws: Any) -> None:
    """Layers for the drawn commands to act on: an image, points, labels, shapes."""
    import numpy as np

    def send(op: str, args: dict[str, Any], payload: bytes | None = None) -> None:
        message = {"type": "command", "id": 0, "op": op, "args": args}
        ws.send(json.dumps(message) if payload is None else encode_binary(message, payload))

    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    send("layer.add_image", {"shape": [16, 16], "dtype": "uint8"}, image.tobytes())
    send("layer.add_labels", {"shape": [16, 16], "dtype": "uint8"}, bytes(256))
    send("layer.add_points", {"data": [[1.0, 2.0], [3.0, 4.0]]})
    send("layer.add_shapes", {"data": [[[0, 0], [4, 4]]]})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.fuzz",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--decoder-cases", type=int, default=100_000)
    parser.add_argument("--server-cases", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--answer-s", type=float, default=30.0,
                        help="a command not answered within this is a hang")
    parser.add_argument("--out", type=Path, default=Path("bench-output/fuzz"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    decoder = run_decoder(args.decoder_cases, args.seed)
    print(f"decoder: {decoder['cases']} cases in {decoder['seconds']:.0f} s, "
          f"{len(decoder['findings'])} findings", flush=True)
    server = run_server(args.server_cases, args.seed, args.answer_s, args.out / "server.log")
    print(f"server: {server['cases']} commands, slowest answer "
          f"{server['slowest_answer_s']:.2f} s, {len(server['findings'])} findings",
          flush=True)
    for finding in decoder["findings"] + server["findings"]:
        print("-", finding)
    (args.out / "fuzz.json").write_text(json.dumps({"decoder": decoder, "server": server},
                                                   indent=1, default=str))
    return 1 if decoder["findings"] or server["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
