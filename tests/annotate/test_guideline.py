"""The guideline: bundled (Chinese + English, the paper's protocol) or the lab's own file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmner_build.annotate.guideline import default_guideline, load_guideline
from cmner_build.errors import ConfigError


def test_default_guideline_states_the_protocol_in_both_languages() -> None:
    text = default_guideline()
    for must in ("CoNLL-2003", "PER", "LOC", "ORG", "MISC", "真实人物", "最细一级", "电视台", "球队",
                 "real people", "finest place", "TV stations", "sports clubs", "products", "works", "events"):
        assert must in text, must


def test_configured_guideline_replaces_it(tmp_path: Path) -> None:
    (tmp_path / "ours.md").write_text("# our rules\n", encoding="utf-8")
    assert load_guideline(tmp_path, "ours.md") == "# our rules\n"
    assert load_guideline(tmp_path, "") == default_guideline()
    with pytest.raises(ConfigError, match="missing.md: the guideline file named by"):
        load_guideline(tmp_path, "missing.md")
