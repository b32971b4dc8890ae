"""`make bench`: every benchmark in one run, written to BENCHMARKS.md, bench/results.json and
bench/cost.png.

    python -m bench.run               # from the project root; a few minutes on 2 cores
    python -m bench.run --diagnose    # also where each function's cold start goes
    python -m bench.run --quick       # every section at a small size; prints the report only

Each section runs in a fresh interpreter of its own: several import the handlers with their
own environment and store, and one section's imports, clients or environment must not leak
into another's figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.report import render
from draht import PROJECT_ROOT

# Each is a module of bench/ with `measure(**arguments) -> figures` and `section(figures)`,
# which turns its figures into the report's rows and the targets it judges.
SECTIONS = ("cold_start", "zips", "http_latency", "load", "cost", "writes")
RESULTS = PROJECT_ROOT / "bench" / "results.json"
REPORT = PROJECT_ROOT / "BENCHMARKS.md"
QUICK: dict[str, dict[str, Any]] = {
    "cold_start": {"runs": 3},
    "http_latency": {"requests": 100, "warmup": 5},
    "load": {"requests_per_client": 100},
    "cost": {"sizes": (1_000, 2_000), "repeats": 2},
    "writes": {"rounds": 20},
}


def _module(name: str) -> Any:
    return importlib.import_module(f"bench.{name}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--diagnose", action="store_true", help="also diagnose the cold starts")
    parser.add_argument("--quick", action="store_true", help="small sizes; prints the report only")
    parser.add_argument(
        "--report", action="store_true", help="only rewrite BENCHMARKS.md from bench/results.json"
    )
    options = parser.parse_args()
    # The draht dev, event and traffic helpers are shared with the tests, which import them so.
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    if options.report:
        results: dict[str, Any] = json.loads(RESULTS.read_text())
    else:
        results = _measure(quick=options.quick, diagnose=options.diagnose)
    report = render(results, [_module(name).section(results[name]) for name in SECTIONS])
    if options.quick:
        with tempfile.TemporaryDirectory() as scratch:
            _module("cost").plot(results["cost"], Path(scratch) / "cost.png")
        print(report)
        return
    REPORT.write_text(report)
    if options.report:
        print(f"bench: rewrote {REPORT.name} from {RESULTS.name}")
        return
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    _module("cost").plot(results["cost"], PROJECT_ROOT / "bench" / "cost.png")
    print(f"bench: wrote BENCHMARKS.md, results.json and cost.png in {results['seconds']:.0f} s")


def _measure(quick: bool, diagnose: bool) -> dict[str, Any]:
    """Every section's figures, each measured in a fresh interpreter of its own."""
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": describe(), "durations_s": {}}
    for name in SECTIONS:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        arguments = dict(QUICK.get(name, {})) if quick else {}
        if name == "cold_start" and diagnose:
            arguments["diagnose"] = True
        section_started = time.perf_counter()
        fresh = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=fresh) as interpreter:
            results[name] = interpreter.submit(_module(name).measure, **arguments).result()
        results["durations_s"][name] = round(time.perf_counter() - section_started, 1)
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    main()
