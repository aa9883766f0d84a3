import json

from cmner_build.export import export_corpus
from cmner_build.importer import import_release
from cmner_build.store import utc_now
from cmner_build.stats.corpus_stats import compute_stats
from cmner_build.stats.leaks import leak_audit

from tests.helpers import run_cli


def test_table_one_on_the_real_release(release_workspace):
    result = run_cli("-w", release_workspace.root, "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["splits"]["train"]["posts"] == 3000
    assert stats["splits"]["train"]["entities"] == {"PER": 3814, "LOC": 4760, "ORG": 6045, "MISC": 1754}
    assert stats["splits"]["dev"]["posts"] == 1000
    assert stats["splits"]["dev"]["entities"] == {"PER": 1313, "LOC": 1546, "ORG": 1942, "MISC": 594}
    assert stats["splits"]["test"]["posts"] == 0
    assert stats["total"]["posts"] == 4000
    assert stats["total"]["images"] == 25
    assert stats["text_length"]["max"] == 250
    assert sum(stats["total"]["by_topic"].values()) == 4000
    for name in ("stats_entities_per_split.png", "stats_text_length.png", "stats_images_per_post.png"):
        assert (release_workspace.exports_dir / name).read_bytes().startswith(b"\x89PNG")


def test_the_leak_audit_finds_the_release_duplicates_and_a_fresh_split_has_none(release_workspace, tmp_path):
    before = compute_stats(release_workspace.store)["leak_audit"]
    # The release spreads identical texts over train and dev.
    assert before["identical_groups_across_splits"] > 0
    assert before["identical_pairs_across_splits"] >= before["identical_groups_across_splits"]
    assert before["near_identical_pairs_across_splits"] > 0
    export_corpus(release_workspace.store, tmp_path / "out", ratio="3:1:1", seed=1)
    after = compute_stats(release_workspace.store)["leak_audit"]
    assert after["identical_groups_across_splits"] == 0
    assert after["near_identical_pairs_across_splits"] == 0
    assert after["examples"] == []


def test_leak_audit_exact_counts():
    texts = {"a": "同一条微博的文字内容", "b": "同一条微博的文字内容", "c": "同一条微博的文字内容", "d": "完全不同的另外一条"}
    audit = leak_audit(texts, {"a": "train", "b": "dev", "c": "train", "d": "test"})
    assert audit["identical_groups_across_splits"] == 1
    assert audit["identical_posts_across_splits"] == 3
    assert audit["identical_pairs_across_splits"] == 2  # a-b and b-c; a-c share a split
    assert audit["near_identical_pairs_across_splits"] == 0


def test_total_counts_every_record_whatever_its_stage(workspace, tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("WID:G1\n张\tB-PER\n三\tI-PER\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")
    now = utc_now()
    rows = [("C1", "crawled", None), ("C2", "cleaned", None), ("D1", "dropped", "too_long"), ("D2", "dropped", "too_long"),
            ("R1", "ready", None)]
    for post_id, status, reason in rows:
        workspace.store.execute(
            "INSERT INTO posts (post_id, topic, source, original_text, text, status, drop_reason, created_at, updated_at)"
            " VALUES (?, '体育', 'crawl', 'x', 'x', ?, ?, ?, ?)", (post_id, status, reason, now, now))
    workspace.store.execute("INSERT INTO images (post_id, position, url, status) VALUES ('C1', 0, 'http://x/1.jpg', 'pending')")
    workspace.store.execute("INSERT INTO images (post_id, position, url, status, drop_reason) VALUES ('C1', 1, 'u', 'dropped', 'blank')")
    stats = compute_stats(workspace.store)
    total = stats["total"]
    assert total["posts"] == 6
    assert total["images"] == 2
    assert total["by_status"] == {"crawled": 1, "cleaned": 1, "ready": 1, "annotating": 0, "annotated": 0, "gold": 1,
                                  "dropped": 2}
    assert total["by_topic"] == {"(none)": 1, "体育": 5}
    assert total["drop_reasons"] == {"too_long": 2}
    assert total["images_by_status"] == {"pending": 1, "downloaded": 0, "kept": 0, "dropped": 1}
    assert stats["splits"]["train"]["posts"] == 1
    assert stats["entities_per_post"]["distribution"] == {"1": 1}


def test_stats_tables_render(release_workspace):
    result = run_cli("-w", release_workspace.root, "stats", "--no-plots")
    assert result.exit_code == 0
    for expected in ("Table 1", "3,814", "4,760", "6,045", "1,754", "Split-leak audit", "Posts per topic"):
        assert expected in result.stdout
    assert not (release_workspace.exports_dir / "stats_text_length.png").exists()


def test_stats_imports_no_near_duplicate_search_when_no_two_splits_can_leak(tmp_path):
    """datasketch pulls in scipy (about a second): only a real cross-split search may import it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cmner_build.store import Store\n"
        "from cmner_build.stats.corpus_stats import compute_stats\n"
        f"store = Store({str(tmp_path / 'corpus.db')!r})\n"
        "store.execute(\"INSERT INTO posts (post_id, source, original_text, text, status, split, created_at, "
        "updated_at) VALUES ('a', 'import', '同一句话', '同一句话', 'gold', 'train', '', ''), "
        "('b', 'import', '同一句话', '同一句话', 'gold', 'train', '', '')\")\n"
        "compute_stats(store)\n"
        "print('datasketch' in sys.modules, 'scipy' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]
