"""Each function's deployment zip: only the files its handler imports, byte-for-byte repeatable.

The file list is derived from the handler's own imports rather than declared, so
it cannot drift from the code; the zip carries fixed timestamps and modes so the
same sources always give the same hash and a second `pulumi up` changes nothing.
Each file goes in without its comments and docstrings, line for line (`runtime_source`).

The request validators are generated here too, as plain Python, from the request
schemas of the OpenAPI document (`draht.openapi.REQUEST_SCHEMAS`): fastjsonschema
writes the code when a zip is built, so no JSON Schema library is zipped or imported
on a cold start, and validation cannot drift from what the document says. The code
is never kept in git; `draht dev` and the tests write it under `.draht/build/`.
Each function's module holds only the validators of the request schemas its own
routes name in the document, so no zip carries, and no first write compiles, the
checks of another function's bodies.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import os
import pprint
import re
import tempfile
import tokenize
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draht.model import App, Function

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


def build_archive(function: Function, root: Path = HANDLERS_DIR, app: App | None = None) -> Archive:
    """`app` declares the routes `function` serves; the project's own app when left out."""
    files = handler_files(function, root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for relative in files:
            info = zipfile.ZipInfo(relative, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            if relative == f"{VALIDATORS_MODULE}.py":
                schemas = function_request_schemas(function, app)
                zf.writestr(info, validators_source(schemas).encode())
            else:
                zf.writestr(info, runtime_source((root / relative).read_text("utf-8")).encode())
    return Archive(files=files, data=buffer.getvalue())


def runtime_source(source: str) -> str:
    """`source` without its comments and string statements (docstrings), line for line.

    Lambda compiles every zipped module on a cold start and never shows its
    comments or docstrings; the handlers read no `__doc__`. Each removed line stays
    as an empty one, so a traceback from Lambda names the same line as the file in
    git. The result is checked to parse to the very same code, position for position.
    """
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    blank: set[int] = set()
    ellipsis: set[int] = set()
    for statements in _statement_lists(tree):
        removable = [
            statement
            for statement in statements
            if _is_string_statement(statement) and _alone_on_its_lines(statement, lines)
        ]
        for statement in removable:
            assert statement.end_lineno is not None
            blank.update(range(statement.lineno, statement.end_lineno + 1))
        if removable and len(removable) == len(statements):
            ellipsis.add(removable[0].lineno)
    comments = {
        token.start[0]: token.start[1]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
        and not (token.start[0] <= 2 and _ENCODING_DECLARATION.match(token.string))
    }
    kept = []
    for number, line in enumerate(lines, start=1):
        ending = line[len(line.rstrip("\r\n")) :]
        if number in ellipsis:
            indent = len(line) - len(line.lstrip())
            kept.append(line[:indent] + "..." + ending)
        elif number in blank:
            kept.append(ending)
        elif number in comments:
            kept.append(line[: comments[number]].rstrip() + ending)
        else:
            kept.append(line)
    stripped = "".join(kept)
    if _code_shape(stripped) != _code_shape(source):
        raise RuntimeError("stripping comments and docstrings changed the code")
    return stripped


_ENCODING_DECLARATION = re.compile(r"^#.*?coding[:=]")


def _statement_lists(tree: ast.AST) -> list[list[ast.stmt]]:
    return [
        value
        for node in ast.walk(tree)
        for _, value in ast.iter_fields(node)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt)
    ]


def _is_string_statement(statement: ast.stmt) -> bool:
    match statement:
        case ast.Expr(ast.Constant(value=str())):
            return True
    return False


def _alone_on_its_lines(statement: ast.stmt, lines: list[str]) -> bool:
    """Whether nothing but blanks shares the statement's lines (no `;`, no `def f(): "..."`)."""
    assert statement.end_lineno is not None and statement.end_col_offset is not None
    before = lines[statement.lineno - 1].encode()[: statement.col_offset]
    after = lines[statement.end_lineno - 1].encode()[statement.end_col_offset :].strip()
    return not before.strip() and (not after or after.startswith(b"#"))


def _code_shape(source: str) -> str:
    """The code without string or `...` statements (what stripping changes), and where each
    statement starts and each expression lies: a removed last statement only shortens the
    block around it."""
    tree = ast.parse(source)
    for statements in _statement_lists(tree):
        statements[:] = [
            statement
            for statement in statements
            if not (_is_string_statement(statement) or _is_ellipsis_statement(statement))
        ]
    positions = [
        (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        if isinstance(node, ast.expr)
        else (node.lineno, node.col_offset)
        for node in ast.walk(tree)
        if isinstance(node, ast.expr | ast.stmt)
    ]
    return f"{ast.dump(tree)}\n{positions}"


def _is_ellipsis_statement(statement: ast.stmt) -> bool:
    match statement:
        case ast.Expr(ast.Constant(value=value)):
            return value is Ellipsis
    return False


def write_validators(directory: Path = GENERATED_DIR, schemas: Iterable[str] | None = None) -> Path:
    """Write the validators of `schemas` (all by default) into `directory`, atomically.

    `draht dev` writes each function's own module into a folder of its own on that
    worker's path, so a worker imports exactly the code its zip carries; the handler
    tests, which import every handler into one process, take all of them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source = validators_source(schemas).encode()
    target = directory / f"{VALIDATORS_MODULE}.py"
    if target.is_file() and target.read_bytes() == source:
        return directory
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as partial:
        partial.write(source)
    os.replace(partial.name, target)
    return directory


# fastjsonschema's exceptions, so the generated code needs nothing of fastjsonschema itself;
# the generated calls give their arguments by position (see _Simplify).
_EXCEPTIONS = """
class JsonSchemaValueException(ValueError):
    def __init__(self, message, value, name, rule):
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.rule = rule


class JsonSchemaValuesException(ValueError):
    def __init__(self, errors):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors
"""
_VALUE_EXCEPTION = "JsonSchemaValueException"
_VALUE_EXCEPTION_FIELDS = ("value", "name", "rule")
_FASTJSONSCHEMA_IMPORT = (
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
)
_SEPARATOR = "\nNoneType = type(None)\n"
_ENTRY = "def validate(data, custom_formats={}, name_prefix=None):"


def function_request_schemas(function: Function, app: App | None = None) -> tuple[str, ...]:
    """The request schemas `function`'s routes validate against, as ROUTE_DOCS (the OpenAPI
    document's operations) name them.

    A route's body names its schema by reference; an id parameter carries the schema
    of the id itself. A route the document does not describe (an app other than
    Draht's, served by `draht dev`) validates nothing.
    """
    from draht.openapi import REQUEST_SCHEMAS, ROUTE_DOCS

    if app is None:
        from draht.app import app as declared
    else:
        declared = app
    named: list[Any] = []
    for route in declared.routes:
        doc = ROUTE_DOCS.get(route.key)
        if route.function == function and doc is not None:
            body = (doc.request_body or {}).get("content", {}).values()
            named += [content["schema"] for content in body]
            named += [parameter["schema"] for parameter in doc.parameters]
    used = {
        name
        for schema in named
        for name, request_schema in REQUEST_SCHEMAS.items()
        if schema in (request_schema, {"$ref": f"#/components/schemas/{name}"})
    }
    return tuple(name for name in REQUEST_SCHEMAS if name in used)


def validators_source(schemas: Iterable[str] | None = None) -> str:
    """Plain Python validating each of `schemas` (all by default), every error at once."""
    import fastjsonschema

    from draht.openapi import REQUEST_SCHEMAS

    names = tuple(REQUEST_SCHEMAS if schemas is None else schemas)
    patterns: dict[str, str] = {}
    functions: list[str] = []
    properties: dict[str, tuple[str, ...]] = {}
    required: dict[str, tuple[str, ...]] = {}
    dependencies: dict[str, dict[str, list[str]]] = {}
    for name in names:
        schema = REQUEST_SCHEMAS[name]
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
            _without_definitions(body.replace(_ENTRY, f"def validate_{name}(data):", 1))
        )
        if "properties" in schema:
            properties[name] = tuple(schema["properties"])
            required[name] = tuple(schema.get("required", ()))
            dependencies[name] = dict(schema.get("dependentRequired", {}))
    return "\n".join(
        [
            "# Request validators generated by draht/package.py from draht/openapi.py's",
            "# REQUEST_SCHEMAS with fastjsonschema; never edit, never commit.",
            "# ruff: noqa",
            "import re",
            "from decimal import Decimal",
            _EXCEPTIONS,
            f"REGEX_PATTERNS = {{{_patterns_source(patterns)}}}",
            "NoneType = type(None)",
            *functions,
            "VALIDATORS = {" + ", ".join(f"{name!r}: validate_{name}" for name in names) + "}",
            f"PROPERTIES = {pprint.pformat(properties, width=100)}",
            f"REQUIRED = {pprint.pformat(required, width=100)}",
            f"DEPENDENCIES = {pprint.pformat(dependencies, width=100)}",
            "",
        ]
    )


class _Simplify(ast.NodeTransformer):
    """Drops what the generated code spells out for options never used here: the schema quoted
    in every error (never read), a caller-given name prefix (always `data`) and custom
    formats (none), and passes each error's fields by position. Compiling those literals
    would cost a cold start tens of milliseconds, as a zip holds no bytecode that Lambda's
    Python could use, and they would double the zip."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id == _VALUE_EXCEPTION):
            return node
        given = {keyword.arg: keyword.value for keyword in node.keywords}
        unknown = set(given) - {*_VALUE_EXCEPTION_FIELDS, "definition"}
        if len(node.args) != 1 or unknown:
            raise RuntimeError(f"fastjsonschema raised an error of an unknown shape: {unknown}")
        node.args += [given.get(field, ast.Constant(None)) for field in _VALUE_EXCEPTION_FIELDS]
        node.keywords = []
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
    simplified = ast.unparse(_Simplify().visit(ast.parse(code)))
    left = {
        node.id
        for node in ast.walk(ast.parse(simplified))
        if isinstance(node, ast.Name) and node.id in ("name_prefix", "custom_formats")
    }
    if left:
        raise RuntimeError(f"fastjsonschema's code still reads {sorted(left)}")
    return simplified


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
