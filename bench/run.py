"""`make bench`: every benchmark in one run, written to BENCHMARKS.md, bench/results.json and
bench/cost.png.

    python -m bench.run               # from the project root; a few minutes on 2 cores
    python -m bench.run --diagnose    # also where each function's cold start goes
    python -m bench.run --quick       # every section at a small size; prints the report only

Each section runs in its own interpreter: several import the handlers with their
own environment and store, and one section's imports, clients or environment
must not leak into another's figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from draht import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results.json"
REPORT = PROJECT_ROOT / "BENCHMARKS.md"
COST_PLOT = PROJECT_ROOT / "bench" / "cost.png"
# The draht dev, event and traffic helpers are shared with the tests, which import them so.
TESTS_DIR = PROJECT_ROOT / "tests"

SECTIONS = {
    "machine": "bench.machine:describe",
    "zips": "bench.zips:measure",
    "cold_start": "bench.cold_start:measure",
    "http_latency": "bench.http_latency:measure",
    "load": "bench.load:measure",
    "cost": "bench.cost:measure",
}
QUICK: dict[str, dict[str, Any]] = {
    "cold_start": {"runs": 3},
    "http_latency": {"requests": 100, "warmup": 5},
    "load": {"requests_per_client": 100},
    "cost": {"sizes": (1_000, 2_000), "repeats": 2},
}


def _section(name: str, arguments: dict[str, Any], out: Path) -> None:
    """Runs inside the section's own interpreter."""
    module, _, function = SECTIONS[name].partition(":")
    figures = getattr(importlib.import_module(module), function)(**arguments)
    out.write_text(json.dumps(figures))


def run_section(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.run", "--section", name, json.dumps(arguments), out.name],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
        )
        if completed.returncode != 0:
            raise SystemExit(f"bench: {name} failed:\n{completed.stdout[-4000:]}")
        figures: dict[str, Any] = json.loads(Path(out.name).read_text())
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--diagnose", action="store_true", help="also diagnose the cold starts")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, to check it runs; writes nothing"
    )
    parser.add_argument(
        "--section", nargs=3, metavar=("NAME", "ARGUMENTS", "OUT"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    sys.path.insert(0, str(TESTS_DIR))
    if options.section:
        name, arguments, out = options.section
        _section(name, json.loads(arguments), Path(out))
        return

    started = time.perf_counter()
    results: dict[str, Any] = {"durations_s": {}}
    for name in SECTIONS:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        arguments = dict(QUICK.get(name, {})) if options.quick else {}
        if name == "cold_start" and options.diagnose:
            arguments["diagnose"] = True
        section_started = time.perf_counter()
        results[name] = run_section(name, arguments)
        results["durations_s"][name] = round(time.perf_counter() - section_started, 1)
    results["seconds"] = round(time.perf_counter() - started, 1)

    from bench.plot import cost_figure
    from bench.report import render

    if options.quick:
        with tempfile.TemporaryDirectory() as scratch:
            cost_figure(results["cost"], Path(scratch) / "cost.png")
        print(render(results))
        return
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    cost_figure(results["cost"], COST_PLOT)
    REPORT.write_text(render(results))
    print(
        f"bench: wrote {REPORT.name}, {RESULTS.relative_to(PROJECT_ROOT)} and"
        f" {COST_PLOT.relative_to(PROJECT_ROOT)} in {results['seconds']:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    main()
