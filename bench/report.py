"""BENCHMARKS.md from one run's results: every figure beside its baseline, targets judged."""

from __future__ import annotations

from typing import Any

from bench.cold_start import TARGETS as COLD_START_TARGETS

CONTEXT_BASELINE = "import json, logging"
FROZEN_BOTO3_BASELINE = "import boto3 + DynamoDB client + gc.freeze()"

HEALTH_MEDIAN_TARGET_MS = 1.0
OVERHEAD_TARGET_MS = 0.5


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def _spread(figures: dict[str, Any]) -> str:
    return f"{_ms(figures['p25_ms'])} to {_ms(figures['p75_ms'])}"


def _phases(diagnosis: dict[str, Any]) -> str:
    """One untimed run's import and first event, and their full garbage collections."""
    parts = []
    for phase, title in (("import", "import"), ("first_event", "first event")):
        window = diagnosis[phase]
        collected = ""
        if window["full_collections"]:
            collected = (
                f" ({_ms(window['in_full_collections_ms'])} of it in"
                f" {window['full_collections']} full garbage collection"
                f"{'s' if window['full_collections'] > 1 else ''})"
            )
        parts.append(f"{title} {_ms(window['ms'])}{collected}")
    return f"One diagnosed run: {', '.join(parts)}."


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _targets(results: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """The summary rows, and one sentence per missed target saying by how much and why."""
    rows: list[list[str]] = []
    gaps: list[str] = []
    cold = results["cold_start"]
    for name, (baseline, target) in COLD_START_TARGETS.items():
        figures = cold["functions"][name]
        rows.append(
            [
                f"Cold start {name} ≤ {target}x `{baseline}`",
                f"{_ms(figures['median_ms'])} = {figures['ratio_to_baseline']}x"
                f" ({_ms(cold['baselines'][baseline]['median_ms'])})",
                _verdict(figures["meets_target"]),
            ]
        )
        if not figures["meets_target"]:
            allowed = cold["baselines"][baseline]["median_ms"] * target
            heaviest = ", ".join(
                f"`{entry['module']}` {_ms(entry['cumulative_ms'])}"
                for entry in figures["imports"]["heaviest"][:4]
            )
            context = ""
            if baseline == "import json":
                with_logging = cold["baselines"][CONTEXT_BASELINE]["median_ms"]
                floor = with_logging / cold["baselines"][baseline]["median_ms"]
                context = (
                    f" Against `{CONTEXT_BASELINE}` ({_ms(with_logging)}) it is"
                    f" {figures['median_ms'] / with_logging:.2f}x."
                )
                if floor > target:
                    context += (
                        f" Importing `logging`, which the one structured log line per request"
                        f" goes through, already puts a fresh interpreter at {floor:.2f}x"
                        f" `import json`: above the {target}x target before any handler code."
                    )
            gaps.append(
                f"- **Cold start {name}**: {_ms(figures['median_ms'])}, over its"
                f" {_ms(allowed)} allowance by {_ms(figures['median_ms'] - allowed)}. Importing"
                f" the handler module takes {_ms(figures['imports']['handler_module_ms'])};"
                f" its heaviest direct imports: {heaviest} (`-X importtime`, one run)."
                f" {_phases(figures['imports'])}{context}"
            )
    zips = results["zips"]
    largest = max(zips["functions"].values(), key=lambda entry: entry["bytes"])
    rows.append(
        [
            "Each zip ≤ 16 KiB",
            f"largest {largest['bytes']:,} bytes ({largest['handler']})",
            _verdict(all(entry["meets_target"] for entry in zips["functions"].values())),
        ]
    )
    latency = results["local_latency"]["routes"]
    health = latency["GET /health"]
    health_met = health["median_ms"] <= HEALTH_MEDIAN_TARGET_MS
    rows.append(
        [
            f"`draht dev` GET /health median ≤ {HEALTH_MEDIAN_TARGET_MS:g} ms"
            " (new connection per request)",
            _ms(health["median_ms"]),
            _verdict(health_met),
        ]
    )
    overheads = {route: figures["overhead_ms"] for route, figures in latency.items()}
    over = {route: value for route, value in overheads.items() if value > OVERHEAD_TARGET_MS}
    rows.append(
        [
            f"`draht dev` overhead over an in-process call ≤ {OVERHEAD_TARGET_MS:g} ms",
            ", ".join(f"{route} {_ms(value)}" for route, value in overheads.items()),
            _verdict(not over),
        ]
    )
    if not health_met:
        floor = results["api"]["baseline"]["sequential"]["median_ms"]
        gaps.append(
            f"- **`draht dev` /health**: {_ms(health['median_ms'])} end to end with a new"
            f" connection per request, of which {_ms(health['in_process_median_ms'])} is the"
            f" handler; this machine's floor on a kept-alive connection (a fixed answer from a"
            f" minimal asyncio server) is {_ms(floor)}."
        )
    if over:
        gaps.append(
            f"- **`draht dev` overhead**: {', '.join(f'{r} {_ms(v)}' for r, v in over.items())}"
            f" against /health's {_ms(overheads['GET /health'])}. What these routes add over"
            " /health in the server is a DynamoDB call that passes the local IAM check and a"
            " larger body through the worker's pipe; this run does not break the difference"
            " down further."
        )
    cost = results["cost"]
    growth = cost["capacity_growth_largest_over_smallest"]
    rows.append(
        [
            "Page cost flat from 1k to 100k items",
            f"capacity x{max(growth.values())} per page (full Scan baseline"
            f" x{cost['baseline_growth_largest_over_smallest']})",
            _verdict(cost["page_cost_constant"]),
        ]
    )
    load = results["load"]
    rows.append(
        [
            "Load: 8 x 2,000 requests, zero errors, each item once",
            f"{load['requests']:,} requests, {load['errors']} errors,"
            f" {load['items_checked']:,} items checked",
            _verdict(load["errors"] == 0),
        ]
    )
    return rows, gaps


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
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
        f" {results['seconds']:.0f} s.",
        "",
        "Medians, with the interquartile range as the spread (p25 to p75) unless a column says"
        " otherwise.",
        "",
        "## Targets",
        "",
    ]
    rows, gaps = _targets(results)
    lines += _table(["Target", "Measured", "Verdict"], rows)
    if gaps:
        lines += ["Where a target is missed, by how much and why:", "", *gaps, ""]
    lines += _cold_start(results["cold_start"])
    lines += _zips(results["zips"])
    lines += _api(results["local_latency"], results["api"])
    lines += _load(results["load"], results["api"]["baseline"]["concurrent_8"])
    lines += _cost(results["cost"])
    lines += _writes(results["writes"])
    lines += _stack(results["stack_eval"])
    lines += _durations(results["durations_s"])
    return "\n".join(lines).rstrip() + "\n"


def _cold_start(cold: dict[str, Any]) -> list[str]:
    lines = [
        "## 1. Cold start",
        "",
        f"A fresh interpreter (`python -S`, site-packages on PYTHONPATH) per run, {cold['runs']}"
        " runs each, candidates and baselines interleaved in a shuffled order. A function's run"
        " imports its handler from its extracted deployment zip, without bytecode caches, with"
        " its own link environment, and serves a first API Gateway v2 event against dynalite"
        " (the data routes read a real page).",
        "",
    ]
    rows = [
        [f"`{label}` (baseline)", _ms(f["median_ms"]), _spread(f), _ms(f["min_ms"]), "", ""]
        for label, f in cold["baselines"].items()
    ]
    for name, f in cold["functions"].items():
        rows.append(
            [
                name,
                _ms(f["median_ms"]),
                _spread(f),
                _ms(f["min_ms"]),
                f"{f['ratio_to_baseline']}x `{f['baseline']}`",
                f"≤ {f['target_ratio']}x: {_verdict(f['meets_target'])}",
            ]
        )
    lines += _table(["Process", "Median", "Spread", "Fastest", "Ratio", "Target"], rows)
    frozen = cold["baselines"][FROZEN_BOTO3_BASELINE]["median_ms"]
    like_for_like = ", ".join(
        f"{name} {cold['functions'][name]['median_ms'] / frozen:.2f}x"
        for name, (baseline, _) in COLD_START_TARGETS.items()
        if baseline == "import boto3 + DynamoDB client"
    )
    lines += [
        "The last two baselines are context, not targets. Lambda's Python runtime has set up"
        " `logging` before it imports a handler, so on Lambda that part of a handler's imports"
        " is already paid. The data handlers call `gc.freeze()` once their client is built,"
        " which spares them the full garbage collection the plain boto3 baseline pays; against"
        f" the baseline that does the same ({_ms(frozen)}): {like_for_like}.",
        "",
        "Heaviest direct imports of each handler module (`-X importtime`, one run), and where"
        " the time of one more run went (a script that times its own phases and its full"
        " garbage collections; not part of the timed runs):",
        "",
    ]
    for name, f in cold["functions"].items():
        heaviest = ", ".join(
            f"`{entry['module']}` {_ms(entry['cumulative_ms'])}"
            for entry in f["imports"]["heaviest"]
        )
        lines.append(
            f"- {name} ({_ms(f['imports']['handler_module_ms'])} in all): {heaviest}."
            f" {_phases(f['imports'])}"
        )
    return [*lines, ""]


def _zips(zips: dict[str, Any]) -> list[str]:
    rows = [
        [
            name,
            f"{entry['bytes']:,} B ({entry['bytes'] / 1024:.1f} KiB)",
            ", ".join(f"`{path}`" for path in entry["files"]),
            _verdict(entry["meets_target"]),
        ]
        for name, entry in zips["functions"].items()
    ]
    return [
        "## 2. Deployment zips",
        "",
        "Straight from `draht.package.build_archive`, the archive the Pulumi program deploys"
        f" (target ≤ {zips['target_bytes'] // 1024} KiB each).",
        "",
        *_table(["Function", "Size", "Files", "Target"], rows),
    ]


def _api(latency: dict[str, Any], api: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Local API through `draht dev`",
        "",
        f"**New connection per request** (bench/local_latency.py,"
        f" {latency['requests_per_route']:,} sequential requests per route), and the same"
        " handler called in-process with the same event; the difference is what the local"
        " runtime adds (HTTP, routing, the event, the pipe to the worker, the IAM hook).",
        "",
    ]
    rows = [
        [
            route,
            _ms(f["median_ms"]),
            _ms(f["p99_ms"]),
            _ms(f["in_process_median_ms"]),
            _ms(f["overhead_ms"]),
        ]
        for route, f in latency["routes"].items()
    ]
    lines += _table(["Route", "Median", "p99", "In-process median", "Overhead"], rows)
    lines += [
        f"**Kept-alive connections**, {api['requests_per_mode']:,} requests per mode: one"
        " client, then 8 concurrent clients. Baseline: a minimal asyncio HTTP server answering"
        " a fixed JSON body, driven by the same client.",
        "",
    ]
    rows = []
    for label, modes in [("baseline (fixed answer)", api["baseline"]), *api["routes"].items()]:
        for mode, title in (("sequential", "1 client"), ("concurrent_8", "8 clients")):
            f = modes[mode]
            ratio = f.get("median_ratio_to_baseline")
            rows.append(
                [
                    label,
                    title,
                    _ms(f["median_ms"]),
                    _ms(f["p99_ms"]),
                    f"{f['requests_per_second']:,}",
                    "" if ratio is None else f"{ratio}x",
                ]
            )
    lines += _table(["Route", "Clients", "Median", "p99", "Requests/s", "Median vs baseline"], rows)
    return lines


def _load(load: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    listings = ", ".join(f"{count:,} x {name}" for name, count in load["listings_checked"].items())
    statuses = ", ".join(f"{count:,} x {status}" for status, count in load["statuses"].items())
    return [
        "## 4. Load",
        "",
        f"{load['clients']} concurrent clients x {load['requests_per_client']:,} requests"
        " (tests/traffic.py, the driver of tests/test_load.py), mixed: /health, and full"
        " listings of /clients and of a random client's /sessions followed cursor by cursor"
        " with a random page size, each checked against the seeded data"
        f" ({load['data']['clients']} clients, {load['data']['sessions']:,} sessions).",
        "",
        *_table(
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
        ),
        f"Statuses: {statuses}. Listings checked complete, each item exactly once and"
        f" sessions newest first: {listings} ({load['items_checked']:,} items). For scale, the"
        f" same kind of client threads get {floor['requests_per_second']:,} requests/s (median"
        f" {_ms(floor['median_ms'])}) from the fixed-answer baseline server of section 3.",
        "",
        *(f"- error: {error}" for error in load["first_errors"]),
        *([""] if load["first_errors"] else []),
    ]


def _cost(cost: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Cost as data grows",
        "",
        f"Both tables filled to each size (half of all sessions belong to"
        f" `{cost['measured_client']}`, so its partition grows too). The handlers run in-process"
        " against dynalite; a hook on boto3 asks each of their DynamoDB calls for"
        " `ReturnConsumedCapacity` and records what dynalite reports. Pages of"
        f" {cost['page_limit']}; page {cost['deep_page_number']} is reached by following"
        " cursors. Baseline: what the sessions page would cost without the key layout, a Scan"
        " of the whole table.",
        "",
        "![Read capacity and latency per page against table size](bench/cost.png)",
        "",
    ]
    rows = []
    for level in cost["levels"]:
        cells = [f"{level['items_per_table']:,}", f"{level['load_seconds']} s"]
        for route in ("sessions", "clients"):
            for page in ("first_page", "deep_page"):
                f = level[route][page]
                cells.append(
                    f"{f['capacity_units']:g} RCU, {f['items_read']} items, {_ms(f['median_ms'])}"
                )
        scan = level["full_scan_baseline"]["sessions"]
        cells.append(f"{scan['capacity_units']:g} RCU, {_ms(scan['latency_ms'])}")
        rows.append(cells)
    lines += _table(
        [
            "Items per table",
            "Load time",
            "/sessions page 1",
            f"/sessions page {cost['deep_page_number']}",
            "/clients page 1",
            f"/clients page {cost['deep_page_number']}",
            "Baseline: full Scan",
        ],
        rows,
    )
    loads = ", ".join(
        f"{level['load_items_per_second']:,} items/s at {level['items_per_table']:,}"
        for level in cost["levels"]
    )
    lines += [
        "Items read per page stay at the page size plus one (the look-ahead that keeps the"
        " last page from carrying a cursor) at every size."
        if cost["page_cost_constant"]
        else "**Items read per page change with the table size.**",
        f"Loading (BatchWriteItem, 8 threads): {loads}.",
        "",
    ]
    return lines


# The store operation each API operation is measured beside.
_WRITE_BASELINES = {
    "create": "PutItem",
    "read": "GetItem",
    "patch": "UpdateItem",
    "delete": "DeleteItem",
}


def _writes(writes: dict[str, Any]) -> list[str]:
    latency = writes["latency"]
    baseline = latency["store_baseline"]
    latency_rows = []
    for operation, figures in latency["operations"].items():
        store_operation = _WRITE_BASELINES[operation.split()[0]]
        floor = baseline[store_operation]
        latency_rows.append(
            [
                operation,
                _ms(figures["median_ms"]),
                _ms(figures["p99_ms"]),
                f"{store_operation} {_ms(floor['median_ms'])} (p99 {_ms(floor['p99_ms'])})",
                f"{_ms(figures['median_ms'] - floor['median_ms'])}",
            ]
        )
    capacity_rows = [
        [
            operation,
            ", ".join(entry["store_calls"]),
            f"{entry['bytes']:,} B",
            f"{entry['capacity_units']:g}",
            f"{entry['minimum_units']:g}",
            f"{entry['over_minimum']}x",
        ]
        for operation, entry in writes["capacity"].items()
    ]
    return [
        "## 6. Create, read, patch and delete",
        "",
        f"**Latency** (bench/writes.py): {latency['rounds']} rounds, each creating, reading,"
        " patching and deleting a client and one of its sessions through `draht dev` on one"
        " kept-alive connection. Baseline: the same single-item operation sent by boto3"
        " straight to the same dynalite, in the same run.",
        "",
        *_table(
            ["Operation", "Median", "p99", "Store alone: median (p99)", "Added by the API"],
            latency_rows,
        ),
        "**Capacity**: each handler's own DynamoDB calls, asked for ReturnConsumedCapacity by"
        " a boto3 hook, as the store reports them, beside the least DynamoDB charges for that"
        " operation on an item of that size (a strongly consistent read per 4 KB, a write per"
        " 1 KB, and for a session one more write of its local index `bySessionId`). What is"
        " above the minimum pays for exactness: the If-Match read before a patch, a session"
        " create's claim on its client and its release, and a client delete's mark and its"
        " check for sessions.",
        "",
        *_table(
            ["Operation", "Store calls", "Item", "Consumed", "Minimum", "Over minimum"],
            capacity_rows,
        ),
    ]


def _stack(stack: dict[str, Any]) -> list[str]:
    baseline = stack["baseline"]
    rows = [
        [
            f"`{baseline['label']}` (baseline)",
            "",
            _ms(baseline["median_ms"]),
            _spread(baseline),
            "",
            "",
            "",
            "",
        ]
    ]
    for name, f in stack["stacks"].items():
        rows.append(
            [
                name,
                str(f["resources"]),
                _ms(f["fresh_process"]["median_ms"]),
                _spread(f["fresh_process"]),
                f"{f['fresh_process_ratio_to_baseline']}x",
                _ms(f["import"]["median_ms"]),
                _ms(f["first_evaluation"]["median_ms"]),
                _ms(f["warm_evaluation"]["median_ms"]),
            ]
        )
    return [
        "## 7. Pulumi program under mocks",
        "",
        "Each stack's program (`draht.stack.main` with `Pulumi.<stack>.yaml`'s config)"
        " evaluated by `draht.synth.synthesize` under Pulumi mocks in a fresh interpreter"
        " (wall time of the process, interleaved with the baseline), split into importing"
        " the program and its first evaluation; warm: further evaluations in one process.",
        "",
        *_table(
            [
                "Process",
                "Resources",
                "Fresh process",
                "Spread",
                "Ratio",
                "Import",
                "First evaluation",
                "Warm evaluation",
            ],
            rows,
        ),
    ]


def _durations(durations: dict[str, float]) -> list[str]:
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items())
    return ["## Run", "", f"Time per section: {parts}.", ""]
