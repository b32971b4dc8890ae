"""Each function's zip: only the files its handler imports, repeatable byte for byte, and the
very archive (and hash) the stack uploads."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from draht.app import app
from draht.model import App, DeclarationError, Function, Route
from draht.package import build_archive, handler_files
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
