"""Cold start of each function, beside the baselines it is judged against; `section` says how
it is measured. With `diagnose`, also where the time goes."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

from documented_events import api_event

from bench.report import Section, Target, ms
from bench.stats import summary_ms, timed
from draht.app import app
from draht.local.runtime import Deployment
from draht.local.seed import seed as seed_sample_data
from draht.local.store import Dynalite, dynamodb_client, ensure_tables
from draht.model import Function
from draht.package import build_archive
from draht.settings import local_settings

FIRST_EVENT = Path(__file__).with_name("first_event.py")
BOTO3 = "import boto3 + DynamoDB client"
BASELINES = {
    "python -c pass": "pass",
    "import json": "import json",
    BOTO3: "import boto3\nboto3.client('dynamodb')",
}
CONTEXT_NOTE = (
    "The last two baselines are context, not targets: Lambda's runtime has imported `logging`"
    " before any handler, and the data handlers call `gc.freeze()` once their client is built,"
    " which spares them the full garbage collection the plain boto3 baseline pays."
)
CONTEXT_BASELINES = {
    "import json, logging": "import json, logging",
    f"{BOTO3} + gc.freeze()": "import boto3, gc\nboto3.client('dynamodb')\ngc.freeze()",
}
# Function: (baseline, target ratio, the context baseline it is also set against).
# Health must stay near a bare interpreter; the data handlers near what boto3 costs anyway.
TARGETS = {
    "Health": ("import json", 1.2, "import json, logging"),
    "ListSessions": (BOTO3, 1.1, f"{BOTO3} + gc.freeze()"),
    "ListClients": (BOTO3, 1.1, f"{BOTO3} + gc.freeze()"),
}
# A line of `-X importtime`: self and cumulative µs, the module two more spaces in per level.
IMPORT_TIME = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)$", re.MULTILINE)
Candidate = tuple[list[str], dict[str, str], str]
"""What follows `python -S`, its environment, and the output that says it worked."""


def _run(candidate: Candidate, *flags: str) -> str:
    """Run once; returns its stderr."""
    arguments, environment, expected = candidate
    command = [sys.executable, "-S", *flags, *arguments]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or done.stdout != expected:
        raise RuntimeError(f"{arguments[:2]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stderr


def _heaviest_imports(candidate: Candidate, module: str) -> dict[str, Any]:
    """The handler module's import and its six heaviest direct imports (`-X importtime`)."""
    direct: dict[str, float] = {}
    for cumulative, indent, name in IMPORT_TIME.findall(_run(candidate, "-X", "importtime")):
        # Each module is printed after those it imported: theirs are the lines just before.
        depth, took = len(indent) // 2, int(cumulative) / 1000
        if depth == 1:
            direct[name] = took
        elif depth == 0 and name == module:
            heaviest = sorted(direct.items(), key=lambda entry: -entry[1])[:6]
            return {"handler_module_ms": took, "heaviest": dict(heaviest)}
        elif depth == 0:
            direct = {}
    raise RuntimeError(f"{module} is missing from its own `-X importtime` report")


def _first_event(function: Function, scratch: Path, client_id: str) -> list[str]:
    """bench/first_event.py on the function's zip, extracted without bytecode caches as in
    /var/task; a first request reads a real page, the sample data's first client's."""
    route = next(r for r in app.routes if r.function is function)
    event = api_event(route.key, {"clientId": client_id} if route.path == "/sessions" else {})
    with zipfile.ZipFile(io.BytesIO(build_archive(function).data)) as archive:
        archive.extractall(scratch / function.name)
    arguments = [FIRST_EVENT, scratch / function.name, function.handler, function.name]
    return [*map(str, arguments), json.dumps(event)]


def measure(runs: int = 31, seed: int = 5, diagnose: bool = False) -> dict[str, Any]:
    baselines = {**BASELINES, **(CONTEXT_BASELINES if diagnose else {})}
    with Dynalite() as store, tempfile.TemporaryDirectory(prefix="draht-cold-") as scratch:
        client = dynamodb_client(store.endpoint)
        arns = ensure_tables(client, app.name, app.tables)
        client_id = seed_sample_data(client, app).clients[0]["clientId"]
        deployment = Deployment(
            app, Path(scratch), local_settings(), store.endpoint, table_arns=arns
        )

        def environment(function: Function) -> dict[str, str]:
            # `-S` with site-packages on PYTHONPATH, as Lambda finds boto3 without processing
            # `.pth` files: the editable install's import hook would add ~8 ms to every run.
            return {
                **deployment.environment(function),
                "PYTHONPATH": sysconfig.get_paths()["purelib"],
            }

        # Each function runs in its own environment, as draht dev builds it; baselines in Health's.
        health = environment(app.function("Health"))
        candidates = {label: (["-c", code], health, "") for label, code in baselines.items()}
        for function in app.functions:
            arguments = _first_event(function, Path(scratch), client_id)
            candidates[function.name] = (arguments, environment(function), "200")
        diagnoses = {
            f.name: _heaviest_imports(candidates[f.name], f.module)
            for f in app.functions
            if diagnose
        }
        for candidate in candidates.values():
            _run(candidate)  # one unmeasured round warms the page cache for everyone alike
        samples: dict[str, list[float]] = {label: [] for label in candidates}
        # Interleaved in a shuffled order each round: drift on a noisy machine spreads over all.
        order = random.Random(seed)
        for _ in range(runs):
            for label in order.sample(list(candidates), len(candidates)):
                samples[label].append(timed(partial(_run, candidates[label]))[0])

    summaries = {label: summary_ms(values) for label, values in samples.items()}
    for name, diagnosis in diagnoses.items():
        summaries[name]["diagnosis"] = diagnosis
    return {
        "runs": runs,
        "baselines": {label: summaries[label] for label in baselines},
        "functions": {function.name: summaries[function.name] for function in app.functions},
    }


def _row(label: str, f: dict[str, Any], ratio: str = "") -> list[str]:
    return [label, ms(f["median_ms"]), f"{ms(f['p25_ms'])} to {ms(f['p75_ms'])}", ratio]


def section(cold: dict[str, Any]) -> Section:
    baselines = cold["baselines"]
    rows = [_row(f"`{label}` (baseline)", f) for label, f in baselines.items()]
    targets, notes = [], []
    for name, f in cold["functions"].items():
        baseline, target, context = TARGETS[name]
        baseline_ms = baselines[baseline]["median_ms"]
        ratio = f["median_ms"] / baseline_ms
        rows.append(_row(name, f, f"{ratio:.3f}x `{baseline}`"))
        why = "`python -m bench.run --diagnose` says where the time goes."
        if "diagnosis" in f:
            diagnosis, context_ms = f["diagnosis"], baselines[context]["median_ms"]
            heaviest = ", ".join(
                f"`{module}` {ms(took)}" for module, took in diagnosis["heaviest"].items()
            )
            why = (
                f"Importing the handler takes {ms(diagnosis['handler_module_ms'])}, heaviest:"
                f" {heaviest}. `{context}` alone is {context_ms / baseline_ms:.2f}x `{baseline}`;"
                f" {name} is {f['median_ms'] / context_ms:.2f}x it."
            )
            notes.append(f"- {name}: {why}")
        measured = f"{ms(f['median_ms'])} = {ratio:.3f}x ({ms(baseline_ms)})"
        over = f"over its allowance by {ms(f['median_ms'] - baseline_ms * target)}. {why}"
        targets.append(
            Target(f"Cold start {name} ≤ {target}x `{baseline}`", measured, ratio <= target, over)
        )
    return Section(
        "Cold start",
        f"A fresh interpreter (`python -S`, site-packages on PYTHONPATH) per run, {cold['runs']}"
        " runs each, candidates and baselines interleaved in a shuffled order. A function's run"
        " imports its handler from its extracted deployment zip, without bytecode caches, with"
        " its own link environment, and serves a first API Gateway v2 event against dynalite.",
        ["Process", "Median", "Spread", "Ratio"],
        rows,
        [CONTEXT_NOTE, "", *notes] if notes else [],
        targets,
    )
