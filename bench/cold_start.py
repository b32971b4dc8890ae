"""Cold start of each function, beside the baselines it is judged against.

A cold start here is what Lambda pays on a new container, minus the parts we do
not control: a fresh interpreter starts, imports the handler module from the
deployment zip (extracted, without bytecode caches, as in /var/task) with the
function's own environment, and serves a first API Gateway event against a real
store. The baselines are fresh interpreters that run `pass`, `import json`, and
`import boto3` plus creating a DynamoDB client. Candidates and baselines run
interleaved in a shuffled order each round, so drift on a noisy machine spreads
over all of them instead of favouring whichever ran first.

Every interpreter runs with `-S` and the virtualenv's site-packages on PYTHONPATH:
Lambda's runtime finds boto3 on its path without processing `.pth` files, and the
editable install's import hook would otherwise add ~8 ms to every run alike,
shrinking every ratio towards 1.
"""

from __future__ import annotations

import ast
import io
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documented_events import api_event

from bench.lambda_env import first_query, function_environment, prepare_store
from bench.stats import ratio, summary_ms
from draht.app import app
from draht.local.store import LOCAL_CREDENTIALS, LOCAL_REGION, Dynalite, dynamodb_client
from draht.model import Function
from draht.package import build_archive

BASELINES = {
    "python -c pass": "pass",
    "import json": "import json",
    "import boto3 + DynamoDB client": "import boto3\nboto3.client('dynamodb')",
    # Not a target: context. Lambda's Python runtime has set up `logging` before it
    # imports any handler, so on Lambda this part of a handler's imports is already paid.
    "import json, logging": "import json, logging",
    # Context too: the data handlers freeze boto3's objects once their client is built, which
    # spares their process the full garbage collection the plain boto3 baseline pays.
    "import boto3 + DynamoDB client + gc.freeze()": (
        "import boto3, gc\nboto3.client('dynamodb')\ngc.freeze()"
    ),
}
# Health must stay near a bare interpreter; the data handlers near what boto3 costs anyway.
TARGETS = {
    "Health": ("import json", 1.2),
    "ListSessions": ("import boto3 + DynamoDB client", 1.1),
    "ListClients": ("import boto3 + DynamoDB client", 1.1),
}

_FIRST_EVENT = """\
{diagnosis_start}import sys
sys.path.insert(0, {root!r})
from {module} import {attribute} as handler
{diagnosis_imported}

class Context:
    aws_request_id = "cold-start"
    function_name = {function_name!r}
    memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self):
        return 10_000


response = handler({event!r}, Context())
{diagnosis_served}sys.stdout.write(str(response["statusCode"]))
"""
# A separate, untimed run of the same script, telling apart the import and the first event
# and how much of each went to full (generation 2) garbage collections.
_DIAGNOSIS = {
    "diagnosis_start": """\
import gc, time
full_collections = []
def on_gc(phase, info, begun=[0.0]):
    if info["generation"] == 2 and phase == "start":
        begun[0] = time.perf_counter()
    elif info["generation"] == 2:
        full_collections.append((begun[0], time.perf_counter() - begun[0]))
gc.callbacks.append(on_gc)
started = time.perf_counter()
""",
    "diagnosis_imported": "imported = time.perf_counter()\n",
    "diagnosis_served": """\
served = time.perf_counter()
def window(low, high):
    pauses = [pause for at, pause in full_collections if low <= at < high]
    return {"ms": round((high - low) * 1000, 3), "full_collections": len(pauses),
            "in_full_collections_ms": round(sum(pauses) * 1000, 3)}
sys.stderr.write("DIAGNOSIS " + repr({"import": window(started, imported),
                                      "first_event": window(imported, served)}) + "\\n")
""",
}
_UNDIAGNOSED = dict.fromkeys(_DIAGNOSIS, "")


@dataclass(frozen=True)
class Candidate:
    label: str
    source: str
    environment: Mapping[str, str]
    expected_output: str = ""


def _base_environment(endpoint: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "LANG": "C.UTF-8",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        # Lambda's /var/task is read-only: every cold start compiles the handler anew.
        "PYTHONDONTWRITEBYTECODE": "1",
        **LOCAL_CREDENTIALS,
    }


def _extract(function: Function, into: Path) -> Path:
    root = into / function.name
    with zipfile.ZipFile(io.BytesIO(build_archive(function).data)) as archive:
        archive.extractall(root)
    return root


def _run_once(candidate: Candidate, *flags: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-S", *flags, "-c", candidate.source],
        env=dict(candidate.environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if completed.returncode != 0 or completed.stdout != candidate.expected_output:
        raise RuntimeError(
            f"{candidate.label} failed (exit {completed.returncode},"
            f" output {completed.stdout!r}): {completed.stderr[-2000:]}"
        )
    return completed


def _timed_run(candidate: Candidate) -> float:
    started = time.perf_counter()
    _run_once(candidate)
    return time.perf_counter() - started


def _heaviest_imports(candidate: Candidate, module: str, count: int = 6) -> dict[str, Any]:
    """What the handler module and its direct imports cost, heaviest first (`-X importtime`)."""
    report = _run_once(candidate, "-X", "importtime").stderr
    # importtime prints each module after the modules it imported; the depth is the
    # indentation of the name: one space for top level, three for what those import.
    direct: list[dict[str, Any]] = []
    for line in report.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        entry = {"module": name.strip(), "cumulative_ms": int(cumulative) / 1000}
        if depth == 1:
            direct.append(entry)
        elif depth == 0 and entry["module"] == module:
            direct.sort(key=lambda item: -item["cumulative_ms"])
            return {"handler_module_ms": entry["cumulative_ms"], "heaviest": direct[:count]}
        elif depth == 0:
            direct = []
    raise RuntimeError(f"{module} does not appear in the import time report of {candidate.label}")


def _phases(candidate: Candidate) -> dict[str, Any]:
    report = _run_once(candidate).stderr
    for line in report.splitlines():
        if line.startswith("DIAGNOSIS "):
            phases: dict[str, Any] = ast.literal_eval(line.removeprefix("DIAGNOSIS "))
            return phases
    raise RuntimeError(f"no diagnosis from {candidate.label}: {report[-2000:]}")


def measure(runs: int = 31, seed: int = 5) -> dict[str, Any]:
    with Dynalite() as store, tempfile.TemporaryDirectory(prefix="draht-cold-") as scratch:
        client = dynamodb_client(store.endpoint)
        table_arns = prepare_store(client)
        base = _base_environment(store.endpoint)
        candidates = [Candidate(label, source, base) for label, source in BASELINES.items()]
        diagnoses: dict[str, dict[str, Any]] = {}
        for function in app.functions:
            route = next(r for r in app.routes if r.function is function)
            script = {
                "root": str(_extract(function, Path(scratch))),
                "module": function.module,
                "attribute": function.attribute,
                "function_name": function.name,
                "event": api_event(route.key, first_query(route)),
            }
            environment = {**base, **function_environment(function, table_arns)}
            timed = Candidate(
                function.name, _FIRST_EVENT.format(**script, **_UNDIAGNOSED), environment, "200"
            )
            candidates.append(timed)
            diagnosed = Candidate(
                function.name, _FIRST_EVENT.format(**script, **_DIAGNOSIS), environment, "200"
            )
            diagnoses[function.name] = {
                **_heaviest_imports(timed, function.module),
                **_phases(diagnosed),
            }

        order = random.Random(seed)
        for candidate in candidates:
            # One unmeasured round warms the page cache for everyone alike.
            _run_once(candidate)
        samples: dict[str, list[float]] = {candidate.label: [] for candidate in candidates}
        for _ in range(runs):
            for candidate in order.sample(candidates, len(candidates)):
                samples[candidate.label].append(_timed_run(candidate))

    summaries = {label: summary_ms(values) for label, values in samples.items()}
    functions = {}
    for name, (baseline, target) in TARGETS.items():
        observed = ratio(summaries[name]["median_ms"], summaries[baseline]["median_ms"])
        functions[name] = {
            **summaries[name],
            "baseline": baseline,
            "ratio_to_baseline": observed,
            "target_ratio": target,
            "meets_target": observed <= target,
            "over_baseline_ms": round(
                summaries[name]["median_ms"] - summaries[baseline]["median_ms"], 3
            ),
            "imports": diagnoses[name],
        }
    return {
        "runs": runs,
        "interpreter": f"{sys.executable} -S (site-packages on PYTHONPATH)",
        "baselines": {label: summaries[label] for label in BASELINES},
        "functions": functions,
    }
