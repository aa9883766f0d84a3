"""Private data in gold posts (imported releases, adjudicated posts): `clean --gold` masks it in place
with the labels aligned, a hit on an entity waits for a person, export refuses what is left, stats counts it."""

from __future__ import annotations

import json
from pathlib import Path

from cmner_build.formats import read_tagged_file
from cmner_build.importer import import_release
from cmner_build.privacy import find_pii
from cmner_build.workspace import Workspace

from tests.clean_helpers import add_post, snapshot
from tests.helpers import run_cli

# PRIV1: phone outside the entities; PRIV2: full-width QQ number; HOTEL: the number is part of an ORG.
POSTS = {
    "PRIV1": ("张三在北京，电话13812345678#体育#", {0: "B-PER", 1: "I-PER", 3: "B-LOC", 4: "I-LOC"}),
    "PRIV2": ("李四说ＱＱ：１２３４５６７８９#旅游#", {0: "B-PER", 1: "I-PER"}),
    "HOTEL": ("订房打北京饭店13912345678#旅游#", {3: "B-ORG", **{i: "I-ORG" for i in range(4, 18)}}),
    "CLEAN": ("王五在上海看比赛#科技#", {0: "B-PER", 1: "I-PER", 3: "B-LOC", 4: "I-LOC"}),
}


def import_posts(workspace: Workspace, tmp_path: Path, names=tuple(POSTS)) -> None:
    blocks = []
    for post_id in names:
        text, tags = POSTS[post_id]
        blocks.append("\n".join([f"WID:{post_id}"] + [f"{c}\t{tags.get(i, 'O')}" for i, c in enumerate(text)]))
    path = tmp_path / "release.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")


def exported(path: Path) -> dict[str, tuple[str, list[str]]]:
    return {d.doc_id: ("".join(d.tokens), d.tags) for d in read_tagged_file(path, "cmner").documents}


def test_clean_gold_masks_in_place_keeps_tags_and_leaves_a_hit_on_an_entity_to_a_person(workspace, tmp_path):
    import_posts(workspace, tmp_path)
    plain = run_cli("-w", workspace.root, "clean")  # leaves gold posts alone, but points at them
    assert "3 gold posts hold private data" in plain.output and "clean --gold" in plain.output
    spans_before = workspace.store.gold_spans()
    result = run_cli("-w", workspace.root, "clean", "--gold", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["posts_masked"] == ["PRIV1", "PRIV2"] and report["masked"] == {"phone": 1, "qq": 1}
    assert [(row["post_id"], row["value"], row["entity"]) for row in report["conflicts"]] == [
        ("HOTEL", "13912345678", "ORG")]
    texts = dict(workspace.store.query("SELECT post_id, text FROM posts"))
    assert texts["PRIV1"] == "张三在北京，电话***********#体育#"
    assert texts["PRIV2"] == "李四说ＱＱ：*********#旅游#"
    assert texts["HOTEL"] == POSTS["HOTEL"][0] and texts["CLEAN"] == POSTS["CLEAN"][0]
    assert workspace.store.gold_spans() == spans_before
    original = dict(workspace.store.query("SELECT post_id, original_text FROM posts"))
    assert original["PRIV1"] == POSTS["PRIV1"][0]  # the store keeps what was imported

    # The export names the post a person has to decide about, and writes nothing.
    refused = run_cli("-w", workspace.root, "export", "--split", "1:1:1", "-o", tmp_path / "out")
    assert refused.exit_code == 2 and "1 gold posts still hold private data: HOTEL (phone)" in refused.error
    assert not (tmp_path / "out").exists()

    # The person declares the hotel's number public: it is kept, and the export goes through.
    assert run_cli("-w", workspace.root, "clean", "--gold", "--allow-pii", "HOTEL").exit_code == 0
    assert run_cli("-w", workspace.root, "export", "--split", "1:0:0", "-o", tmp_path / "out").exit_code == 0
    files = exported(tmp_path / "out" / "train.txt")
    assert files["HOTEL"] == (POSTS["HOTEL"][0], [POSTS["HOTEL"][1].get(i, "O") for i in range(len(POSTS["HOTEL"][0]))])
    for post_id, (text, tags) in files.items():
        assert tags == [POSTS[post_id][1].get(i, "O") for i in range(len(POSTS[post_id][0]))], post_id
        assert len(text) == len(POSTS[post_id][0])
    assert [hit.value for text, _ in files.values() for hit in find_pii(text)] == ["13912345678"]


def test_drop_entity_masks_the_hit_and_drops_the_entity_it_touches(workspace, tmp_path):
    import_posts(workspace, tmp_path, ("HOTEL", "CLEAN"))
    result = run_cli("-w", workspace.root, "clean", "--gold", "--drop-entity", "HOTEL", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conflicts"] == [] and report["masked"] == {"phone": 1}
    assert report["entities_dropped"] == [{"post_id": "HOTEL", "label": "ORG", "text": "北京饭店13912345678"}]
    assert workspace.store.scalar("SELECT text FROM posts WHERE post_id = 'HOTEL'") == "订房打北京饭店***********#旅游#"
    assert "HOTEL" not in workspace.store.gold_spans()
    assert run_cli("-w", workspace.root, "export", "--split", "1:0:0", "-o", tmp_path / "out").exit_code == 0


def test_resolving_options_need_gold_posts_and_gold(workspace, tmp_path):
    import_posts(workspace, tmp_path, ("HOTEL",))
    result = run_cli("-w", workspace.root, "clean", "--gold", "--allow-pii", "NOPE")
    assert result.exit_code == 2 and "--allow-pii: NOPE: not a gold post" in result.error
    assert run_cli("-w", workspace.root, "clean", "--allow-pii", "HOTEL").exit_code == 2
    both = run_cli("-w", workspace.root, "clean", "--gold", "--allow-pii", "HOTEL", "--drop-entity", "HOTEL")
    assert both.exit_code == 2 and "choose one" in both.error


def test_clean_gold_dry_run_writes_nothing(workspace, tmp_path):
    import_posts(workspace, tmp_path)
    before = snapshot(workspace.store, ("posts", "gold_spans", "events"))
    result = run_cli("-w", workspace.root, "clean", "--gold", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["posts_masked"] == ["PRIV1", "PRIV2"]
    assert snapshot(workspace.store, ("posts", "gold_spans", "events")) == before


def test_stats_counts_private_data_by_kind_before_and_after(workspace, tmp_path):
    import_posts(workspace, tmp_path)
    add_post(workspace.store, "CRAWL1", "邮箱zhang[at]qq.com")
    add_post(workspace.store, "GONE", "电话13812345678", status="dropped")
    workspace.store.execute("UPDATE posts SET drop_reason = 'empty' WHERE post_id = 'GONE'")
    stats = json.loads(run_cli("-w", workspace.root, "stats", "--json", "--no-plots").stdout)["private_data"]
    assert stats["hits_by_kind"] == {"phone": 2, "id_card": 0, "email": 1, "qq": 1, "wechat": 0, "bank_card": 0}
    assert stats["posts"] == 4 and stats["gold_posts"] == 3
    assert stats["gold_post_ids"] == ["PRIV1", "PRIV2", "HOTEL"]
    run_cli("-w", workspace.root, "clean")
    run_cli("-w", workspace.root, "clean", "--gold", "--allow-pii", "HOTEL")
    stats = json.loads(run_cli("-w", workspace.root, "stats", "--json", "--no-plots").stdout)["private_data"]
    assert stats["hits_total"] == 0 and stats["gold_post_ids"] == []
    table = run_cli("-w", workspace.root, "stats", "--no-plots").stdout
    assert "Private data still in the corpus" in table


def test_the_cmner_dev_post_with_a_phone_number_exports_masked_with_its_tags_aligned(
    release_workspace, tmp_path, shared_data
):
    source = {d.doc_id: d for d in read_tagged_file(shared_data / "cmner" / "dev.txt", "cmner").documents}["Lcd7WqN4e"]
    assert "18076315634" in "".join(source.tokens)
    refused = run_cli("-w", release_workspace.root, "export", "--keep-splits", "-o", tmp_path / "out")
    assert refused.exit_code == 2 and "Lcd7WqN4e (phone)" in refused.error
    stats = json.loads(run_cli("-w", release_workspace.root, "stats", "--json", "--no-plots").stdout)
    assert stats["private_data"]["hits_by_kind"]["phone"] == 1
    assert stats["private_data"]["gold_post_ids"] == ["Lcd7WqN4e"]

    assert run_cli("-w", release_workspace.root, "clean", "--gold").exit_code == 0
    result = run_cli("-w", release_workspace.root, "export", "--keep-splits", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    dev = exported(tmp_path / "out" / "dev.txt")
    text, tags = dev["Lcd7WqN4e"]
    original = "".join(source.tokens)
    assert tags == source.tags and len(text) == len(original)
    start = original.index("18076315634")
    assert text == original[:start] + "*" * 11 + original[start + 11 :]
    assert all(tag == "O" for tag in tags[start : start + 11])
    for split in ("train", "dev"):
        assert [(post_id, hit.value) for post_id, (text, _) in exported(tmp_path / "out" / f"{split}.txt").items()
                for hit in find_pii(text)] == []
