"""One PNG that shows the benchmark's comparison at a glance (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    links = results.get("links", [])
    designs = list(links[0]["designs"]) if links else []
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    panels = [("fps", "pan: frames per second", False),
              ("p95", "pan: input-to-frame p95 (ms)", True),
              ("bytes_per_frame", "pan: bytes per frame", True)]
    width = 0.8 / max(1, len(designs))
    for ax, (metric, title, log) in zip(axes.flat, panels, strict=False):
        for n, design in enumerate(designs):
            values = []
            for row in links:
                pan = row["designs"][design].get("pan", {})
                value = pan["latency_ms"].get("p95") if metric == "p95" else pan.get(metric)
                values.append(value or 0)
            xs = [i + n * width for i in range(len(links))]
            ax.bar(xs, values, width, label=design)
        ax.set_xticks([i + width * (len(designs) - 1) / 2 for i in range(len(links))])
        ax.set_xticklabels([row["link"] for row in links])
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    if designs:
        axes.flat[0].legend(fontsize=8)
    ax = axes.flat[3]
    http = results.get("http_baseline", {}).get("links", [])
    labels, napari_s, engine_s = [], [], []
    for row in http:
        for view in ("2d", "3d"):
            pair = row.get(view, {})
            labels.append(f"{row['link']} {view.upper()}")
            napari_s.append(pair.get("napari_http", {}).get("first_frame_s")
                            or pair.get("napari_http", {}).get("timed_out_s") or 0)
            engine_s.append(pair.get("engine", {}).get("first_frame_s") or 0)
    xs = list(range(len(labels)))
    ax.bar([x - 0.2 for x in xs], napari_s, 0.4, label="napari reading OME-Zarr over HTTP")
    ax.bar([x + 0.2 for x in xs], engine_s, 0.4, label="napari-engine")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=30, fontsize=8)
    ax.set_yscale("log")
    ax.set_title("time to first frame (s), 3D multiscale OME-Zarr")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    size = results.get("size", ["?", "?"])
    fig.suptitle(f"napari-engine benchmark, {size[0]}x{size[1]}, emulated links")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
