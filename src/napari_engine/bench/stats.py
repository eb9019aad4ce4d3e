"""Small statistics helpers for the benchmark (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summary_ms(values_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/mean/max of durations given in seconds, in milliseconds."""
    ms = [v * 1e3 for v in values_s]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": mean(ms),
            "max": max(ms) if ms else None, "n": len(ms)}
