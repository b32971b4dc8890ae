"""Each function's deployment zip: only the files its handler imports, byte-for-byte repeatable.

The file list is derived from the handler's own imports rather than declared, so
it cannot drift from the code; the zip carries fixed timestamps and modes so the
same sources always give the same hash and a second `pulumi up` changes nothing.

The request validators are generated here too, as plain Python, from the request
schemas of the OpenAPI document (`draht.openapi.REQUEST_SCHEMAS`): fastjsonschema
writes the code when a zip is built, so no JSON Schema library is zipped or imported
on a cold start, and validation cannot drift from what the document says. The code
is never kept in git; `draht dev` and the tests write it under `.draht/build/`.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import os
import pprint
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draht.model import Function

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
GENERATED_DIR = Path(__file__).resolve().parent.parent / ".draht" / "build" / "generated"
VALIDATORS_MODULE = "_request_schemas"
"""The generated module handlers import; `handlers/_request_schemas.pyi` types it."""
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
    """Paths, relative to `root`, of the handler module and every local module it imports.

    The generated validators count as local: they are listed when a file imports them.
    """
    found: set[str] = set()
    pending = [function.module]
    while pending:
        module = pending.pop()
        if module == VALIDATORS_MODULE:
            found.add(f"{VALIDATORS_MODULE}.py")
            continue
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
            if relative == f"{VALIDATORS_MODULE}.py":
                zf.writestr(info, validators_source().encode())
            else:
                zf.writestr(info, (root / relative).read_bytes())
    return Archive(files=files, data=buffer.getvalue())


def write_validators(directory: Path = GENERATED_DIR) -> Path:
    """Write the validators module into `directory` (atomically); returns the directory.

    `draht dev` puts the directory on its workers' path and the tests on theirs, so
    both import exactly the code the zips carry.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source = validators_source().encode()
    target = directory / f"{VALIDATORS_MODULE}.py"
    if target.is_file() and target.read_bytes() == source:
        return directory
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as partial:
        partial.write(source)
    os.replace(partial.name, target)
    return directory


# fastjsonschema's exceptions, so the generated code needs nothing of fastjsonschema itself.
_EXCEPTIONS = '''
class JsonSchemaValueException(ValueError):
    """One rule a value breaks: `name` is where (`data.field`), `rule` which keyword."""

    def __init__(self, message, value=None, name=None, definition=None, rule=None):
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.definition = definition
        self.rule = rule


class JsonSchemaValuesException(ValueError):
    """Every rule a document breaks."""

    def __init__(self, errors):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors
'''
_FASTJSONSCHEMA_IMPORT = (
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
)
_SEPARATOR = "\nNoneType = type(None)\n"
_ENTRY = "def validate(data, custom_formats={}, name_prefix=None):"


def validators_source() -> str:
    """Plain Python validating each request schema, every error at once; deterministic."""
    import fastjsonschema

    from draht.openapi import REQUEST_SCHEMAS

    patterns: dict[str, str] = {}
    functions: list[str] = []
    properties: dict[str, tuple[str, ...]] = {}
    required: dict[str, tuple[str, ...]] = {}
    dependencies: dict[str, dict[str, list[str]]] = {}
    for name, schema in REQUEST_SCHEMAS.items():
        code = fastjsonschema.compile_to_code(
            _draft7(schema), fast_fail=False, detailed_exceptions=True
        )
        header, separator, body = code.partition(_SEPARATOR)
        if not separator or _FASTJSONSCHEMA_IMPORT not in header or body.count("\ndef ") != 1:
            raise RuntimeError(f"fastjsonschema wrote code of an unknown shape for {name}")
        namespace: dict[str, Any] = {}
        exec(header, namespace)  # its module header: imports and compiled patterns only
        patterns.update(
            (key, compiled.pattern) for key, compiled in namespace["REGEX_PATTERNS"].items()
        )
        functions.append(
            _without_definitions(
                body.replace(_ENTRY, f"def validate_{name}(data, name_prefix=None):", 1)
            )
        )
        if "properties" in schema:
            properties[name] = tuple(schema["properties"])
            required[name] = tuple(schema.get("required", ()))
            dependencies[name] = dict(schema.get("dependentRequired", {}))
    return "\n".join(
        [
            '"""Request validators generated by draht/package.py from draht/openapi.py."""',
            "# Generated from REQUEST_SCHEMAS with fastjsonschema; never edit, never commit.",
            "# ruff: noqa",
            "import re",
            "from decimal import Decimal",
            _EXCEPTIONS,
            f"REGEX_PATTERNS = {{{_patterns_source(patterns)}}}",
            "NoneType = type(None)",
            "custom_formats = {}",
            *functions,
            "VALIDATORS = {"
            + ", ".join(f"{name!r}: validate_{name}" for name in REQUEST_SCHEMAS)
            + "}",
            f"PROPERTIES = {pprint.pformat(properties, width=100)}",
            f"REQUIRED = {pprint.pformat(required, width=100)}",
            f"DEPENDENCIES = {pprint.pformat(dependencies, width=100)}",
            "",
        ]
    )


class _Simplify(ast.NodeTransformer):
    """Drops what the generated code spells out for options never used here: the schema quoted
    in every error (never read) and a caller-given name prefix (always `data`). Compiling
    those literals would cost a cold start tens of milliseconds, as a zip holds no bytecode
    that Lambda's Python could use, and they would double the zip."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        node.keywords = [keyword for keyword in node.keywords if keyword.arg != "definition"]
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        match node.values:
            case [ast.Name(id="name_prefix"), ast.Constant(value=str() as default)]:
                return ast.Constant(default)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        match node:
            case ast.BinOp(
                ast.Constant(value=str() as left), ast.Add(), ast.Constant(value=str() as right)
            ):
                return ast.Constant(left + right)
            case ast.BinOp(
                ast.BinOp(left, ast.Add(), ast.Constant(value=str() as middle)),
                ast.Add(),
                ast.Constant(value=str() as right),
            ):
                return ast.BinOp(left, ast.Add(), ast.Constant(middle + right))
        return node


def _without_definitions(code: str) -> str:
    return ast.unparse(_Simplify().visit(ast.parse(code)))


def _patterns_source(patterns: dict[str, str]) -> str:
    return ", ".join(
        f"{key!r}: re.compile({pattern!r})" for key, pattern in sorted(patterns.items())
    )


def _draft7(schema: Any) -> Any:
    """The schema in the draft fastjsonschema knows, without descriptions (the code quotes it)."""
    if isinstance(schema, list):
        return [_draft7(member) for member in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "dependentRequired":
            converted["dependencies"] = value
        elif key == "properties":
            converted[key] = {name: _draft7(member) for name, member in value.items()}
        else:
            converted[key] = _draft7(value)
    return converted


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
    return [
        name
        for name in names
        if name and (name == VALIDATORS_MODULE or _module_path(root, name) is not None)
    ]
