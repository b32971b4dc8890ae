"""How long the whole Pulumi program takes to evaluate under mocks, for each stack.

Each run is a fresh interpreter, as `pulumi preview` starts one: it imports the
program and evaluates it once for the stack, with that stack's config from
`Pulumi.<stack>.yaml`, reporting the import and the evaluation separately. It
then evaluates the program a few more times in the same process, which is the
cost of the program itself once the SDKs are loaded. The baseline is a fresh
interpreter that only imports `pulumi` and `pulumi_aws`: the floor every Pulumi
AWS program in Python pays before it declares anything.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.stats import ratio, summary_ms
from draht.settings import cli_value

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import pulumi, pulumi_aws"

_EVALUATE = """\
import json, sys, time
started = time.perf_counter()
from draht.app import app
from draht.stack import main
from draht.synth import synthesize
imported = time.perf_counter()
stack, config, warm_runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
synthesis = synthesize(lambda: main(app), stack, config)
evaluated = time.perf_counter()
warm = []
for _ in range(warm_runs):
    begin = time.perf_counter()
    synthesize(lambda: main(app), stack, config)
    warm.append(time.perf_counter() - begin)
print(json.dumps({
    "import_s": imported - started,
    "first_evaluation_s": evaluated - imported,
    "warm_evaluations_s": warm,
    "resources": len(synthesis.resources),
}))
"""


def stacks() -> dict[str, dict[str, str]]:
    """Each stack's config as the CLI would pass it: `Pulumi.<stack>.yaml`'s `config:` block."""
    found = {}
    for path in sorted(PROJECT_ROOT.glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text()).get("config") or {}
        found[path.stem.split(".", 1)[1]] = {key: cli_value(value) for key, value in config.items()}
    return found


def _run(arguments: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{arguments[:2]} failed: {completed.stderr[-2000:]}")
    return elapsed, completed.stdout


def _evaluate(stack: str, config: dict[str, str], warm_runs: int) -> tuple[float, dict[str, Any]]:
    elapsed, output = _run(["-c", _EVALUATE, stack, json.dumps(config), str(warm_runs)])
    return elapsed, json.loads(output)


def measure(runs: int = 11, warm_runs: int = 10, seed: int = 5) -> dict[str, Any]:
    configs = stacks()
    labels = [BASELINE, *configs]
    wall: dict[str, list[float]] = {label: [] for label in labels}
    details: dict[str, list[dict[str, Any]]] = {stack: [] for stack in configs}
    order = random.Random(seed)
    for _ in range(runs):
        for label in order.sample(labels, len(labels)):
            if label == BASELINE:
                elapsed, _ = _run(["-c", BASELINE])
            else:
                elapsed, detail = _evaluate(label, configs[label], warm_runs=0)
                details[label].append(detail)
            wall[label].append(elapsed)

    baseline = summary_ms(wall[BASELINE])
    figures: dict[str, Any] = {}
    for stack, runs_of_stack in details.items():
        process = summary_ms(wall[stack])
        # Kept out of the fresh-process figures: a separate process evaluates repeatedly.
        _, warm = _evaluate(stack, configs[stack], warm_runs)
        figures[stack] = {
            "resources": runs_of_stack[0]["resources"],
            "fresh_process": process,
            "fresh_process_ratio_to_baseline": ratio(process["median_ms"], baseline["median_ms"]),
            "import": summary_ms([run["import_s"] for run in runs_of_stack]),
            "first_evaluation": summary_ms([run["first_evaluation_s"] for run in runs_of_stack]),
            "warm_evaluation": summary_ms(warm["warm_evaluations_s"]),
        }
    return {"baseline": {"label": BASELINE, **baseline}, "stacks": figures}
