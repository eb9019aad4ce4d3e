"""The design comparison drives a real server through a real emulated link."""

from __future__ import annotations

import argparse

from napari_engine.bench.compare import measure_links
from napari_engine.bench.run import _links_report
from tests.conftest import ServerFactory


def test_designs_side_by_side_over_a_link(start_server: ServerFactory) -> None:
    server = start_server("--size", "480x320", "--still-delay", "0.2")
    args = argparse.Namespace(links=["lan"], designs=["naive-png", "tiles", "video"],
                              phases=["pan", "zscroll"], duration=1.0, rate=30.0,
                              zrate=15.0, zoom=2.0, quality=80)
    rows = measure_links(server.url, (480, 320), args)
    designs = rows[0]["designs"]
    naive, tiles, video = designs["naive-png"], designs["tiles"], designs["video"]
    # the naive design: one lossless PNG per command, nothing skipped
    assert naive["pan"]["frames"] == naive["pan"]["commands_sent"] > 0
    assert naive["pan"]["encodings"] == {"png": naive["pan"]["frames"]}
    # the engine's designs: frames arrive, the pan reuses the picture, a still follows
    assert tiles["pan"]["frames"] > 0 and set(tiles["pan"]["encodings"]) == {"tiles"}
    assert tiles["pan"]["bytes_per_frame"] < naive["pan"]["bytes_per_frame"] / 4
    assert tiles["pan"]["time_to_still_ms"] is not None
    assert set(video["zscroll"]["encodings"]) == {"h264"}
    for design in (tiles, video):
        for phase in design.values():
            # the last moving frame against a lossless draw of the same view
            assert phase["ssim"] is not None and 0.5 < phase["ssim"] <= 1.0, phase
            assert phase["latency_ms"]["p50"] is not None
    text = "\n".join(_links_report({"links": rows}))
    assert "naive-png" in text and "video" in text
