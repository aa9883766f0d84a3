import json
import random

from cmner_build.export import export_corpus
from cmner_build.formats import read_tagged_file
from cmner_build.importer import import_release
from cmner_build.near_duplicates import char_ngrams
from cmner_build.store import utc_now
from cmner_build.stats.corpus_stats import compute_stats
from cmner_build.stats.leaks import leak_audit

from tests.helpers import AT_070, AT_071, AT_075, HUREN_A, HUREN_B, mask_gold_private_data, run_cli


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


def test_the_leak_audit_finds_the_release_duplicates_and_a_resplit_has_none(release_workspace, tmp_path):
    before = compute_stats(release_workspace.store)["leak_audit"]
    # The release spreads identical texts over train and dev.
    assert before["identical_groups_across_splits"] > 0
    assert before["identical_pairs_across_splits"] >= before["identical_groups_across_splits"]
    assert before["near_identical_pairs_across_splits"] > 0
    mask_gold_private_data(release_workspace.store)
    # A plain export keeps the released splits, leak included, and the audit still shows it.
    export_corpus(release_workspace.store, tmp_path / "out", ratio="3:1:1", seed=1)
    assert compute_stats(release_workspace.store)["leak_audit"] == before
    export_corpus(release_workspace.store, tmp_path / "out", ratio="3:1:1", seed=1, resplit=True)
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


def _import_texts(workspace, tmp_path, texts: dict[str, str]) -> None:
    blocks = [f"WID:{post_id}\n" + "\n".join(f"{c}\tO" for c in text) for post_id, text in texts.items()]
    path = tmp_path / "posts.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")


def _texts_with_pairs() -> dict[str, str]:
    rng = random.Random(0)
    texts = {f"U{i:02d}": "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(20)) for i in range(30)}
    for name, (a, b) in {"h": (HUREN_A, HUREN_B), "p70": AT_070, "p71": AT_071, "p75": AT_075}.items():
        texts[f"{name}a"], texts[f"{name}b"] = a, b
    return texts


def test_the_audit_finds_a_cross_split_pair_written_past_the_grouping(workspace, tmp_path):
    _import_texts(workspace, tmp_path, _texts_with_pairs())
    export_corpus(workspace.store, tmp_path / "out", seed=3)
    assert compute_stats(workspace.store)["leak_audit"]["near_identical_pairs_across_splits"] == 0
    # A split written straight into the store: no grouping ever saw it.
    split_a = workspace.store.scalar("SELECT split FROM posts WHERE post_id = 'ha'")
    other = next(split for split in ("train", "dev", "test") if split != split_a)
    workspace.store.execute("UPDATE posts SET split = ? WHERE post_id = 'hb'", (other,))
    audit = compute_stats(workspace.store)["leak_audit"]
    assert audit["near_identical_pairs_across_splits"] == 1
    assert audit["examples"][0]["post_ids"] == ["ha", "hb"] and audit["examples"][0]["jaccard"] == 0.7


def test_the_audit_catches_a_grouping_bug(workspace, tmp_path, monkeypatch):
    import cmner_build.export as export_module

    _import_texts(workspace, tmp_path, _texts_with_pairs())
    # A broken grouping: every post alone, so near-duplicates are split like any other post.
    monkeypatch.setattr(export_module, "leak_groups", lambda posts, threshold, search="exact": [[p.post_id] for p in posts])
    separated_in_some_run = False
    for seed in range(8):
        export_corpus(workspace.store, tmp_path / "out", seed=seed, resplit=True)
        split_of = dict(workspace.store.query("SELECT post_id, split FROM posts"))
        separated = sum(split_of[f"{name}a"] != split_of[f"{name}b"] for name in ("h", "p70", "p71", "p75"))
        assert compute_stats(workspace.store)["leak_audit"]["near_identical_pairs_across_splits"] == separated
        separated_in_some_run |= separated > 0
    assert separated_in_some_run


def test_the_audit_on_the_release_matches_an_independent_brute_force_count(release_workspace, shared_data):
    """Every train x dev pair counted with a plain sparse product (no filter) over grams from Python sets."""
    import numpy as np
    from scipy import sparse

    texts = {name: ["".join(d.tokens) for d in read_tagged_file(shared_data / "cmner" / f"{name}.txt", "cmner").documents]
             for name in ("train", "dev")}
    vocabulary: dict[str, int] = {}

    def matrix(split: str):
        rows, columns = [], []
        for row, text in enumerate(texts[split]):
            for gram in char_ngrams(text):
                rows.append(row)
                columns.append(vocabulary.setdefault(gram, len(vocabulary)))
        return rows, columns

    train_cells, dev_cells = matrix("train"), matrix("dev")
    shape = len(vocabulary)
    train = sparse.csr_matrix((np.ones(len(train_cells[0])), train_cells), shape=(len(texts["train"]), shape))
    dev = sparse.csr_matrix((np.ones(len(dev_cells[0])), dev_cells), shape=(len(texts["dev"]), shape))
    shared = (train @ dev.T).tocoo()
    train_sizes, dev_sizes = np.diff(train.indptr), np.diff(dev.indptr)
    identical = near = 0
    for i, j, count in zip(shared.row, shared.col, shared.data):
        union = train_sizes[i] + dev_sizes[j] - count
        if 10 * int(count) >= 7 * int(union):
            if texts["train"][i] == texts["dev"][j]:
                identical += 1
            else:
                near += 1
    audit = compute_stats(release_workspace.store)["leak_audit"]
    assert (audit["identical_pairs_across_splits"], audit["near_identical_pairs_across_splits"]) == (identical, near)
    assert near > 0 and identical > 0


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
