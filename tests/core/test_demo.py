"""The README's demo command, end to end on the bundled sample: every stage leaves its mark."""

import json
import sqlite3

from tests.helpers import run_cli


def test_demo_runs_every_stage_offline(demo_run):
    root, result = demo_run
    assert result.exit_code == 0, result.output
    log = result.output
    # crawl: the recorded archive, pictures included
    assert "157 downloaded of 157 found" in log
    # clean and images: planted problems dropped with their reasons, HTML report written
    assert (root / "exports" / "images_report.html").is_file()
    # annotation, the gate, adjudication
    assert "PASS" in log
    stats = json.loads(run_cli("-w", root, "stats", "--json", "--no-plots").stdout)
    assert stats["total"]["drop_reasons"] == {"no_entities": 1, "no_images": 1, "no_usable_image": 1, "repost": 1,
                                              "too_long": 1}
    gold = stats["total"]["by_status"]["gold"]
    assert gold == sum(split["posts"] for split in stats["splits"].values()) == 59
    assert stats["splits"]["train"]["posts"] > stats["splits"]["dev"]["posts"] > 0
    assert stats["leak_audit"]["identical_groups_across_splits"] == 0
    with sqlite3.connect(root / "corpus.db") as db:
        assert db.execute("SELECT COUNT(*) FROM agreement_runs WHERE round = 'pilot' AND passed = 1").fetchone()[0] == 1
        redacted = db.execute("SELECT text FROM posts WHERE text LIKE '%<PHONE>%'").fetchall()
    assert len(redacted) == 1
    # export and baseline
    assert (root / "exports" / "cmner" / "train.txt").read_bytes().startswith(b"WID:")
    runs = [p for p in (root / "runs").iterdir() if (p / "metrics.json").is_file()]
    assert len(runs) == 1 and "-acn-none-" in runs[0].name
    assert runs[0].name in result.stdout  # the report step printed it


def test_demo_can_run_again_from_scratch(tmp_path):
    root = tmp_path / "demo"
    (root).mkdir()
    (root / ".cmner-demo").write_text("left by an earlier demo")
    (root / "stale.txt").write_text("removed by the next demo")
    result = run_cli("-w", root, "demo")
    assert result.exit_code == 0, result.output
    assert not (root / "stale.txt").exists()


def test_demo_refuses_to_wipe_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    result = run_cli("-w", tmp_path / "mine", "demo")
    assert result.exit_code == 2
    assert "not a demo workspace" in result.error
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
