"""A workspace: one folder per corpus, holding cmner.toml, corpus.db and the files the stages write.

    DIR/cmner.toml  settings          DIR/archive/  raw HTTP responses
    DIR/corpus.db   the store         DIR/images/   images named {post_id}_{suffix}.{ext}
    DIR/exports/    exports, plots    DIR/runs/     baseline runs
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from . import WORKSPACE_ENV
from .config import CONFIG_NAME, DEFAULT_CONFIG, Settings, load_settings
from .errors import WorkspaceError
from .store import Store

DB_NAME = "corpus.db"
SUBDIRS = ("archive", "images", "exports", "runs")


def default_workspace_root() -> Path:
    return Path(os.environ.get(WORKSPACE_ENV) or ".")


@dataclass
class Workspace:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @cached_property
    def store(self) -> Store:
        store = Store(self.db_path)
        _settle_interrupted_export(self.root, store)
        return store

    def read_only_store(self) -> Store:
        """A second, read-only connection (dry runs): it cannot change corpus.db. The caller closes it."""
        return Store(self.db_path, read_only=True)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]


def _settle_interrupted_export(root: Path, store: Store) -> None:
    """Bring the splits in line with the export folder a killed export left (see export_record)."""
    if not store.scalar("SELECT COUNT(*) FROM pending_exports"):
        return
    from .export_record import settle_pending_exports
    from .safety import stage_lock

    try:
        with stage_lock(root, "export"):
            settle_pending_exports(store)
    except (WorkspaceError, OSError):  # an export is running now (it settles them itself), or read-only
        pass


@contextmanager
def workspace_for_run(root: Path | None) -> Iterator[Workspace]:
    """The workspace a stage that brings data in (crawl) writes to, created when missing.

    Call it only after the run's options are checked. When the block fails and this call created the
    folder, and nothing was stored yet, the folder is removed again: a failed run leaves no half-made
    workspace behind (a run that stored posts before failing keeps them; the same command resumes).
    """
    root = Path(root) if root is not None else default_workspace_root()
    if (root / DB_NAME).exists():
        workspace = open_workspace(root)
        yield workspace
        return
    first_missing = next((folder for folder in [root.absolute(), *root.absolute().parents]
                          if not folder.exists() and folder.parent.exists()), None)
    workspace = init_workspace(root)[0]
    try:
        yield workspace
    except BaseException:
        stored = workspace.store.scalar("SELECT COUNT(*) FROM posts")
        workspace.close()
        if first_missing is not None and not stored:
            shutil.rmtree(first_missing, ignore_errors=True)
        raise


def init_workspace(root: Path) -> tuple[Workspace, list[str]]:
    """Create (or complete) a workspace; never overwrites an existing cmner.toml. Returns what was created."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder")
    created: list[str] = []
    if not root.exists():
        created.append(f"{root}/")
    root.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root)
    if not workspace.config_path.exists():
        workspace.config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
        created.append(CONFIG_NAME)
    for name in SUBDIRS:
        if not (root / name).exists():
            (root / name).mkdir()
            created.append(f"{name}/")
    if not workspace.db_path.exists():
        created.append(DB_NAME)
    workspace.store  # opening applies the schema
    return workspace, created


def open_workspace(root: Path | None = None, *, create: bool = False) -> Workspace:
    """Open an existing workspace. With create=True a missing one is made (for stages that bring data in)."""
    root = Path(root) if root is not None else default_workspace_root()
    if not (root / DB_NAME).exists():
        if create:
            return init_workspace(root)[0]
        raise WorkspaceError(
            f"{root.resolve()} is not a cmner-build workspace (no {DB_NAME}); "
            f"create one with `cmner-build init {root}` or choose one with --workspace"
        )
    workspace = Workspace(root)
    for name in SUBDIRS:
        (root / name).mkdir(exist_ok=True)
    return workspace
