"""Test helpers shared by every test module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from cmner_build.cli import app
from cmner_build.errors import CmnerError

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the clone: present on CI and in development, absent in a user's clone.
SHARED_DIR = Path(os.environ.get("CMNER_SHARED_DIR", REPO_ROOT.parent / "shared"))
SHARED_DATA = SHARED_DIR / "data"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    error: str | None  # the CmnerError message the CLI would print, if one was raised

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: object, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run `cmner-build ARGS...` in-process, the way `main()` would (CmnerError -> exit 2 with a message)."""
    result = CliRunner().invoke(app, [str(arg) for arg in args], input=input, env=env)
    error = None
    exit_code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if isinstance(result.exception, CmnerError):
            error = str(result.exception)
            exit_code = result.exception.exit_code
        else:
            raise result.exception
    return CliResult(exit_code, result.stdout, result.stderr, error)


def mask_gold_private_data(store) -> dict:
    """`clean --gold` on a store whose private data touches no entity (the shared release): export needs it."""
    from cmner_build.clean.privacy import mask_gold_posts
    from cmner_build.privacy import KINDS

    report = mask_gold_posts(store, KINDS)
    assert report.conflicts == []
    return report.masked
