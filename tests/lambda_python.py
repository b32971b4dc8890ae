"""Runs the handler tests once more on the deployed runtime's Python (`make test` calls this).

The handlers and what they import on Lambda (boto3, botocore and their
requirements) are pure Python, so the pinned packages of `.venv` serve the
runtime's interpreter too: it gets them on PYTHONPATH, with pytest's plugin
autoloading off, since a plugin with native parts (hypothesis) is built for the
venv's Python only.

Without an interpreter of that version this says so and succeeds, unless
DRAHT_REQUIRE_LAMBDA_PYTHON is set (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from draht.local.python import lambda_interpreter
from draht.model import PYTHON_RUNTIME

ROOT = Path(__file__).resolve().parents[1]
HANDLER_TESTS = (
    "tests/test_handlers.py",
    "tests/test_handlers_cursor.py",
    "tests/test_handlers_faults.py",
    "tests/test_handlers_writes.py",
)


def runtime_python_environment(*paths: Path) -> dict[str, str]:
    """This environment, with `paths`, the project and `.venv`'s pure-Python packages importable
    from another Python."""
    importable = [*map(str, paths), str(ROOT), sysconfig.get_paths()["purelib"]]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(importable),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def main() -> int:
    interpreter = lambda_interpreter()
    if not interpreter.matches_runtime:
        print(f"handler tests on {PYTHON_RUNTIME}: not run, {interpreter.describe()}")
        return 1 if os.environ.get("DRAHT_REQUIRE_LAMBDA_PYTHON") else 0
    print(f"handler tests on {PYTHON_RUNTIME}: {interpreter.describe()}", flush=True)
    environment = runtime_python_environment()
    command = [interpreter.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    os.chdir(ROOT)
    os.execve(interpreter.executable, [*command, *HANDLER_TESTS, *sys.argv[1:]], environment)


if __name__ == "__main__":
    sys.exit(main())
