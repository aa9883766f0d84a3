"""The stage folders install under one namespace: no generic top-level `crawl` or `stats` package."""

from __future__ import annotations

import subprocess
import sys

import pytest

STAGES = ("crawl", "clean", "annotate", "stats", "baselines")


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_only_under_cmner_build(stage: str, tmp_path) -> None:
    # Run from an empty folder so the repository root is not on sys.path: only what is installed counts.
    probe = (
        "import importlib, sys\n"
        f"importlib.import_module('cmner_build.{stage}')\n"
        "try:\n"
        f"    importlib.import_module('{stage}')\n"
        "except ModuleNotFoundError:\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr or f"`import {stage}` found a top-level package"


def test_python_dash_m_runs_the_cli(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "cmner_build", "--help"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "crawl" in result.stdout


def _imported_modules(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_commands_never_import_the_cli_module() -> None:
    """cli.py imports the command modules; one importing cli.py back would be a loop."""
    from tests.helpers import REPO_ROOT

    for path in sorted((REPO_ROOT / "cmner_build" / "commands").glob("*.py")):
        imported = _imported_modules(path)
        assert not imported & {"..cli", "cmner_build.cli"}, f"{path.name} imports the CLI module"


def test_commands_run_no_sql() -> None:
    """A command parses, calls its stage's entry function, and prints: the store is the library's business."""
    import re

    from tests.helpers import REPO_ROOT

    for path in sorted((REPO_ROOT / "cmner_build" / "commands").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s", text), f"{path.name} runs SQL"
        assert ".store.query(" not in text and ".store.execute(" not in text, f"{path.name} queries the store"
