"""Shared fixtures: a real local Databricks workspace on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lakegate.workspace import LocalWorkspace

# SQLAlchemy's compliance suite runs in its own pytest process (its plugin takes the session
# over): tests/workspace/clients/test_sqlalchemy_compliance.py starts it.
collect_ignore = ["compliance"]


@pytest.fixture(scope="session")
def workspace() -> Iterator[LocalWorkspace]:
    """One workspace for the whole session. Do not change its faults or token TTL."""
    with LocalWorkspace(warehouse_delays=0.1) as ws:
        yield ws


@pytest.fixture
def workspace_factory() -> Iterator[Callable[..., LocalWorkspace]]:
    """`workspace_factory(**kwargs)` starts a fresh workspace, stopped at teardown."""
    started: list[LocalWorkspace] = []

    def start(**kwargs: Any) -> LocalWorkspace:
        kwargs.setdefault("warehouse_delays", 0.1)
        ws = LocalWorkspace(**kwargs).start()
        started.append(ws)
        return ws

    yield start
    for ws in reversed(started):
        ws.stop()
