"""Streamed frames: JPEG while moving, a lossless still once the scene rests, reduced
resolution while interacting when the server is asked for it."""

from __future__ import annotations

from tests.conftest import ServerFactory
from tests.server.wire import RawClient


def _frames_until_still(client: RawClient) -> list[dict]:  # type: ignore[type-arg]
    frames = []
    while True:
        frame = client.expect("frame", timeout=30)
        frames.append(frame)
        client.send({"type": "ack", "seq": frame["seq"]})
        if frame["still"]:
            return frames


def test_auto_stream_sends_jpeg_then_a_lossless_still(start_server: ServerFactory) -> None:
    server = start_server("--size", "320x240", "--still-delay", "0.2")
    client = RawClient(server.url, stream="auto")
    for i in range(5):
        client.send({"type": "command", "id": i + 1, "op": "camera.set",
                     "args": {"zoom": 0.001 * (i + 1)}, "t": 100.0 + i})
    frames = _frames_until_still(client)
    moving, still = frames[:-1], frames[-1]
    assert moving and all(f["encoding"] == "jpeg" and not f["lossless"] for f in moving)
    assert still["lossless"] and still["encoding"] == "zstd"
    assert still["render"] == moving[-1]["render"]  # same pixels, re-encoded, not re-drawn
    assert any(f.get("input_t") == 104.0 for f in moving)  # the last move's timestamp echoes
    timings = moving[-1]["timings"]
    assert set(timings) == {"load_ms", "render_ms", "readback_ms", "encode_ms", "server_ms"}
    client.close()


def test_interactive_scale_reduces_moving_frames_only(start_server: ServerFactory) -> None:
    server = start_server("--size", "320x240", "--still-delay", "0.2",
                          "--interactive-scale", "0.5")
    client = RawClient(server.url, stream="auto")
    client.send({"type": "command", "id": 1, "op": "camera.set", "args": {"zoom": 0.002}})
    frames = _frames_until_still(client)
    moving, still = frames[:-1], frames[-1]
    assert moving[-1]["scale"] == 0.5 and (moving[-1]["width"], moving[-1]["height"]) == (160, 120)
    assert still["scale"] == 1.0 and (still["width"], still["height"]) == (320, 240)
    shot = client.command("screenshot", cid=7)
    assert (shot["width"], shot["height"], shot["scale"]) == (320, 240, 1.0)
    client.close()
