"""`make bench`: every benchmark in one run, written to BENCHMARKS.md, bench/results.json and
bench/cost.png.

    python -m bench.run          # from the project root; about 5 minutes on 2 cores

Each section runs in its own interpreter: several import the handlers with their
own environment and store, and one section's imports, clients or environment
must not leak into another's figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.plot import cost_figure
from bench.report import render

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The live-server and traffic helpers are shared with the tests, which import them from there.
TESTS_DIR = PROJECT_ROOT / "tests"
RESULTS = PROJECT_ROOT / "bench" / "results.json"
REPORT = PROJECT_ROOT / "BENCHMARKS.md"
COST_PLOT = PROJECT_ROOT / "bench" / "cost.png"

SECTIONS = {
    "machine": "bench.machine:describe",
    "zips": "bench.zips:measure",
    "cold_start": "bench.cold_start:measure",
    "stack_eval": "bench.stack_eval:measure",
    "local_latency": "bench.local_latency:measure",
    "api": "bench.api:measure",
    "load": "bench.load:measure",
    "cost": "bench.cost:measure",
    "writes": "bench.writes:measure",
}

_SECTION = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module, _, function = sys.argv[2].partition(":")
figures = getattr(importlib.import_module(module), function)()
with open(sys.argv[3], "w") as out:
    json.dump(figures, out)
"""


def run_section(name: str, target: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        completed = subprocess.run(
            [sys.executable, "-c", _SECTION, str(TESTS_DIR), target, out.name],
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
    started = time.perf_counter()
    results: dict[str, Any] = {"durations_s": {}}
    for name, target in SECTIONS.items():
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        section_started = time.perf_counter()
        results[name] = run_section(name, target)
        results["durations_s"][name] = round(time.perf_counter() - section_started, 1)
    results["seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    cost_figure(results["cost"], COST_PLOT)
    REPORT.write_text(render(results))
    print(
        f"bench: wrote {REPORT.name}, {RESULTS.relative_to(PROJECT_ROOT)} and"
        f" {COST_PLOT.relative_to(PROJECT_ROOT)} in {results['seconds']:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
