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
