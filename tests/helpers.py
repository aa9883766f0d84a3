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


# The example of a pair a candidate search at the threshold could miss: one character differs.
HUREN_A = "湖人这四组三巨头，哪一组最强？#体育#"
HUREN_B = "湖人这四组三巨作，哪一组最强？#体育#"


def pair_at(shared: int, only_a: int, only_b: int, offset: int = 0) -> tuple[str, str]:
    """Two texts whose 3-gram sets share `shared` grams and differ by only_a / only_b grams.

    a = X + Y, b = X + Z with every character distinct: the grams inside X are shared; the ones that
    touch Y (or Z) are not. |X| = shared + 2, |Y| = only_a, |Z| = only_b.
    """
    chars = [chr(0x4E00 + offset + k) for k in range(shared + 2 + only_a + only_b)]
    x, rest = "".join(chars[: shared + 2]), chars[shared + 2 :]
    return x + "".join(rest[:only_a]), x + "".join(rest[only_a:])


# (shared, only_a, only_b) -> Jaccard: 14/20, 71/100, 15/20 and, just below, 69/100.
AT_070 = pair_at(14, 3, 3)
AT_071 = pair_at(71, 14, 15, offset=200)
AT_075 = pair_at(15, 2, 3, offset=400)
AT_069 = pair_at(69, 15, 16, offset=600)


def mask_gold_private_data(store) -> dict:
    """`clean --gold` on a store whose private data touches no entity (the shared release): export needs it."""
    from cmner_build.clean.privacy import mask_gold_posts
    from cmner_build.privacy import KINDS

    report = mask_gold_posts(store, KINDS)
    assert report.conflicts == []
    return report.masked
