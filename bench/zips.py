"""The zip each function deploys, straight from the builder the Pulumi program uses."""

from __future__ import annotations

from typing import Any

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
            "sha256_base64": archive.sha256_base64,
            "meets_target": len(archive.data) <= TARGET_BYTES,
        }
    return {"target_bytes": TARGET_BYTES, "functions": functions}
