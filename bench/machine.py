"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _proc(name: str, pattern: str) -> str:
    """The first match of `pattern` in /proc/`name`, or "unknown" off Linux."""
    path = Path("/proc") / name
    found = re.search(pattern, path.read_text(), re.MULTILINE) if path.exists() else None
    return found.group(1).strip() if found else "unknown"


def describe() -> dict[str, Any]:
    node = shutil.which("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True) if node else None
    memory_kib = _proc("meminfo", r"^MemTotal:\s+(\d+)")
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cpu_model": _proc("cpuinfo", r"^model name\s*:(.*)$"),
        "cpu_cores": os.cpu_count(),
        "memory_gib": round(int(memory_kib) / 1024**2, 1) if memory_kib.isdigit() else 0,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": version.stdout.strip() if version else "not installed",
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }
