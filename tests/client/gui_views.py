"""Two napari windows on one session, of different sizes; one keeps its own view (run
under Xvfb by test_gui.py).

``python gui_views.py URL OUT_DIR`` prints one JSON line with what it observed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    from napari_engine.client.gui import open_gui
    from tests.client.gui_tools import pump

    big, small = open_gui(url), open_gui(url)
    # side by side (X paints only what is exposed: one window must not hide the other)
    big.viewer.window._qt_window.setGeometry(0, 0, 1100, 760)
    small.viewer.window._qt_window.setGeometry(1120, 0, 760, 560)
    received: dict[str, list[Any]] = {"big": [], "small": []}  # each window's frames
    for name, window in (("big", big), ("small", small)):
        window.connection.on_frame(lambda frame, name=name: received[name].append(frame.header))
    result: dict[str, Any] = {}
    axis = 0

    def last(name: str) -> Any:
        return received[name][-1] if received[name] else None

    def fits(name: str, window: Any) -> bool:
        """The window's latest frame was drawn for its own canvas (physical pixels)."""
        header, native = last(name), window.canvas.native
        if header is None or not header.still:
            return False
        ratio = native.devicePixelRatioF()
        return (abs(header.width - round(native.width() * ratio)) <= 1
                and abs(header.height - round(native.height() * ratio)) <= 1)

    def shows(name: str, step: int) -> bool:
        header = last(name)
        return header is not None and int(header.view.current_step[axis]) == step

    result["both_fit"] = pump(lambda: fits("big", big) and fits("small", small), timeout=40)
    result["sizes"] = [[last(n).width, last(n).height] for n in ("big", "small")]

    # shared by default: a z-scroll in one window moves the other's slider and picture
    start = int(big.viewer.dims.current_step[axis])
    big.viewer.dims.set_current_step(axis, start + 3)
    result["shared_follows"] = pump(
        lambda: small.viewer.dims.current_step[axis] == start + 3 and shows("small", start + 3),
        timeout=20)

    # the small window ticks "Own view" in its status bar: it keeps its own slice
    box = small.own_view_box
    result["box_text"] = box.text()
    box.setChecked(True)
    result["own_mode"] = pump(lambda: small.connection.view == "own"
                              and small.connection.pending() == 0, timeout=10)
    seen = len(received["small"])
    big.viewer.dims.set_current_step(axis, start + 6)
    big.viewer.scene.camera.zoom = big.viewer.scene.camera.zoom * 1.5
    result["big_moved"] = pump(lambda: shows("big", start + 6) and fits("big", big), timeout=20)
    pump(lambda: False, timeout=1.0)  # time for any frame the move would cause
    result["small_step"] = int(small.viewer.dims.current_step[axis])
    result["small_frames_during"] = [int(h.view.current_step[axis])
                                     for h in received["small"][seen:]]
    pump(lambda: big.canvas.frame_header is not None and big.canvas.frame_header.still)
    big.viewer.window._qt_window.grab().save(str(out / "gui_views_big.png"))
    small.viewer.window._qt_window.grab().save(str(out / "gui_views_small_own.png"))

    # its own scroll moves only its own picture
    small.viewer.dims.set_current_step(axis, start + 1)
    result["small_own_frame"] = pump(lambda: shows("small", start + 1), timeout=20)
    result["big_kept"] = int(big.viewer.dims.current_step[axis])
    result["big_frame_kept"] = shows("big", start + 6)

    # unticked: back on the session's view
    box.setChecked(False)
    result["shared_again"] = pump(
        lambda: small.viewer.dims.current_step[axis] == start + 6 and shows("small", start + 6),
        timeout=20)
    result["start"] = start
    print(json.dumps(result))
    big.close()
    small.close()


if __name__ == "__main__":
    main()
