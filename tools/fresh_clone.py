"""`make measure-setup`: what a newcomer waits for, timed on a fresh clone with cold caches.

Clones the current commit into a temporary folder and, with empty uv, pip and npm caches
(each line of `make dev`'s output is stamped with the seconds since it started):
- times `make dev` from its start to the first answer of `GET /health` (on a free port),
  then measures the environment it made (.venv; node_modules apart);
- in a second fresh clone, times `make test` end to end and measures its .venv.

    python3 tools/fresh_clone.py [--skip-test]

Needs only python3, git, make and npm: it runs before any install.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
URL = re.compile(r"draht dev\s+(http://\S+)")
DEV_DEADLINE_S = 600.0
MB = 1_000_000


@dataclass(frozen=True)
class Clone:
    root: Path
    env: dict[str, str]


@contextmanager
def fresh_clone() -> Iterator[Clone]:
    """A clone of HEAD whose installs can reuse nothing this machine has already downloaded."""
    with tempfile.TemporaryDirectory(prefix="draht-setup-") as scratch:
        root = Path(scratch) / "draht-infra"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(root)], check=True)
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(["git", "checkout", "--quiet", head], cwd=root, check=True)
        caches = Path(scratch) / "caches"
        env = {
            **os.environ,
            "UV_CACHE_DIR": str(caches / "uv"),
            "PIP_CACHE_DIR": str(caches / "pip"),
            "npm_config_cache": str(caches / "npm"),
        }
        yield Clone(root, env)


def size_mb(path: Path) -> float:
    """Disk usage as `du` counts it: allocated blocks, each hard-linked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            stat = (Path(directory) / name).lstat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total / MB


def first_answer(clone: Clone) -> float:
    """Seconds from `make dev` to the first answer of GET /health; the server is stopped after."""
    started = time.perf_counter()
    dev = subprocess.Popen(
        ["make", "dev", "PORT=0"],
        cwd=clone.root,
        env=clone.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert dev.stdout is not None
        for line in dev.stdout:
            print(f"  {time.perf_counter() - started:6.1f} s | {line}", end="", flush=True)
            found = URL.search(line)
            if found:
                return _poll_health(found.group(1), started)
        raise SystemExit(f"make dev exited ({dev.wait()}) before serving")
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGINT)
            try:
                dev.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(dev.pid, signal.SIGKILL)
                dev.wait()


def _poll_health(url: str, started: float) -> float:
    while time.perf_counter() - started < DEV_DEADLINE_S:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5):
                return time.perf_counter() - started
        except urllib.error.HTTPError:
            # Any answer counts: the server is up and ran the handler.
            return time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url}/health did not answer within {DEV_DEADLINE_S:.0f} s")


def timed_make_test(clone: Clone) -> float:
    started = time.perf_counter()
    subprocess.run(["make", "test"], cwd=clone.root, env=clone.env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the set-up on a fresh clone.")
    parser.add_argument("--skip-test", action="store_true", help="measure only `make dev`")
    args = parser.parse_args()

    rows: list[str] = []

    def record(name: str, figure: str) -> None:
        rows.append(f"| {name} | {figure} |")
        print(f"measured: {name}: {figure}", flush=True)

    with fresh_clone() as clone:
        record("first `make dev` to the first answer", f"{first_answer(clone):.1f} s")
        record("its .venv", f"{size_mb(clone.root / '.venv'):.0f} MB")
        record("its node_modules", f"{size_mb(clone.root / 'node_modules'):.0f} MB")
    if not args.skip_test:
        with fresh_clone() as clone:
            record("first `make test`, end to end", f"{timed_make_test(clone):.0f} s")
            record("its .venv", f"{size_mb(clone.root / '.venv'):.0f} MB")

    print("\n| fresh clone, cold caches | measured |\n| --- | --- |", *rows, sep="\n")


if __name__ == "__main__":
    main()
