"""Logging in to the Doccano server as the configured admin (settings: annotate/settings.py).

The admin password is read from the environment variable named by `[doccano] password_env`; it never
lives in cmner.toml, corpus.db or a log.
"""

from __future__ import annotations

import os

from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace

from cmner_build.annotate.doccano.api import DoccanoAPI
from cmner_build.annotate.settings import DoccanoSettings, doccano_settings


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
