"""``python -m napari_engine.bench.script``: the scripting client's napari API over a
server on loopback, timed: reading regions of ``layer.data`` (the built-in petabyte
sample, and an array added by the script), writing labels, adding and removing layers,
opening a new session (a new window, a new ``connect``), and two clients taking turns
(one picture, or a picture each with its own view).

Each figure is the median of a few repeats, in milliseconds, measured on the client (a
round trip included). A new session is opened after a pause: the server makes the next
session while it is idle, as it is between a person's actions.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _median_ms(fn: Callable[[], Any], repeats: int, pause: float = 0.0) -> float:
    times = []
    for _ in range(repeats):
        time.sleep(pause)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(repeats: int = 5) -> list[tuple[str, float]]:
    import napari_engine
    from napari_engine.server.process import ServerProcess

    rows: list[tuple[str, float]] = []
    with ServerProcess(["--size", "640x480", "--journal-dir", "none"]) as server:
        viewer = napari_engine.connect(server.url, stream="none")
        level0 = viewer.layers[0].data[0]
        z = level0.shape[0] // 2
        for side in (256, 1024, 2048):
            def read(side: int = side) -> Any:
                return level0[z, 40_000:40_000 + side, 40_000:40_000 + side]

            rows.append((f"read {side} x {side} uint16 of the 1.1 PB sample's level 0",
                         _median_ms(read, repeats)))
        volume = np.random.default_rng(0).integers(0, 60_000, (64, 512, 512), np.uint16)
        start = time.perf_counter()
        image = viewer.add_image(volume)
        rows.append(("add_image of a 32 MiB array", (time.perf_counter() - start) * 1e3))
        rows.append(("np.asarray(layer.data) of it (32 MiB)",
                     _median_ms(lambda: np.asarray(image.data), repeats)))
        rows.append(("layer.data[10, 100:200, 100:200]",
                     _median_ms(lambda: image.data[10, 100:200, 100:200], repeats)))
        labels = viewer.add_labels(np.zeros((64, 512, 512), np.uint8))
        rows.append(("labels.data[5, :100, :100] = 3", _median_ms(
            lambda: labels.data.__setitem__((5, slice(0, 100), slice(0, 100)), 3), repeats)))

        def add_and_remove() -> None:
            points = viewer.add_points([[1.0, 2.0, 3.0]])
            viewer.layers.remove(points)
            viewer.sync()

        rows.append(("add_points, remove it, sync", _median_ms(add_and_remove, repeats)))

        def new_session() -> None:
            url = server.url.replace("/?", f"/session/{uuid.uuid4().hex}?")
            napari_engine.connect(url, stream="none").close()

        rows.append(("connect to a new session (the sample's)",
                     _median_ms(new_session, repeats, pause=0.5)))
        viewer.close()
        rows += _taking_turns(server.url, repeats)
    return rows


def _taking_turns(url: str, repeats: int) -> list[tuple[str, float]]:
    """Two clients of a session take turns: each steps z and takes a screenshot. Shared
    clients of one size share one picture; a client of another size with its own view
    has its own, and the server puts each one's canvas and slice in place in turn."""
    import napari_engine

    rows = []
    for label, view, size in (("two shared clients of one size", "shared", (640, 480)),
                              ("a shared client and an own view of another size", "own",
                               (480, 360))):
        session = url.replace("/?", f"/session/{uuid.uuid4().hex}?")
        first = napari_engine.connect(session, stream="none", size=(640, 480))
        other = napari_engine.connect(session, stream="none", view=view, size=size)
        other.screenshot()

        def turn(viewers: tuple[Any, ...] = (first, other)) -> None:
            for viewer in viewers:
                viewer.dims.set_current_step(0, viewer.dims.current_step[0] + 1)
                viewer.screenshot()

        rows.append((f"z-step + screenshot each, {label}", _median_ms(turn, repeats)))
        first.close()
        other.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_engine.bench.script",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for name, ms in measure(args.repeats):
        print(f"{name:<52} {ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
