"""`cmner-build clean` and `images` from the command line, on a workspace shaped like the crawl stage's output."""

from __future__ import annotations

import json
import random
import shutil

from cmner_build.commands.demo import DEMO_STEPS, sample_dir
from cmner_build.workspace import Workspace

from tests.clean_helpers import add_images, add_post, snapshot
from tests.helpers import run_cli
from tests.clean.test_text_rules import add_crawl_noise, sample_texts


def fill_like_crawl(workspace: Workspace) -> list[tuple[str, str]]:
    """Sample posts as the crawl stage stores them: noisy text, status crawled, images downloaded.

    Like the bundled archive it also holds an over-length post, a post with a phone number and a post
    whose image repeats another post's image. Returns (post id, expected clean text) of the sample posts.
    """
    rng = random.Random(1)
    store = workspace.store
    images = sorted((sample_dir() / "images").glob("*.jpg"))
    by_post: dict[str, list] = {}
    for path in images:
        by_post.setdefault(path.stem.split("_")[0], []).append(path)
    expected = []
    post_ids = sorted(by_post)[: len(sample_texts())]
    with store.transaction():
        for post_id, text in zip(post_ids, sample_texts()):
            add_post(store, post_id, add_crawl_noise(text, rng))
            for path in by_post[post_id]:
                shutil.copyfile(path, workspace.images_dir / path.name)
            add_images(store, post_id, [(path.name, "downloaded") for path in by_post[post_id]])
            expected.append((post_id, text))
        add_post(store, "ZLONG0001", "长" * 300 + " 网页链接")
        add_images(store, "ZLONG0001", [(by_post[post_ids[0]][0].name, "downloaded")])
        add_post(store, "ZPHONE001", "有意者请联系13812345678，周末去了杭州。#旅游#")
        shutil.copyfile(by_post[post_ids[1]][0], workspace.images_dir / "ZPHONE001_0.jpg")
        add_images(store, "ZPHONE001", [("ZPHONE001_0.jpg", "downloaded")])  # the same picture as post 2's
    return expected


def test_clean_then_images_like_the_demo(workspace: Workspace) -> None:
    expected = fill_like_crawl(workspace)
    result = run_cli("-w", workspace.root, "clean", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dropped"] == {"too_long": 1}
    assert report["rules"]["pii:phone"] == {"posts": 1, "changes": 1}
    texts = {row["post_id"]: row["text"] for row in workspace.store.query("SELECT post_id, text FROM posts")}
    for post_id, text in expected:
        assert texts[post_id] == text
    assert texts["ZPHONE001"] == "有意者请联系<PHONE>，周末去了杭州。#旅游#"

    result = run_cli("-w", workspace.root, "images", "--report", "--json")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["report"]["by_reason"] == {"duplicate_across_posts": 1}
    assert output["images"]["posts_dropped"] == {"no_usable_image": ["ZPHONE001"]}
    statuses = dict(workspace.store.query("SELECT status, COUNT(*) FROM posts GROUP BY status"))
    assert statuses == {"ready": 60, "dropped": 2}


def test_dry_run_prints_rules_and_samples_and_writes_nothing(workspace: Workspace) -> None:
    fill_like_crawl(workspace)
    run_cli("-w", workspace.root, "clean", "--dry-run")
    before = snapshot(workspace.store)
    result = run_cli("-w", workspace.root, "clean", "--dry-run", "--samples", "2")
    assert result.exit_code == 0, result.output
    assert snapshot(workspace.store) == before
    for expected in ("zero-width", "emoticons", "web-link-label", "pii:phone", "too_long", "before:", "after:",
                     "nothing written", "would be updated"):
        assert expected in result.output, expected
    assert result.output.count("before:") == 2


def database_state(workspace: Workspace) -> tuple:
    """corpus.db's bytes, modification time and tables, read through a read-only connection."""
    import hashlib
    import sqlite3

    path = workspace.db_path
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    tables = sorted(row[0] for row in reader.execute("SELECT name FROM sqlite_master"))
    reader.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, tables


def test_a_first_dry_run_creates_no_table_and_leaves_corpus_db_untouched(workspace: Workspace) -> None:
    fill_like_crawl(workspace)
    workspace.close()  # checkpoint: every row is in corpus.db itself, nothing pending in the WAL
    before = database_state(workspace)
    assert "clean_posts" not in before[2]
    for arguments in (("clean", "--dry-run"), ("clean", "--dry-run", "--json"), ("clean", "--gold", "--dry-run")):
        result = run_cli("-w", workspace.root, *arguments)
        assert result.exit_code == 0, result.output
        assert database_state(workspace) == before, arguments
    assert "would be updated" in run_cli("-w", workspace.root, "clean", "--dry-run").output
    # The dry run reports what the real run then does.
    dry = json.loads(run_cli("-w", workspace.root, "clean", "--dry-run", "--json").stdout)
    real = json.loads(run_cli("-w", workspace.root, "clean", "--json").stdout)
    assert database_state(workspace) != before
    assert {key: value for key, value in dry.items() if key != "dry_run"} == {
        key: value for key, value in real.items() if key != "dry_run"}


def test_clean_twice_reports_nothing_to_do(workspace: Workspace) -> None:
    fill_like_crawl(workspace)
    assert run_cli("-w", workspace.root, "clean").exit_code == 0
    before = snapshot(workspace.store)
    result = run_cli("-w", workspace.root, "clean")
    assert "0 post records updated (nothing to do)" in result.output
    assert snapshot(workspace.store) == before


def test_bad_rule_in_cmner_toml_is_one_clear_error_and_nothing_is_written(workspace: Workspace) -> None:
    fill_like_crawl(workspace)
    with workspace.config_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[[clean.rules]]\nname = "signature"\npattern = "——来自(.*$"\n')
    before = snapshot(workspace.store)
    result = run_cli("-w", workspace.root, "clean")
    assert result.exit_code == 2
    assert result.error.startswith(f"{workspace.config_path}: clean.rules[0] ('signature'): field 'pattern' is not a valid")
    assert snapshot(workspace.store) == before


def test_list_rules(workspace: Workspace) -> None:
    with workspace.config_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[[clean.rules]]\nname = "signature"\npattern = "——来自.*$"\n')
    result = run_cli("-w", workspace.root, "clean", "--list-rules", "--json")
    rows = json.loads(result.stdout)
    names = [row["name"] for row in rows]
    assert names[0] == "garbled" and names[-3:] == ["signature", "repeated-space", "trim"]
    assert {row["name"]: row["enabled"] for row in rows}["video-label"] is False
    table = run_cli("-w", workspace.root, "clean", "--list-rules").stdout
    assert "│ signature " in table and "cmner.toml" in table and "web-link-label" in table


def test_keep_one_per_group_flag(workspace: Workspace) -> None:
    add_post(workspace.store, "A", "周末去了杭州，在西湖边逛了一整天，风景太美了。#旅游#")
    add_post(workspace.store, "B", "周末去了杭州，在西湖边逛了一整天，风景太美了。#旅游#[哈哈]")
    result = run_cli("-w", workspace.root, "clean", "--keep-one-per-group", "--json")
    assert json.loads(result.stdout)["dropped"] == {"near_duplicate": 1}
    assert workspace.store.scalar("SELECT drop_reason FROM posts WHERE post_id = 'B'") == "near_duplicate"


def test_help_has_examples() -> None:
    for command in ("clean", "images"):
        result = run_cli(command, "--help")
        assert result.exit_code == 0 and "Example: cmner-build" in result.stdout


def test_demo_runs_clean_and_images_after_the_first_step(demo_run) -> None:
    titles = [" ".join(step.args) for step in DEMO_STEPS if not callable(step.args)]
    assert titles[1:3] == ["clean", "images --report"]
    root, result = demo_run
    assert result.exit_code == 0, result.output
    assert (root / "exports" / "images_report.html").is_file()
