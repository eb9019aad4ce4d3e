"""The window on a display of two physical pixels per logical one (run under Xvfb with
``QT_SCALE_FACTOR=2`` by test_gui.py).

``python gui_hidpi.py URL OUT_DIR`` prints one JSON line: the pixel ratio the window
saw and the server drew at, the sizes of the canvas and of the server's still, and how
far the display's pixels are from that still (lossless: one picture pixel on one
display pixel shows it exactly).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])

    from napari_engine.client.gui import open_gui
    from tests.client.gui_tools import on_screen, pump, rgb

    window = open_gui(url)
    window.viewer.window._qt_window.resize(700, 500)
    canvas = window.canvas
    native = canvas.native
    connection = window.viewer.connection


    def sharp_still() -> bool:
        header = canvas.frame_header
        return (header is not None and header.still and header.lossless
                and header.width == round(native.width() * native.devicePixelRatioF())
                and header.height == round(native.height() * native.devicePixelRatioF()))

    pump(lambda: False, timeout=1.0)  # the window settles at its size
    result: dict[str, object] = {"still": pump(sharp_still, timeout=30)}

    def shown() -> bool:
        """Compare the display with the latest picture; True once they agree (a loaded
        machine paints the still a moment after it arrives, or a frame comes after it)."""
        current = connection.picture.current()
        assert current is not None
        picture, header = current
        result["picture"] = [header.width, header.height]
        result["scale"] = header.scale
        result["picture_std"] = float(picture[..., :3].std())
        image = grabbed[0] = on_screen(native)
        screen = rgb(image)
        result["screen"] = [image.width(), image.height()]
        if screen.shape[:2] != picture.shape[:2]:
            return False
        diff = np.abs(screen.astype(int) - picture[..., :3].astype(int))
        result["screen_vs_picture"] = float(diff.mean())
        return float(diff.mean()) < 0.5

    grabbed: list[object] = [None]
    pump(lambda: sharp_still() and shown(), timeout=20, step=0.05)
    result["ratio"] = native.devicePixelRatioF()
    result["logical"] = [native.width(), native.height()]
    result["server_canvas"] = connection.section("canvas")
    grabbed[0].save(str(out / "gui_hidpi.png"))  # type: ignore[attr-defined]
    print(json.dumps(result))
    window.close()


if __name__ == "__main__":
    main()
