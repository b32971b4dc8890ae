"""Each function's zip: only the files its handler imports, repeatable byte for byte, and the
very archive (and hash) the stack uploads."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from draht.app import app
from draht.model import App, DeclarationError, Function, Route
from draht.openapi import REQUEST_SCHEMAS
from draht.package import (
    HANDLERS_DIR,
    build_archive,
    handler_files,
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
        with zipfile.ZipFile(io.BytesIO(archive.data)) as zipped:
            source = zipped.read("_request_schemas.py").decode()
        assert source == validators_source()
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


def test_dev_and_tests_import_the_validators_the_zips_carry(tmp_path: Path) -> None:
    written = write_validators(tmp_path) / "_request_schemas.py"
    assert written.read_text() == validators_source()


def test_the_generated_validators_are_never_in_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=HANDLERS_DIR.parent
    ).stdout.split()
    assert not [path for path in tracked if path.endswith("_request_schemas.py")]
    assert "handlers/_request_schemas.pyi" in tracked
