"""Cold start of each function, beside the baselines it is judged against.

A cold start here is what Lambda pays on a new container, minus the parts we do
not control: a fresh interpreter starts, imports the handler module from the
deployment zip (extracted, without bytecode caches, as in /var/task) with the
function's own environment, and serves a first API Gateway event against a real
store (bench/first_event.py). The baselines are fresh interpreters that run
`pass`, `import json`, and `import boto3` plus creating a DynamoDB client.
Candidates and baselines run interleaved in a shuffled order each round, so drift
on a noisy machine spreads over all of them instead of favouring whichever ran first.

Every interpreter runs with `-S` and the virtualenv's site-packages on PYTHONPATH:
Lambda's runtime finds boto3 on its path without processing `.pth` files, and the
editable install's import hook would otherwise add ~8 ms to every run alike,
shrinking every ratio towards 1.

With `diagnose`, it also says where the time goes: two more baselines for context,
each handler's heaviest imports (`-X importtime`) and one self-timing run.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documented_events import api_event

from bench.stats import ratio, summary_ms
from draht.app import app
from draht.local.runtime import Deployment
from draht.local.seed import seed as seed_sample_data
from draht.local.store import Dynalite, dynamodb_client, ensure_tables
from draht.model import Function
from draht.package import build_archive
from draht.settings import local_settings

FIRST_EVENT = Path(__file__).with_name("first_event.py")
BASELINES = {
    "python -c pass": "pass",
    "import json": "import json",
    "import boto3 + DynamoDB client": "import boto3\nboto3.client('dynamodb')",
}
LOGGING_BASELINE = "import json, logging"
CONTEXT_BASELINES = {
    # Lambda's Python runtime has set up `logging` before it imports any handler, so on
    # Lambda this part of a handler's imports is already paid.
    LOGGING_BASELINE: "import json, logging",
    # The data handlers freeze boto3's objects once their client is built, which spares
    # their process the full garbage collection the plain boto3 baseline pays.
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


@dataclass(frozen=True)
class Candidate:
    label: str
    command: Sequence[str]
    """What follows `python -S`."""
    environment: Mapping[str, str]
    expected_output: str = ""


def _extract(function: Function, into: Path) -> Path:
    root = into / function.name
    with zipfile.ZipFile(io.BytesIO(build_archive(function).data)) as archive:
        archive.extractall(root)
    return root


def _run(candidate: Candidate, *flags: str, extra: Sequence[str] = ()) -> str:
    """Run once; returns its stderr."""
    completed = subprocess.run(
        [sys.executable, "-S", *flags, *candidate.command, *extra],
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
    return completed.stderr


def _timed(candidate: Candidate) -> float:
    started = time.perf_counter()
    _run(candidate)
    return time.perf_counter() - started


def _heaviest_imports(candidate: Candidate, module: str, count: int = 6) -> dict[str, Any]:
    """What the handler module and its direct imports cost, heaviest first (`-X importtime`)."""
    report = _run(candidate, "-X", "importtime")
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
    for line in _run(candidate, extra=["--diagnose"]).splitlines():
        if line.startswith("DIAGNOSIS "):
            phases: dict[str, Any] = json.loads(line.removeprefix("DIAGNOSIS "))
            return phases
    raise RuntimeError(f"no diagnosis from {candidate.label}")


def measure(runs: int = 31, seed: int = 5, diagnose: bool = False) -> dict[str, Any]:
    baselines = {**BASELINES, **(CONTEXT_BASELINES if diagnose else {})}
    diagnoses: dict[str, dict[str, Any]] = {}
    with Dynalite() as store, tempfile.TemporaryDirectory(prefix="draht-cold-") as scratch:
        client = dynamodb_client(store.endpoint)
        table_arns = ensure_tables(client, app.name, app.tables)
        # A first request reads a real page: the sample data's first client and its sessions.
        client_id = seed_sample_data(client, app).clients[0]["clientId"]
        deployment = Deployment(
            app, Path(scratch), local_settings(), store.endpoint, table_arns=table_arns
        )
        # Each function's own environment, as draht dev builds it; the baselines run in Health's.
        site_packages = {"PYTHONPATH": sysconfig.get_paths()["purelib"]}
        base = {**deployment.environment(app.function("Health")), **site_packages}
        candidates = [Candidate(label, ["-c", code], base) for label, code in baselines.items()]
        for function in app.functions:
            route = next(r for r in app.routes if r.function is function)
            query = {"clientId": client_id} if route.path == "/sessions" else {}
            event = json.dumps(api_event(route.key, query))
            root = str(_extract(function, Path(scratch)))
            command = [str(FIRST_EVENT), root, function.module, function.attribute]
            candidate = Candidate(
                function.name,
                [*command, function.name, event],
                {**deployment.environment(function), **site_packages},
                "200",
            )
            candidates.append(candidate)
            if diagnose:
                diagnoses[function.name] = {
                    **_heaviest_imports(candidate, function.module),
                    **_phases(candidate),
                }

        order = random.Random(seed)
        for candidate in candidates:
            # One unmeasured round warms the page cache for everyone alike.
            _run(candidate)
        samples: dict[str, list[float]] = {candidate.label: [] for candidate in candidates}
        for _ in range(runs):
            for candidate in order.sample(candidates, len(candidates)):
                samples[candidate.label].append(_timed(candidate))

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
            **({"diagnosis": diagnoses[name]} if diagnose else {}),
        }
    return {
        "runs": runs,
        "interpreter": f"{sys.executable} -S (site-packages on PYTHONPATH)",
        "baselines": {label: summaries[label] for label in baselines},
        "functions": functions,
    }
