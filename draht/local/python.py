"""The Python a function finds on Lambda: the deployed version, and only what the runtime ships.

On Lambda a function imports from its own zip, the standard library and the
packages the Python runtime includes: the AWS SDK for Python, boto3, with
botocore and their dependencies ("Runtime-included SDK versions",
https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html). Workers get the
same: an interpreter of the deployed version when this machine has one, and the
runtime's packages taken from this environment's boto3 and its requirements.
"""

from __future__ import annotations

import functools
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from draht.model import PYTHON_RUNTIME, python_version

RUNTIME_DISTRIBUTIONS = ("boto3",)
"""What the Lambda Python runtime includes; their requirements come along."""

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")
_PROBE = "import platform, sys; print(platform.python_version()); print(sys.executable)"


@dataclass(frozen=True)
class Interpreter:
    """The Python workers run on, and whether it is the deployed runtime's version."""

    executable: str
    version: str
    runtime: str = PYTHON_RUNTIME

    @property
    def matches_runtime(self) -> bool:
        return tuple(int(p) for p in self.version.split(".")[:2]) == python_version(self.runtime)

    def describe(self) -> str:
        if self.matches_runtime:
            return f"{self.version} ({self.executable}), as deployed ({self.runtime})"
        wanted = ".".join(str(p) for p in python_version(self.runtime))
        return (
            f"{self.version} here but {self.runtime} on AWS: local and deployed Python differ;"
            f" install Python {wanted} (e.g. `pyenv install {wanted}`) to run workers on it"
        )


def lambda_interpreter(runtime: str = PYTHON_RUNTIME) -> Interpreter:
    """An interpreter of the runtime's version if this machine has one, else this one.

    Looks at `python3.X` on PATH and at pyenv's versions; each candidate is asked for
    its version and real executable.
    """
    wanted = python_version(runtime)
    if sys.version_info[:2] == wanted:
        return Interpreter(sys.executable, platform.python_version(), runtime)
    name = f"python{wanted[0]}.{wanted[1]}"
    found = shutil.which(name)
    # A pyenv shim answers only when PYENV_VERSION names the version; pyenv's own
    # folders below are asked directly instead.
    candidates = [found] if found and os.sep + "shims" + os.sep not in found else []
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    installed = glob.glob(os.path.join(pyenv_root, "versions", f"{wanted[0]}.{wanted[1]}.*"))
    for version_dir in sorted(installed, key=_version_key, reverse=True):
        candidates.append(os.path.join(version_dir, "bin", name))
    for candidate in candidates:
        probed = _probe(candidate, runtime)
        if probed is not None and probed.matches_runtime:
            return probed
    return Interpreter(sys.executable, platform.python_version(), runtime)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", os.path.basename(path)))


def _probe(executable: str, runtime: str) -> Interpreter | None:
    try:
        completed = subprocess.run(
            [executable, "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = completed.stdout.split()
    if completed.returncode != 0 or len(lines) != 2:
        return None
    return Interpreter(executable=lines[1], version=lines[0], runtime=runtime)


@dataclass(frozen=True)
class RuntimePackages:
    """The packages Lambda's Python runtime provides: their top-level modules and folders."""

    modules: frozenset[str]
    paths: tuple[str, ...]


@functools.cache
def runtime_packages() -> RuntimePackages:
    """boto3 and everything it requires, as installed here (extras excluded)."""
    modules: set[str] = set()
    paths: list[str] = []
    pending = list(RUNTIME_DISTRIBUTIONS)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        modules.update(_top_level_modules(distribution))
        location = str(distribution.locate_file(""))
        if location not in paths:
            paths.append(location)
        for requirement in distribution.requires or []:
            if _EXTRA.search(requirement):
                continue
            found = _REQUIREMENT_NAME.match(requirement)
            if found:
                pending.append(found.group(1))
    return RuntimePackages(frozenset(modules), tuple(paths))


def _top_level_modules(distribution: metadata.Distribution) -> set[str]:
    declared = distribution.read_text("top_level.txt")
    if declared:
        return {line.strip() for line in declared.splitlines() if line.strip()}
    names: set[str] = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "__pycache__"):
            continue
        if len(file.parts) == 1:
            if first.endswith(".py"):
                names.add(first.removesuffix(".py"))
        else:
            names.add(first)
    return names
