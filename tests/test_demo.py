"""The README's demo command, end to end on the bundled sample."""

import json

from .helpers import run_cli


def test_demo_runs_end_to_end_and_can_run_again(tmp_path):
    root = tmp_path / "demo"
    first = run_cli("-w", root, "demo")
    assert first.exit_code == 0, first.output
    stats = json.loads(run_cli("-w", root, "stats", "--json", "--no-plots").stdout)
    assert sum(split["posts"] for split in stats["splits"].values()) > 0
    assert stats["splits"]["train"]["posts"] > stats["splits"]["dev"]["posts"]
    assert (root / "exports" / "cmner" / "train.txt").exists()
    second = run_cli("-w", root, "demo")
    assert second.exit_code == 0, second.output


def test_demo_refuses_to_wipe_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    result = run_cli("-w", tmp_path / "mine", "demo")
    assert result.exit_code == 2
    assert "not a demo workspace" in result.error
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
