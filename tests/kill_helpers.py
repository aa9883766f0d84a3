"""Kill tests: run the real CLI in a subprocess, SIGKILL it at a named point, then check the workspace.

`safety.fault_point` reads CMNER_TEST_KILL_AT=<point>:<n> and kills its own process the n-th time the
point is passed, so every kill lands at an exact, repeatable instant.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from cmner_build.formats import read_tagged_file
from cmner_build.safety import KILL_AT_ENV
from cmner_build.splits import SPLITS

from tests.helpers import REPO_ROOT


def cli(*args: object, kill_at: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m cmner_build ARGS`; with kill_at, asserts the process was SIGKILLed there."""
    env = {key: value for key, value in os.environ.items() if key != KILL_AT_ENV}
    env["COLUMNS"] = "200"
    if kill_at is not None:
        env[KILL_AT_ENV] = kill_at
    result = subprocess.run(
        [sys.executable, "-m", "cmner_build", *map(str, args)],
        cwd=cwd or REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if kill_at is not None:
        assert result.returncode == -signal.SIGKILL, (
            f"expected a SIGKILL at {kill_at}, got exit {result.returncode}: {result.stderr[-2000:]}"
        )
    return result


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def integrity_ok(db: Path) -> None:
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        connection.close()


def rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return [tuple(row) for row in connection.execute(sql)]
    finally:
        connection.close()


def exported_splits(out_dir: Path, fmt: str = "cmner") -> dict[str, str]:
    """post id -> split, read back from an export folder; asserts no post appears twice."""
    found: dict[str, str] = {}
    for split in SPLITS:
        for document in read_tagged_file(out_dir / f"{split}.txt", fmt).documents:
            assert document.doc_id not in found, f"{document.doc_id} is in two split files"
            found[document.doc_id] = split
    return found
