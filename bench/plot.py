"""The cost-as-data-grows figure: capacity and latency of one page against table size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI or build machines

# Imported after choosing the backend, which pyplot reads when it is first imported.
import matplotlib.pyplot as plt

_SERIES = (
    ("sessions", "first_page", "GET /sessions, first page", "tab:blue", "-"),
    ("sessions", "deep_page", "GET /sessions, page 11", "tab:blue", ":"),
    ("clients", "first_page", "GET /clients, first page", "tab:orange", "-"),
    ("clients", "deep_page", "GET /clients, page 11", "tab:orange", ":"),
)


def cost_figure(cost: dict[str, Any], path: Path) -> None:
    levels = cost["levels"]
    sizes = [level["items_per_table"] for level in levels]
    figure, (capacity_axes, latency_axes) = plt.subplots(1, 2, figsize=(11, 4.2))

    # Each panel plots one figure of the same series: (axes, page metric, full-Scan metric).
    panels = (
        (capacity_axes, "capacity_units", "capacity_units"),
        (latency_axes, "median_ms", "latency_ms"),
    )
    for axes, page_metric, scan_metric in panels:
        for route, page, label, color, style in _SERIES:
            axes.plot(
                sizes,
                [level[route][page][page_metric] for level in levels],
                marker="o",
                color=color,
                linestyle=style,
                label=label,
            )
        axes.plot(
            sizes,
            [level["full_scan_baseline"]["sessions"][scan_metric] for level in levels],
            marker="s",
            color="tab:gray",
            linestyle="--",
            label="baseline: Scan of the whole Sessions table",
        )

    capacity_axes.set_title("DynamoDB read capacity per page")
    capacity_axes.set_ylabel("read capacity units (dynalite)")
    latency_axes.set_title("Median handler latency per page")
    latency_axes.set_ylabel("milliseconds")
    for axes in (capacity_axes, latency_axes):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("items in each table")
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
        axes.grid(True, which="major", alpha=0.3)
    capacity_axes.legend(fontsize=8, loc="upper left")
    verdict = "the same" if cost["page_cost_constant"] else "more"
    figure.suptitle(f"A page of {cost['page_limit']} items costs {verdict} as the tables grow")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata keeps the committed PNG byte-stable when the figures do not change.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
