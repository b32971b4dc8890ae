"""The zip each function deploys, straight from the builder the Pulumi program uses."""

from __future__ import annotations

from typing import Any

from bench.report import Section, Target
from draht.app import app
from draht.package import build_archive

TARGET_BYTES = 16 * 1024


def measure() -> dict[str, Any]:
    functions = {}
    for function in app.functions:
        archive = build_archive(function)
        functions[function.name] = {
            "handler": function.handler,
            "bytes": len(archive.data),
            "files": list(archive.files),
        }
    return {"target_bytes": TARGET_BYTES, "functions": functions}


def section(zips: dict[str, Any]) -> Section:
    rows = [
        [
            name,
            f"{f['bytes']:,} B ({f['bytes'] / 1024:.1f} KiB)",
            ", ".join(f"`{path}`" for path in f["files"]),
        ]
        for name, f in zips["functions"].items()
    ]
    largest = max(zips["functions"].values(), key=lambda f: f["bytes"])
    target = Target(
        f"Each zip ≤ {zips['target_bytes'] // 1024} KiB",
        f"largest {largest['bytes']:,} bytes ({largest['handler']})",
        largest["bytes"] <= zips["target_bytes"],
    )
    text = "Straight from `draht.package.build_archive`, the archive the Pulumi program deploys."
    return Section("Deployment zips", text, ["Function", "Size", "Files"], rows, targets=[target])
