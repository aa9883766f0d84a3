"""A workspace: one folder per corpus, holding cmner.toml, corpus.db and the files the stages write.

    DIR/cmner.toml  settings          DIR/archive/  raw HTTP responses
    DIR/corpus.db   the store         DIR/images/   images named {post_id}_{suffix}.{ext}
    DIR/exports/    exports, plots    DIR/runs/     baseline runs
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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
        return Store(self.db_path)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]


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
