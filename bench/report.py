"""BENCHMARKS.md from one run's results: the targets judged, then each section as a table.

Every section is rows built from its figures; `render` only lays them out, so a figure
is formatted once and the report cannot say something the results do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.cold_start import CONTEXT_BASELINES, LOGGING_BASELINE, TARGETS
from bench.http_latency import HEALTH_MEDIAN_TARGET_MS, OVERHEAD_TARGET_MS


@dataclass
class Section:
    title: str
    text: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def _spread(figures: dict[str, Any]) -> str:
    return f"{_ms(figures['p25_ms'])} to {_ms(figures['p75_ms'])}"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]


def _diagnosis(diagnosis: dict[str, Any]) -> str:
    """Heaviest direct imports (`-X importtime`) and one self-timed run's phases."""
    heaviest = ", ".join(
        f"`{entry['module']}` {_ms(entry['cumulative_ms'])}" for entry in diagnosis["heaviest"]
    )
    phases = []
    for phase, title in (("import", "import"), ("first_event", "first event")):
        window = diagnosis[phase]
        collected = (
            f" ({_ms(window['in_full_collections_ms'])} in {window['full_collections']} full"
            " garbage collections)"
            if window["full_collections"]
            else ""
        )
        phases.append(f"{title} {_ms(window['ms'])}{collected}")
    return (
        f"importing the handler takes {_ms(diagnosis['handler_module_ms'])}, heaviest: {heaviest};"
        f" one diagnosed run: {', '.join(phases)}"
    )


def targets(results: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """One row per target, and one sentence per missed target saying by how much."""
    rows: list[list[str]] = []
    gaps: list[str] = []
    cold = results["cold_start"]
    for name, (baseline, target) in TARGETS.items():
        f = cold["functions"][name]
        baseline_ms = cold["baselines"][baseline]["median_ms"]
        rows.append(
            [
                f"Cold start {name} ≤ {target}x `{baseline}`",
                f"{_ms(f['median_ms'])} = {f['ratio_to_baseline']}x ({_ms(baseline_ms)})",
                _verdict(f["meets_target"]),
            ]
        )
        if not f["meets_target"]:
            over = f["median_ms"] - baseline_ms * target
            why = (
                f" Diagnosis: {_diagnosis(f['diagnosis'])}."
                if "diagnosis" in f
                else " `python -m bench.run --diagnose` says where the time goes."
            )
            with_logging = cold["baselines"].get(LOGGING_BASELINE, {}).get("median_ms")
            if baseline == "import json" and with_logging:
                why += (
                    f" Importing `logging`, which the one log line per request goes through,"
                    f" already takes a fresh interpreter to {with_logging / baseline_ms:.2f}x"
                    f" `import json`; against `{LOGGING_BASELINE}` {name} is"
                    f" {f['median_ms'] / with_logging:.2f}x."
                )
            gaps.append(f"- **Cold start {name}**: over its allowance by {_ms(over)}.{why}")
    zips = results["zips"]["functions"].values()
    largest = max(zips, key=lambda entry: entry["bytes"])
    rows.append(
        [
            f"Each zip ≤ {results['zips']['target_bytes'] // 1024} KiB",
            f"largest {largest['bytes']:,} bytes ({largest['handler']})",
            _verdict(all(entry["meets_target"] for entry in zips)),
        ]
    )
    http = results["http_latency"]
    health = http["routes"]["GET /health"]
    rows.append(
        [
            f"`draht dev` GET /health median ≤ {HEALTH_MEDIAN_TARGET_MS:g} ms"
            " (new connection per request)",
            _ms(health["median_ms"]),
            _verdict(health["median_ms"] <= HEALTH_MEDIAN_TARGET_MS),
        ]
    )
    if health["median_ms"] > HEALTH_MEDIAN_TARGET_MS:
        gaps.append(
            f"- **`draht dev` /health**: {_ms(health['median_ms'])}, of which"
            f" {_ms(health['in_process_median_ms'])} is the handler; a fixed answer from a"
            f" minimal asyncio server takes {_ms(http['fixed_answer_floor']['median_ms'])}"
            " on this machine, measured the same way."
        )
    overheads = {route: f["overhead_ms"] for route, f in http["routes"].items()}
    over = {route: value for route, value in overheads.items() if value > OVERHEAD_TARGET_MS}
    rows.append(
        [
            f"`draht dev` overhead over an in-process call ≤ {OVERHEAD_TARGET_MS:g} ms",
            ", ".join(f"{route} {_ms(value)}" for route, value in overheads.items()),
            _verdict(not over),
        ]
    )
    if over:
        gaps.append(
            f"- **`draht dev` overhead**: {', '.join(f'{r} {_ms(v)}' for r, v in over.items())}"
            f" against /health's {_ms(overheads['GET /health'])}: what these routes add in the"
            " server is a DynamoDB call through the local IAM check and a larger body through"
            " the worker's pipe."
        )
    cost = results["cost"]
    growth = cost["capacity_growth_largest_over_smallest"]
    sizes = [level["items_per_table"] for level in cost["levels"]]
    rows.append(
        [
            f"Page cost flat from {sizes[0]:,} to {sizes[-1]:,} items",
            f"capacity x{max(growth.values())} per page (full Scan baseline"
            f" x{cost['baseline_growth_largest_over_smallest']})",
            _verdict(cost["page_cost_constant"]),
        ]
    )
    load = results["load"]
    rows.append(
        [
            f"Load: {load['clients']} x {load['requests_per_client']:,} requests, zero errors,"
            " each item once",
            f"{load['requests']:,} requests, {load['errors']} errors,"
            f" {load['items_checked']:,} items checked",
            _verdict(load["errors"] == 0),
        ]
    )
    return rows, gaps


def _cold_start(cold: dict[str, Any]) -> Section:
    rows = [
        [f"`{label}` (baseline)", _ms(f["median_ms"]), _spread(f), _ms(f["min_ms"]), ""]
        for label, f in cold["baselines"].items()
    ]
    rows += [
        [
            name,
            _ms(f["median_ms"]),
            _spread(f),
            _ms(f["min_ms"]),
            f"{f['ratio_to_baseline']}x `{f['baseline']}`",
        ]
        for name, f in cold["functions"].items()
    ]
    notes = [
        f"- {name}: {_diagnosis(f['diagnosis'])}."
        for name, f in cold["functions"].items()
        if "diagnosis" in f
    ]
    if set(CONTEXT_BASELINES) <= set(cold["baselines"]):
        notes[:0] = [
            "The baselines past the first three are context, not targets: Lambda's runtime has"
            " imported `logging` before any handler, and the data handlers call `gc.freeze()`"
            " once their client is built.",
            "",
        ]
    return Section(
        "Cold start",
        f"A fresh interpreter (`python -S`, site-packages on PYTHONPATH) per run, {cold['runs']}"
        " runs each, candidates and baselines interleaved in a shuffled order. A function's run"
        " imports its handler from its extracted deployment zip, without bytecode caches, with"
        " its own link environment, and serves a first API Gateway v2 event against dynalite.",
        ["Process", "Median", "Spread", "Fastest", "Ratio"],
        rows,
        notes,
    )


def _zips(zips: dict[str, Any]) -> Section:
    return Section(
        "Deployment zips",
        "Straight from `draht.package.build_archive`, the archive the Pulumi program deploys.",
        ["Function", "Size", "Files"],
        [
            [
                name,
                f"{entry['bytes']:,} B ({entry['bytes'] / 1024:.1f} KiB)",
                ", ".join(f"`{path}`" for path in entry["files"]),
            ]
            for name, entry in zips["functions"].items()
        ],
    )


def _http_latency(http: dict[str, Any]) -> Section:
    floor = http["fixed_answer_floor"]
    rows = [["fixed answer (baseline)", _ms(floor["median_ms"]), _ms(floor["p99_ms"]), "", ""]]
    rows += [
        [
            route,
            _ms(f["median_ms"]),
            _ms(f["p99_ms"]),
            _ms(f["in_process_median_ms"]),
            _ms(f["overhead_ms"]),
        ]
        for route, f in http["routes"].items()
    ]
    return Section(
        "HTTP through `draht dev`",
        f"{http['requests_per_route']:,} sequential requests per route, each on a new"
        " connection, against the sample data. In-process: the same handler called in the"
        " measuring process with the same event; the overhead is what the local runtime adds"
        " (HTTP, routing, the event, the pipe to the worker, the IAM hook). Baseline: a minimal"
        " asyncio server answering a fixed JSON body, measured the same way.",
        ["Route", "Median", "p99", "In-process median", "Overhead"],
        rows,
    )


def _load(load: dict[str, Any]) -> Section:
    listings = ", ".join(f"{count:,} x {name}" for name, count in load["listings_checked"].items())
    statuses = ", ".join(f"{count:,} x {status}" for status, count in load["statuses"].items())
    return Section(
        "Load",
        f"{load['clients']} concurrent clients x {load['requests_per_client']:,} requests"
        " (tests/traffic.py, the driver of tests/test_load.py) on kept-alive connections:"
        " /health, and full listings of /clients and of a random client's /sessions followed"
        " cursor by cursor with a random page size, each checked against the seeded data"
        f" ({load['data']['clients']} clients, {load['data']['sessions']:,} sessions).",
        ["Requests", "Wall time", "Requests/s", "Median", "p99", "Errors"],
        [
            [
                f"{load['requests']:,}",
                f"{load['seconds']} s",
                f"{load['requests_per_second']:,}",
                _ms(load["latency"]["median_ms"]),
                _ms(load["latency"]["p99_ms"]),
                str(load["errors"]),
            ]
        ],
        [
            f"Statuses: {statuses}. Listings checked complete, each item exactly once and"
            f" sessions newest first: {listings} ({load['items_checked']:,} items).",
            *(f"- error: {error}" for error in load["first_errors"]),
        ],
    )


def _cost(cost: dict[str, Any]) -> Section:
    deep = cost["deep_page_number"]
    rows = []
    for level in cost["levels"]:
        cells = [f"{level['items_per_table']:,}"]
        for route in ("sessions", "clients"):
            for page in ("first_page", "deep_page"):
                f = level[route][page]
                cells.append(
                    f"{f['capacity_units']:g} RCU, {f['items_read']} items, {_ms(f['median_ms'])}"
                )
        scan = level["full_scan_baseline"]["sessions"]
        rows.append([*cells, f"{scan['capacity_units']:g} RCU, {_ms(scan['latency_ms'])}"])
    return Section(
        "Cost as data grows",
        f"Both tables filled to each size (half of all sessions belong to"
        f" `{cost['measured_client']}`, so its partition grows too). The handlers run in-process"
        " against dynalite; a hook on boto3 asks each of their DynamoDB calls for"
        " `ReturnConsumedCapacity` and records what dynalite reports. Pages of"
        f" {cost['page_limit']}; page {deep} is reached by following cursors. Baseline: what the"
        " sessions page would cost without the key layout, a Scan of the whole table.\n\n"
        "![Read capacity and latency per page against table size](bench/cost.png)",
        [
            "Items per table",
            "/sessions page 1",
            f"/sessions page {deep}",
            "/clients page 1",
            f"/clients page {deep}",
            "Baseline: full Scan",
        ],
        rows,
        [
            "Items read per page stay at the page size plus one (the look-ahead that keeps the"
            " last page from carrying a cursor) at every size."
            if cost["page_cost_constant"]
            else "**Items read per page change with the table size.**"
        ],
    )


def render(results: dict[str, Any]) -> str:
    """The targets are judged in one table; the sections after it hold the figures."""
    machine = results["machine"]
    durations = ", ".join(f"{name} {s:.0f} s" for name, s in results["durations_s"].items())
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py) in one run; every figure stands beside its"
        " baseline from the same run. The raw figures are in"
        " [bench/results.json](bench/results.json). Do not edit by hand: run `make bench`.",
        "",
        f"Measured {machine['measured_at']} on {machine['cpu_model']}, {machine['cpu_cores']}"
        f" cores, {machine['memory_gib']} GiB, {machine['os']}; Python {machine['python']},"
        f" Node.js {machine['node']}; load average at start"
        f" {', '.join(map(str, machine['load_average_at_start']))}. The whole run took"
        f" {results['seconds']:.0f} s ({durations}).",
        "",
        "Medians, with the interquartile range as the spread (p25 to p75).",
        "",
        "## Targets",
        "",
    ]
    rows, gaps = targets(results)
    lines += _table(["Target", "Measured", "Verdict"], rows)
    if gaps:
        lines += ["Where a target is missed, by how much:", "", *gaps, ""]
    sections = [
        _cold_start(results["cold_start"]),
        _zips(results["zips"]),
        _http_latency(results["http_latency"]),
        _load(results["load"]),
        _cost(results["cost"]),
    ]
    for number, section in enumerate(sections, start=1):
        lines += [f"## {number}. {section.title}", "", section.text, ""]
        lines += _table(section.header, section.rows)
        lines += [*section.notes, ""] if section.notes else []
    return "\n".join(lines).rstrip() + "\n"
