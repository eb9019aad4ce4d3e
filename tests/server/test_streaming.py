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


def test_auto_stream_sends_jpeg_tiles_then_a_lossless_still(
        start_server: ServerFactory) -> None:
    server = start_server("--size", "320x240", "--still-delay", "0.2")
    client = RawClient(server.url, stream="auto")
    for i in range(5):
        client.send({"type": "command", "id": i + 1, "op": "camera.set",
                     "args": {"zoom": 0.001 * (i + 1)}, "t": 100.0 + i})
    frames = _frames_until_still(client)
    moving, still = frames[:-1], frames[-1]
    assert moving and all(f["encoding"] == "tiles" and not f["lossless"] for f in moving)
    assert all(t[4] == "jpeg" for f in moving for t in f["tiles"])
    assert still["lossless"] and still["encoding"] == "tiles"
    assert all(t[4] in ("png", "zstd") for t in still["tiles"])
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


def test_video_stream_sends_h264_deltas_then_a_still(start_server: ServerFactory) -> None:
    import numpy as np

    from napari_engine.encode import Encoding, decode_frame
    from napari_engine.encode.video import VideoDecoder

    server = start_server("--size", "320x240", "--still-delay", "0.3")
    client = RawClient(server.url, stream="video")
    for i in range(6):
        client.send({"type": "command", "id": i + 1, "op": "camera.set",
                     "args": {"zoom": 0.002 * (i + 1)}, "t": 100.0 + i})
    frames = []
    decoder, pictures = VideoDecoder(), []
    while True:
        header, payload = client.expect_frame(timeout=30)
        frames.append(header)
        client.send({"type": "ack", "seq": header["seq"]})
        if header["still"]:
            still = decode_frame(payload, Encoding(header["encoding"]), 320, 240)
            break
        pictures.append(decoder.decode(payload, header["width"], header["height"]))
    moving = frames[:-1]
    assert moving and all(f["encoding"] == "h264" and not f["lossless"] for f in moving)
    assert moving[0]["keyframe"]
    assert frames[-1]["lossless"] and frames[-1]["render"] == moving[-1]["render"]
    # the last video frame shows the still's picture, within video's loss
    err = np.mean((pictures[-1][..., :3].astype(float) - still[..., :3]) ** 2)
    assert 10 * np.log10(255**2 / max(err, 1e-9)) > 30
    client.close()


def test_auto_turns_to_video_on_a_thin_link(start_server: ServerFactory) -> None:
    """Over an emulated 10 Mbit/s link, full-quality JPEG cannot keep up with a zoom
    (every frame changes everywhere): ``auto`` switches its moving frames to H.264, and
    the picture still arrives whole."""
    import time

    from napari_engine.bench.netem import PRESETS, emulated_link, port_of
    from napari_engine.bench.quality import psnr
    from tests.server.wire import recording_client, wait_until

    server = start_server("--size", "640x480", "--still-delay", "0.3")
    with emulated_link(port_of(server.url), PRESETS["thin"]) as link:
        conn, frames = recording_client(link.url_for(server.url), "auto")
        try:
            conn.request("camera.set", {"zoom": 2.0})
            deadline = time.monotonic() + 20
            i = 0
            while time.monotonic() < deadline:  # a zoom: every frame changes everywhere
                i += 1
                conn.send_command("camera.set", {"zoom": 2.0 * 1.01 ** (i % 50)})
                time.sleep(1 / 30)
                if sum(f.header.encoding == "h264" for f in frames) >= 10:
                    break
            video = [f for f in frames if f.header.encoding == "h264"]
            assert len(video) >= 10, [f.header.encoding for f in frames]
            first = frames.index(video[0])
            assert all(f.header.encoding == "h264" for f in frames[first:]
                       if not f.header.still)
            assert video[0].header.keyframe
            # one more move, then rest: its video frame decodes to the still's picture (a
            # black or garbled stream would not)
            conn.send_command("camera.set", {"zoom": 2.5})
            assert wait_until(lambda: frames[-1].header.still
                              and frames[-1].header.view is not None
                              and frames[-1].header.view.zoom == 2.5, timeout=30)
            still = frames[-1]
            # a lossless still would hold this link for half a second: visually lossless
            # JPEG tiles instead
            assert not still.header.lossless
            assert {t.encoding for t in still.header.tiles or ()} == {"jpeg"}
            same = [f for f in frames if f.header.encoding == "h264"
                    and f.header.render == still.header.render]
            assert same, "the last render never came as video"
            picture = same[-1].decode()
            assert picture.shape == (480, 640, 4)
            assert psnr(picture, still.decode()) > 20, psnr(picture, still.decode())
        finally:
            conn.close()


def test_a_reduced_frame_shows_the_whole_view(start_server: ServerFactory) -> None:
    """A frame drawn at half resolution is the same view in fewer pixels (not a corner
    of it at full size)."""
    import numpy as np

    import napari_engine
    from napari_engine.bench.quality import psnr
    from tests.server.wire import recording_client, wait_until

    server = start_server("--size", "320x240", "--still-delay", "0.5",
                          "--interactive-scale", "0.5")
    viewer = napari_engine.connect(server.url, stream="none")
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    image = np.zeros((240, 320), np.uint8)
    image[:120, 160:] = 200  # quadrants: where the boundaries fall shows the view
    image[120:, :160] = 100
    viewer.add_image(image, contrast_limits=(0, 255))
    viewer.reset_view()
    viewer.sync()
    conn, frames = recording_client(server.url, "lossless")
    try:
        wait_until(lambda: bool(frames))
        count = len(frames)
        conn.send_command("layer.set", {"layer": viewer.layer_id(viewer.layers[0]),
                                        "props": {"gamma": 0.9}})
        assert wait_until(lambda: any(f.header.scale == 0.5 for f in frames[count:]))
        reduced = next(f for f in frames[count:] if f.header.scale == 0.5)
        assert reduced.decode().shape == (120, 160, 4)
        shot = viewer.screenshot()
        up = np.repeat(np.repeat(reduced.decode(), 2, axis=0), 2, axis=1)
        assert psnr(up, shot) > 25
    finally:
        conn.close()
        viewer.close()


def test_a_still_follows_after_the_default_delay(start_server: ServerFactory) -> None:
    """Started as a user starts it (no --still-delay): the still comes once the view has
    rested 0.3 s, not before."""
    server = start_server("--size", "320x240")
    client = RawClient(server.url, stream="auto")
    import time

    for i in range(3):
        client.send({"type": "command", "id": i + 1, "op": "camera.set",
                     "args": {"zoom": 0.001 * (i + 1)}})
    arrivals = []
    while True:
        frame = client.expect("frame", timeout=30)
        arrivals.append((time.perf_counter(), frame))
        client.send({"type": "ack", "seq": frame["seq"]})
        if frame["still"]:
            break
    (t_moving, moving), (t_still, still) = arrivals[-2], arrivals[-1]
    assert still["render"] == moving["render"] and still["lossless"]
    assert t_still - t_moving >= 0.2  # 0.3 s after the render, less the moving frame's trip
    client.close()


def test_the_websocket_loop_answers_while_a_frame_is_drawn(
        start_server: ServerFactory) -> None:
    """The network thread never waits for rendering: a ping sent right after a command
    that starts a slow draw (the built-in sample as a 3D volume) is answered before that
    draw's frame arrives."""
    server = start_server("--size", "800x600", "--still-delay", "60")
    client = RawClient(server.url, stream="jpeg")
    client.send({"type": "ack", "seq": client.expect("frame")["seq"]})
    client.send({"type": "command", "id": 1, "op": "dims.set", "args": {"ndisplay": 3}})
    client.send({"type": "ping", "t": 42.0})
    order = []
    while "frame" not in order:
        message = client.receive(60)
        if message["type"] in ("pong", "frame"):
            order.append(message["type"])
    assert order[0] == "pong", order
    client.close()
