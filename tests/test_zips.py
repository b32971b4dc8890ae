"""Each function's zip: only the files its handler imports, repeatable byte for byte, and the
very archive (and hash) the stack uploads."""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import io
import subprocess
import tokenize
import zipfile
from pathlib import Path
from typing import Any

import pytest

from draht.app import app
from draht.local.runtime import Deployment, Runtime
from draht.local.worker import FrameDecoder
from draht.model import App, DeclarationError, Function, Route
from draht.openapi import REQUEST_SCHEMAS
from draht.package import (
    HANDLERS_DIR,
    build_archive,
    function_request_schemas,
    handler_files,
    runtime_source,
    validators_source,
    write_validators,
)
from draht.settings import Settings
from draht.stack import build, main
from draht.synth import Recorded, Synthesis, synthesize

FUNCTION = "aws:lambda/function:Function"


def synth_dev() -> Synthesis:
    return synthesize(lambda: main(app), "dev")


@pytest.fixture(scope="module")
def dev() -> Synthesis:
    return synth_dev()


def uploaded(dev: Synthesis, declared: Function) -> Recorded:
    (found,) = [r for r in dev.of_type(FUNCTION) if r.inputs["handler"] == declared.handler]
    return found


def test_zip_holds_the_handler_and_only_the_helpers_it_imports() -> None:
    files = handler_files(app.function("Health"))
    assert "health.py" in files
    assert all(name == "health.py" or name.startswith("_lib/") for name in files)


def test_health_zip_carries_no_cursor_code() -> None:
    files = handler_files(app.function("Health"))
    assert "_lib/cursor.py" not in files
    assert "_lib/cursor.py" in handler_files(app.function("ListSessions"))


def test_zip_is_byte_for_byte_repeatable() -> None:
    function = app.function("ListSessions")
    assert build_archive(function).data == build_archive(function).data


def test_each_uploaded_zip_holds_only_the_files_its_handler_imports(dev: Synthesis) -> None:
    for declared in app.functions:
        code = uploaded(dev, declared).inputs["code"]
        with zipfile.ZipFile(code.path) as archive:
            names = archive.namelist()
        assert names == list(handler_files(declared))
        assert f"{declared.module}.py" in names
        assert not [n for n in names if "__pycache__" in n or n.startswith("test")]


def test_zip_paths_do_not_depend_on_where_the_project_is_checked_out(dev: Synthesis) -> None:
    paths = [Path(r.inputs["code"].path) for r in dev.of_type(FUNCTION)]
    assert paths and not [path for path in paths if path.is_absolute()]


def test_a_handler_file_that_does_not_exist_stops_the_program(tmp_path: Path) -> None:
    missing = Function("Missing", handler="missing.handler")
    declared = App(name="draht", tables=(), routes=(Route("GET /missing", missing),))
    with pytest.raises(DeclarationError, match=r"handlers/missing\.py does not exist"):
        synthesize(lambda: build(declared, Settings(stage="dev"), tmp_path), "dev")


def test_source_code_hash_is_the_hash_of_the_uploaded_zip(dev: Synthesis) -> None:
    for recorded in dev.of_type(FUNCTION):
        data = Path(recorded.inputs["code"].path).read_bytes()
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert recorded.inputs["sourceCodeHash"] == digest


def test_archive_hashes_are_identical_across_two_runs(dev: Synthesis) -> None:
    again = synth_dev()
    first = {r.name: r.inputs["sourceCodeHash"] for r in dev.of_type(FUNCTION)}
    second = {r.name: r.inputs["sourceCodeHash"] for r in again.of_type(FUNCTION)}
    assert first == second


def test_data_zips_carry_the_generated_validators_and_no_json_schema_library() -> None:
    for name in ("ListSessions", "ListClients"):
        archive = build_archive(app.function(name))
        assert "_request_schemas.py" in archive.files
        assert not [f for f in archive.files if "jsonschema" in f.lower()]
        source = zipped_validators(archive.data)
        assert source == validators_source(function_request_schemas(app.function(name)))
        modules = {
            ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert modules == {"re", "decimal"}, modules


def test_health_zip_carries_no_validators() -> None:
    assert "_request_schemas.py" not in build_archive(app.function("Health")).files


def test_validators_check_exactly_the_request_schemas_of_the_document() -> None:
    namespace: dict[str, Any] = {}
    exec(validators_source(), namespace)
    assert set(namespace["VALIDATORS"]) == set(REQUEST_SCHEMAS)
    for name, schema in REQUEST_SCHEMAS.items():
        if "properties" in schema:
            assert namespace["PROPERTIES"][name] == tuple(schema["properties"])
            assert namespace["REQUIRED"][name] == tuple(schema.get("required", ()))


def zipped_validators(archive: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        return zipped.read("_request_schemas.py").decode()


def validated_schemas(source: str) -> set[str]:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    return set(namespace["VALIDATORS"])


def test_each_data_zip_validates_only_the_request_schemas_of_its_own_routes() -> None:
    sessions = zipped_validators(build_archive(app.function("ListSessions")).data)
    clients = zipped_validators(build_archive(app.function("ListClients")).data)
    assert validated_schemas(sessions) == {"SessionCreate", "SessionPatch", "SessionId", "ClientId"}
    assert validated_schemas(clients) == {"ClientCreate", "ClientPatch", "ClientId"}


@pytest.mark.parametrize("name", ["ListSessions", "ListClients"])
def test_every_request_schema_a_handler_names_is_in_its_zip(name: str) -> None:
    function = app.function(name)
    source = (HANDLERS_DIR / f"{function.module}.py").read_text()
    named = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in REQUEST_SCHEMAS
    }
    assert named
    assert named <= validated_schemas(zipped_validators(build_archive(function).data))


def test_a_route_moved_to_another_function_takes_its_schema_along() -> None:
    sessions, clients = app.function("ListSessions"), app.function("ListClients")
    routes = tuple(
        dataclasses.replace(route, function=sessions) if route.key == "POST /clients" else route
        for route in app.routes
    )
    declared = App(name=app.name, tables=app.tables, routes=routes)
    assert "ClientCreate" in function_request_schemas(sessions, declared)
    assert "ClientCreate" not in function_request_schemas(clients, declared)


def test_dev_workers_import_the_validators_their_own_zip_carries(tmp_path: Path) -> None:
    deployment = Deployment(
        app=app,
        handlers_dir=HANDLERS_DIR,
        settings=Settings(stage="dev"),
        store_endpoint="http://127.0.0.1:9",
        table_arns={table.name: f"arn:aws:dynamodb:::table/{table.name}" for table in app.tables},
        generated_dir=tmp_path,
    )
    Runtime(deployment).close()
    for function in app.functions[1:]:
        (init,) = FrameDecoder(1 << 20).feed(deployment.init_frame(function))
        generated = Path(init["generatedDir"])
        written = (generated / "_request_schemas.py").read_text()
        assert written == zipped_validators(build_archive(function).data)


def test_handler_tests_import_the_validators_of_every_request_schema(tmp_path: Path) -> None:
    written = (write_validators(tmp_path) / "_request_schemas.py").read_text()
    assert validated_schemas(written) == set(REQUEST_SCHEMAS)


def test_the_generated_validators_are_never_in_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=HANDLERS_DIR.parent
    ).stdout.split()
    assert not [path for path in tracked if path.endswith("_request_schemas.py")]
    assert "handlers/_request_schemas.pyi" in tracked


def zipped_handler_sources(function: Function) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(build_archive(function).data)) as zipped:
        return {
            name: zipped.read(name).decode()
            for name in zipped.namelist()
            if name != "_request_schemas.py"
        }


@pytest.mark.parametrize("name", [function.name for function in app.functions])
def test_zipped_handlers_keep_their_code_on_the_lines_it_has_in_git(name: str) -> None:
    for path, zipped in zipped_handler_sources(app.function(name)).items():
        original = (HANDLERS_DIR / path).read_text().splitlines()
        assert len(zipped.splitlines()) == len(original), path
        for number, line in enumerate(zipped.splitlines()):
            assert line.strip() == "..." or original[number].startswith(line), (path, number)


@pytest.mark.parametrize("name", [function.name for function in app.functions])
def test_zipped_handlers_carry_no_comments_or_docstrings(name: str) -> None:
    for path, zipped in zipped_handler_sources(app.function(name)).items():
        tokens = tokenize.generate_tokens(io.StringIO(zipped).readline)
        assert not [token for token in tokens if token.type == tokenize.COMMENT], path
        documented = [
            node
            for node in ast.walk(ast.parse(zipped))
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and ast.get_docstring(node) is not None
        ]
        assert not documented, path


def test_stripping_keeps_what_shares_a_line_and_what_only_looks_like_a_comment() -> None:
    source = (
        "# -*- coding: utf-8 -*-\n"
        '"""Module."""\n'
        "from __future__ import annotations\n"
        "\n"
        "class Failed(Exception):\n"
        '    """Only a docstring."""\n'
        "\n"
        'def inline(): "kept"\n'
        "\n"
        "def spaced(x):  # why\n"
        '    """Doc\n'
        '    on two lines."""\n'
        '    return "# not a comment"; "kept too"\n'
    )
    assert runtime_source(source) == (
        "# -*- coding: utf-8 -*-\n"
        "\n"
        "from __future__ import annotations\n"
        "\n"
        "class Failed(Exception):\n"
        "    ...\n"
        "\n"
        'def inline(): "kept"\n'
        "\n"
        "def spaced(x):\n"
        "\n"
        "\n"
        '    return "# not a comment"; "kept too"\n'
    )
