"""Settings of the Doccano connection and of the annotation rounds, from cmner.toml and the environment.

The admin password is read from the environment variable named by `[doccano] password_env`; it never
lives in cmner.toml, corpus.db or a log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cmner_build.errors import ConfigError, CmnerError
from cmner_build.workspace import Workspace

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.doccano.examples import MIB, ZipLimits


@dataclass
class DoccanoSettings:
    url: str
    admin_user: str
    password_env: str
    server_dir: Path
    server_venv: str
    server_python: str
    workers: int


@dataclass
class AnnotateSettings:
    pool: list[str]
    per_post: int
    batch_size: int
    guideline: str
    project_prefix: str
    password_file: Path
    seed: int
    zip_limits: ZipLimits = ZipLimits()


def doccano_settings(workspace: Workspace) -> DoccanoSettings:
    settings = workspace.settings
    server_dir = Path(settings.get("doccano", "server_dir", str, "doccano")).expanduser()
    return DoccanoSettings(
        url=settings.get("doccano", "url", str, "http://127.0.0.1:8000").rstrip("/"),
        admin_user=settings.get("doccano", "admin_user", str, "admin"),
        password_env=settings.get("doccano", "password_env", str, "DOCCANO_PASSWORD"),
        server_dir=server_dir if server_dir.is_absolute() else workspace.root / server_dir,
        server_venv=settings.get("doccano", "server_venv", str, ""),
        server_python=settings.get("doccano", "server_python", str, ""),
        workers=settings.get("doccano", "workers", int, 1),
    )


def annotate_settings(workspace: Workspace) -> AnnotateSettings:
    settings = workspace.settings
    pool = settings.get("annotate", "pool", list, [])
    if not all(isinstance(name, str) and name for name in pool):
        raise ConfigError(f"{workspace.config_path}: annotate.pool must be a list of user names")
    values = {key: settings.get("annotate", key, int, default)
              for key, default in (("per_post", 3), ("batch_size", 100))}
    for key, value in values.items():
        if value < 1:
            raise ConfigError(f"{workspace.config_path}: annotate.{key} must be at least 1, found {value}")
    password_file = Path(settings.get("annotate", "password_file", str, "annotator-passwords.tsv")).expanduser()
    default_limits = ZipLimits()
    sizes = {key: settings.get("annotate", key, int, default // MIB) for key, default in (
        ("export_member_mb", default_limits.max_member_bytes), ("export_total_mb", default_limits.max_total_bytes))}
    for key, value in sizes.items():
        if value < 1:
            raise ConfigError(f"{workspace.config_path}: annotate.{key} must be at least 1, found {value}")
    return AnnotateSettings(
        pool=list(pool), per_post=values["per_post"],
        batch_size=values["batch_size"], guideline=settings.get("annotate", "guideline", str, ""),
        project_prefix=settings.get("annotate", "project_prefix", str, ""),
        password_file=password_file if password_file.is_absolute() else workspace.root / password_file,
        seed=settings.seed,
        zip_limits=ZipLimits(sizes["export_member_mb"] * MIB, sizes["export_total_mb"] * MIB),
    )


def admin_password(doccano: DoccanoSettings) -> str:
    password = os.environ.get(doccano.password_env)
    if not password:
        raise CmnerError(
            f"set the environment variable {doccano.password_env} to the password of the Doccano admin "
            f"{doccano.admin_user!r} (the variable's name is [doccano] password_env in cmner.toml)"
        )
    return password


def connect_admin(workspace: Workspace, url: str | None = None) -> DoccanoAPI:
    """Log in to the server at `url` (default [doccano] url) as the configured admin."""
    doccano = doccano_settings(workspace)
    return DoccanoAPI.login((url or doccano.url).rstrip("/"), doccano.admin_user, admin_password(doccano))
