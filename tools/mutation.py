"""`make mutate`: mutmut 3 on the security-critical modules, written to MUTATION.md.

    python -m tools.mutation                 # every target in TARGETS, one after another
    python -m tools.mutation cursor iam      # only these (by file stem); the others' last
                                             # results are kept in the report
    python -m tools.mutation --report        # only rewrite the report from the kept results

Each run's result is kept in tools/mutation_results.json, in git beside the report, so a
run of one module on any clone reports the others as they were last measured.

Each target is one module and the test files a developer runs while changing it. It
gets its own mutmut run in `.mutmut/<stem>/` (git-ignored), a copy of the project whose
pyproject.toml says which file to mutate and which tests to run, so one module's
mutants are judged by its own tests only and runs of different modules never share
mutmut's caches. Adding a module is one line in TARGETS.

Survivors that cannot change behaviour are listed, each once with its reason, in
tools/equivalent_mutants.toml; every other survivor is reported as a gap. An entry is
matched by module, function and the changed lines, so one that no longer matches any
survivor is reported as stale rather than silently discounting another mutant.

Only tests that run the module in the pytest process can kill its mutants: mutmut
switches mutants inside that process, and `draht dev`'s workers are other interpreters
with environments of their own, which never see which mutant is on. The targets
therefore list in-process tests (the worker-level tests are left out of the iam run, as
their workers cannot even import a mutated module); the worker's own code paths are
exercised in-process by tests/test_local_iam.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORK_ROOT = PROJECT_ROOT / ".mutmut"
REPORT = PROJECT_ROOT / "MUTATION.md"
RESULTS = PROJECT_ROOT / "tools" / "mutation_results.json"
EQUIVALENTS = PROJECT_ROOT / "tools" / "equivalent_mutants.toml"
MUTMUT = Path(sys.executable).with_name("mutmut")
MAX_CHILDREN = 2

SECURITY_CRITICAL = 95.0
DEFAULT_TARGET = 90.0


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]
    target: float = DEFAULT_TARGET
    select: tuple[str, ...] = ()
    """Further pytest arguments choosing among those tests."""

    @property
    def name(self) -> str:
        return Path(self.module).stem


TARGETS = (
    Target(
        "handlers/_lib/cursor.py",
        ("tests/test_cursor.py", "tests/test_handlers_cursor.py"),
        SECURITY_CRITICAL,
    ),
    Target(
        "handlers/_lib/http.py",
        ("tests/test_http.py", "tests/test_handlers.py", "tests/test_handlers_faults.py"),
    ),
    Target(
        "handlers/_lib/writes.py", ("tests/test_handlers_writes.py", "tests/test_writes_unit.py")
    ),
    Target(
        "handlers/_lib/dynamo.py",
        (
            "tests/test_dynamo.py",
            "tests/test_handlers.py",
            "tests/test_handlers_faults.py",
            "tests/test_handlers_cursor.py",
            "tests/test_handlers_writes.py",
            "tests/test_writes_unit.py",
        ),
    ),
    Target(
        "draht/model.py",
        ("tests/test_model.py", "tests/test_stack.py"),
        SECURITY_CRITICAL,
    ),
    Target(
        "draht/local/iam.py",
        ("tests/test_local_iam.py", "tests/test_iam_actions.py"),
        SECURITY_CRITICAL,
        # Workers import the mutated module on the Lambda runtime's Python, without mutmut.
        select=("-k", "not worker"),
    ),
    Target(
        "draht/iam_actions.py",
        ("tests/test_iam_actions.py", "tests/test_model.py"),
        SECURITY_CRITICAL,
    ),
    Target("draht/local/sigv4.py", ("tests/test_auth_rules.py",), SECURITY_CRITICAL),
    Target("draht/local/jwt.py", ("tests/test_auth_rules.py",), SECURITY_CRITICAL),
    Target("draht/local/auth.py", ("tests/test_auth_rules.py",), SECURITY_CRITICAL),
    Target(
        "draht/settings.py",
        ("tests/test_settings.py", "tests/test_stack_config.py"),
        SECURITY_CRITICAL,
    ),
)

# mutmut's exit-code verdicts, grouped: a timeout is a test noticing the mutant too.
DETECTED = {"killed", "timeout", "caught by type check"}
_STATUS = {
    0: "survived",
    1: "killed",
    3: "killed",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
}


@dataclass(frozen=True)
class Equivalent:
    module: str
    function: str
    line: int
    change: str
    reason: str

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.module, self.function, self.line, self.change.strip())


def load_equivalents(path: Path = EQUIVALENTS) -> list[Equivalent]:
    entries = tomllib.loads(path.read_text())["equivalent"] if path.exists() else []
    equivalents = [Equivalent(**entry) for entry in entries]
    keys = [e.key for e in equivalents]
    duplicated = {key for key in keys if keys.count(key) > 1}
    if duplicated:
        raise SystemExit(f"mutate: {path.name} lists a mutant twice: {sorted(duplicated)}")
    return equivalents


# Handlers import each other as top-level modules (`_lib.cursor`, with handlers/ on sys.path,
# as in a Lambda zip); mutmut names a module by its path and strips only a leading `src/`,
# so the handlers are copied there and the tests reach them through a `handlers` link.
_HANDLERS_COPY = "src"
_LAYOUT = {"draht": "draht", "handlers": _HANDLERS_COPY, "tests": "tests"}


def _project_copy(target: Target, workdir: Path) -> None:
    """A fresh copy of the sources and tests, configured for this target alone."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder, copy in _LAYOUT.items():
        shutil.copytree(PROJECT_ROOT / folder, workdir / copy, ignore=skip)
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    pytest_options = pyproject["tool"]["pytest"]["ini_options"]
    config = {
        "source_paths": ["draht", _HANDLERS_COPY],
        "only_mutate": [_copied(target.module)],
        "pytest_add_cli_args_test_selection": [*target.tests, *target.select],
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
    }
    (workdir / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items())
        + "\n[tool.pytest.ini_options]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in pytest_options.items())
    )
    mutants = workdir / "mutants"
    mutants.mkdir()
    # The tests find the handlers beside draht/ and dynalite in the project's node_modules.
    (mutants / "handlers").symlink_to(_HANDLERS_COPY, target_is_directory=True)
    (mutants / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    # The stack config tests read the Pulumi project and stack files and run __main__.py.
    for name in [p.name for p in PROJECT_ROOT.glob("Pulumi*.yaml")] + ["__main__.py"]:
        shutil.copy2(PROJECT_ROOT / name, mutants / name)


def _copied(module: str) -> str:
    folder, _, rest = module.partition("/")
    return f"{_LAYOUT[folder]}/{rest}"


def _mutmut(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(MUTMUT), *args],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _changed_lines(diff: str) -> tuple[int, str]:
    """Where in its function a mutant changes code (the line, counted from the `def`) and
    the removed and added lines: what names it across edits elsewhere in the module."""
    lines = diff.splitlines()
    hunk = next(index for index, line in enumerate(lines) if line.startswith("@@"))
    header = re.match(r"@@ -(\d+)", lines[hunk])
    assert header is not None, lines[hunk]
    hunk_start = int(header.group(1))
    body = lines[hunk + 1 :]
    first = next(index for index, line in enumerate(body) if line[:1] in "+-")
    changed = [line for line in body if line[:1] in "+-"]
    return hunk_start + first, "\n".join(line[0] + " " + line[1:].strip() for line in changed)


def _function_of(mutant: str) -> str:
    """`draht.model.xǁTableǁ__post_init____mutmut_3` -> `Table.__post_init__`."""
    mangled = mutant.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
    if mangled.startswith("xǁ"):
        _, class_name, method = mangled.split("ǁ")
        return f"{class_name}.{method}"
    return mangled.removeprefix("x_")


def run_target(target: Target) -> dict[str, Any]:
    workdir = WORK_ROOT / target.name
    started = time.perf_counter()
    _project_copy(target, workdir)
    completed = _mutmut(workdir, "run", "--max-children", str(MAX_CHILDREN))
    seconds = round(time.perf_counter() - started, 1)
    (workdir / "run.log").write_text(completed.stdout)
    meta = workdir / "mutants" / f"{_copied(target.module)}.meta"
    if completed.returncode != 0 or not meta.exists():
        tail = "\n".join(completed.stdout.splitlines()[-30:])
        raise SystemExit(f"mutate: mutmut failed on {target.module}:\n{tail}")
    exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    detected = 0
    undetected = []
    for name, code in sorted(exit_codes.items(), key=lambda item: _natural(item[0])):
        status = _STATUS.get(code, "suspicious") if code is not None else "not checked"
        if status in DETECTED:
            detected += 1
            continue
        shown = _mutmut(workdir, "show", name).stdout.replace(
            f" {_copied(target.module)}", f" {target.module}"
        )
        line, change = _changed_lines(shown)
        diff = "\n".join(line for line in shown.splitlines() if not line.startswith("# "))
        undetected.append(
            {
                "name": name,
                "function": _function_of(name),
                "status": status,
                "line": line,
                "change": change,
                "diff": diff.strip(),
            }
        )
    return {
        "module": target.module,
        "tests": list(target.tests),
        "target": target.target,
        "seconds": seconds,
        "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "total": len(exit_codes),
        "detected": detected,
        "undetected": undetected,
    }


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def judge(result: dict[str, Any], equivalents: list[Equivalent]) -> dict[str, Any]:
    """Score one module: detected / (all mutants - reviewed equivalents)."""
    mine = {e.key: e for e in equivalents if e.module == result["module"]}
    used: set[tuple[str, str, int, str]] = set()
    survivors = []
    for mutant in result["undetected"]:
        key = (result["module"], mutant["function"], mutant["line"], mutant["change"])
        equivalent = mine.get(key)
        if equivalent is not None:
            used.add(key)
        survivors.append({**mutant, "equivalent": equivalent.reason if equivalent else None})
    equivalent_count = sum(1 for s in survivors if s["equivalent"])
    scored = result["total"] - equivalent_count
    score = 100.0 * result["detected"] / scored if scored else 100.0
    return {
        **result,
        "equivalent": equivalent_count,
        "gaps": len(survivors) - equivalent_count,
        "score": score,
        "met": score >= result["target"],
        "survivors": survivors,
        "stale": [f"{e.function}: {e.change}" for key, e in mine.items() if key not in used],
    }


def render(judged: list[dict[str, Any]], missing: list[str]) -> str:
    out = [
        "# Mutation testing",
        "",
        "Generated by `make mutate` (tools/mutation.py) with mutmut 3; do not edit by hand."
        " Each module is mutated alone and judged by the test files listed beside it."
        " Score = mutants detected (killed, or timed out) / (all mutants - reviewed"
        " equivalents). Equivalent mutants, each with its reason, are listed once in"
        " [tools/equivalent_mutants.toml](tools/equivalent_mutants.toml).",
        "",
        f"The runs below took {sum(r['seconds'] for r in judged):,.0f} s together, each on"
        f" {MAX_CHILDREN} workers ({os.cpu_count()} cores shared with other work); each"
        " module's own time and when it ran are in the table.",
        "",
        "| Module | Tests | Mutants | Detected | Equivalent | Gaps | Score | Target | Time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in judged:
        verdict = "met" if r["met"] else "**missed**"
        tests = ", ".join(f"`{Path(t).name}`" for t in r["tests"])
        out.append(
            f"| `{r['module']}` | {tests} | {r['total']} | {r['detected']} | {r['equivalent']}"
            f" | {r['gaps']} | {r['score']:.1f} % | ≥ {r['target']:.0f} %: {verdict}"
            f" | {r['seconds']:,.0f} s ({r['measured']}) |"
        )
    out += [f"| `{module}` | not run yet |  |  |  |  |  |  |  |" for module in missing]
    for r in judged:
        out += ["", f"## `{r['module']}`", ""]
        if not r["survivors"]:
            out.append("Every mutant is detected.")
        for s in r["survivors"]:
            verdict = f"equivalent: {s['equivalent']}" if s["equivalent"] else "**gap**"
            out += [
                f"- `{s['name']}` ({s['status']}; `{s['function']}`, line {s['line']}): {verdict}",
                "",
                "  ```diff",
                *(f"  {line}" for line in s["diff"].splitlines()),
                "  ```",
            ]
        if r["stale"]:
            out += ["", "Entries of the equivalents file that match no survivor any more:", ""]
            out += [f"- `{entry}`" for entry in r["stale"]]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> None:
    """Run the named targets (all without names), then rewrite MUTATION.md from every stored
    result; `--report` only rewrites it, after an edit of the equivalents file."""
    started = time.perf_counter()
    WORK_ROOT.mkdir(exist_ok=True)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    report_only = argv == ["--report"]
    argv = [] if report_only else argv
    known = {t.name: t for t in TARGETS}
    unknown = [name for name in argv if name not in known]
    if unknown:
        raise SystemExit(f"mutate: no target named {', '.join(unknown)} (have {', '.join(known)})")
    equivalents = load_equivalents()
    chosen = [] if report_only else [known[name] for name in argv] or list(TARGETS)
    for target in chosen:
        print(f"mutate: {target.module} ...", file=sys.stderr, flush=True)
        result = results[target.name] = run_target(target)
        # Kept after each module, so an interrupted run loses only the module it was on.
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"mutate: {target.module} took {result['seconds']:,.0f} s", file=sys.stderr)
    judged, missing = [], []
    for target in TARGETS:
        if target.name in results:
            judged.append(judge(results[target.name], equivalents))
        else:
            missing.append(target.module)
    seconds = time.perf_counter() - started
    REPORT.write_text(render(judged, missing))
    for r in judged:
        print(f"mutate: {r['module']} {r['score']:.1f} % ({r['gaps']} gaps)", file=sys.stderr)
    print(f"mutate: took {seconds:,.0f} s; wrote {REPORT.name}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
