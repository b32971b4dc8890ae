"""Each function's deployment zip: only the files its handler imports, byte-for-byte repeatable.

The file list is derived from the handler's own imports rather than declared, so
it cannot drift from the code; the zip carries fixed timestamps and modes so the
same sources always give the same hash and a second `pulumi up` changes nothing.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from draht.model import Function

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


@dataclass(frozen=True)
class Archive:
    files: tuple[str, ...]
    data: bytes

    @property
    def sha256_base64(self) -> str:
        """The form Lambda's `source_code_hash` compares against."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def handler_files(function: Function, root: Path = HANDLERS_DIR) -> tuple[str, ...]:
    """Paths, relative to `root`, of the handler module and every local module it imports."""
    found: set[str] = set()
    pending = [function.module]
    while pending:
        module = pending.pop()
        path = _module_path(root, module)
        if path is None:
            continue
        relative = path.relative_to(root).as_posix()
        if relative in found:
            continue
        found.add(relative)
        if path.name != "__init__.py" and (path.parent / "__init__.py").exists():
            pending.append(".".join(path.relative_to(root).parent.parts))
        pending.extend(_imported_modules(path, root))
    return tuple(sorted(found))


def build_archive(function: Function, root: Path = HANDLERS_DIR) -> Archive:
    files = handler_files(function, root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for relative in files:
            info = zipfile.ZipInfo(relative, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (root / relative).read_bytes())
    return Archive(files=files, data=buffer.getvalue())


def _module_path(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, root: Path) -> list[str]:
    """Local modules named by `import x`, `from x import y` and `from . import y` in `path`."""
    package_parts = path.relative_to(root).parent.parts
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.append(base)
            # `from _lib import http` names a submodule, not an attribute.
            names.extend(f"{base}.{alias.name}" for alias in node.names if base)
    return [name for name in names if name and _module_path(root, name) is not None]
