"""Summaries that stay honest on a noisy machine: medians, quartiles and nearest-rank p99."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds the call took, and what it returned."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: always a value that was actually observed."""
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), round(fraction * len(ordered) + 0.5))) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles and p99 of durations given in seconds, in milliseconds."""
    ms = [value * 1000 for value in seconds]
    quantiles = {"p25_ms": 0.25, "p75_ms": 0.75, "p99_ms": 0.99}
    summary = {name: round(percentile(ms, fraction), 3) for name, fraction in quantiles.items()}
    return {"runs": len(ms), "median_ms": round(statistics.median(ms), 3), **summary}
