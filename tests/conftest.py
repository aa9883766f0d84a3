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


@pytest.fixture(scope="session")
def _release_template(tmp_path_factory, request) -> Path:
    """A workspace with the shared CMNER train + dev imported once per session (copied per test)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available ({SHARED_DATA} is absent)")
    from cmner_build.importer import import_release

    root = tmp_path_factory.mktemp("release") / "ws"
    ws, _ = init_workspace(root)
    import_release(
        ws.store,
        [SHARED_DATA / "cmner" / "train.txt", SHARED_DATA / "cmner" / "dev.txt"],
        "cmner",
        topics=ws.settings.topics,
        images_dir=SHARED_DATA / "cmner" / "images",
        workspace_images_dir=ws.images_dir,
    )
    from cmner_build.clean.image_stage import check_imported_images

    check_imported_images(ws.store, ws.images_dir, ws.settings)  # what `import --images` does
    ws.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    return root


@pytest.fixture
def release_workspace(_release_template: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of a workspace holding the shared CMNER train (3,000) and dev (1,000) as gold."""
    import shutil

    root = tmp_path / "release-ws"
    shutil.copytree(_release_template, root)
    ws = Workspace(root)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """`cmner-build demo` run once per session: (workspace root, CliResult). Tests must not modify it."""
    from .helpers import run_cli

    root = tmp_path_factory.mktemp("demo") / "demo-workspace"
    return root, run_cli("-w", root, "demo")
