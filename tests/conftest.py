"""Fixtures shared by all tests: the shared real data (skipped when absent) and fresh workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmner_build.workspace import Workspace, init_workspace

from .helpers import SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; tests that need it are skipped cleanly in a clone without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available ({SHARED_DATA} is absent)")
    return SHARED_DATA


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, initialised workspace in a temporary folder."""
    ws, _ = init_workspace(tmp_path / "ws")
    yield ws
    ws.close()
