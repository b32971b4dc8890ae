"""Fixtures shared by every suite: a real dynalite on a free loopback port, and the stack
of `dev` and of `production` synthesized under mocks once per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from draht.local.store import Dynalite

if TYPE_CHECKING:
    from draht.synth import Synthesis


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    with Dynalite() as store:
        yield store


# Pulumi is imported only when a stack is asked for: its gRPC core is built for the venv's
# Python, and the handler tests also run on the Lambda runtime's (tests/lambda_python.py).
@pytest.fixture(scope="session")
def dev() -> Synthesis:
    from stack_synth import synth

    return synth("dev")


@pytest.fixture(scope="session")
def production() -> Synthesis:
    from stack_synth import synth

    return synth("production")
