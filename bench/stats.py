"""Summaries that stay honest on a noisy machine: medians, spreads and percentiles."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: always a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles, p99 and extremes of durations given in seconds, in milliseconds."""
    ms = [value * 1000 for value in seconds]
    return {
        "runs": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p25_ms": round(percentile(ms, 0.25), 3),
        "p75_ms": round(percentile(ms, 0.75), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3)
