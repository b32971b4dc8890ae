"""Fixtures shared by every suite: a real dynalite on a free loopback port, and the stack
of `dev` and of `production` synthesized under mocks once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stack_synth import synth

from draht.local.store import Dynalite
from draht.synth import Synthesis


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    with Dynalite() as store:
        yield store


@pytest.fixture(scope="session")
def dev() -> Synthesis:
    return synth("dev")


@pytest.fixture(scope="session")
def production() -> Synthesis:
    return synth("production")
