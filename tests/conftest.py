"""Fixtures shared by every suite: a real dynalite on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from draht.local.store import Dynalite


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    with Dynalite() as store:
        yield store
