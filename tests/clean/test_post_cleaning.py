"""The clean stage over a real store: records, dry runs, re-runs, rule changes, drops and duplicate groups."""

from __future__ import annotations

import json

import pytest

from cmner_build.clean.schema import MIGRATIONS
from cmner_build.clean.settings import CleanOptions
from cmner_build.clean.post_cleaning import clean_corpus
from cmner_build.config import load_settings
from cmner_build.workspace import Workspace

from tests.clean_helpers import add_post, snapshot
from tests.helpers import AT_069, HUREN_A, HUREN_B

NOISY = "赛后张伟表示，\u200b球队表现得非常出色！[赞]#体育# 网页链接"
CLEAN = "赛后张伟表示，球队表现得非常出色！#体育#"


def options_for(workspace: Workspace, setting: str = "") -> CleanOptions:
    """Options from cmner.toml, after replacing the default line of one [clean] key: 'key = value'."""
    if setting:
        key = setting.split("=")[0].strip()
        lines = workspace.config_path.read_text(encoding="utf-8").splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines[index] = setting
        workspace.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return CleanOptions.from_settings(load_settings(workspace.config_path), workspace.root)


def rewrite_clean_rules(workspace: Workspace, rules_toml: str) -> CleanOptions:
    """Replace whatever [[clean.rules]] were appended before with these."""
    config = workspace.config_path.read_text(encoding="utf-8").split("\n# -- test rules --\n")[0]
    workspace.config_path.write_text(config + "\n# -- test rules --\n" + rules_toml, encoding="utf-8")
    return options_for(workspace)


def post_row(workspace: Workspace, post_id: str) -> dict:
    row = workspace.store.query("SELECT * FROM posts WHERE post_id = ?", (post_id,))[0]
    return dict(row)


def rule_hits(workspace: Workspace, post_id: str) -> dict[str, int]:
    rows = workspace.store.query("SELECT rule, hits FROM clean_rule_hits WHERE post_id = ?", (post_id,))
    return {row["rule"]: row["hits"] for row in rows}


def test_clean_records_text_status_and_rules(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", NOISY)
    add_post(store, "P2", "手机13812345678，欢迎来电 http://t.cn/A6xYz12")
    add_post(store, "P3", "已经干净的一条微博。#旅游#")
    report = clean_corpus(store, options_for(workspace))
    assert post_row(workspace, "P1")["text"] == CLEAN
    assert post_row(workspace, "P1")["original_text"] == NOISY
    assert post_row(workspace, "P2")["text"] == "手机<PHONE>，欢迎来电"
    assert {post_id: post_row(workspace, post_id)["status"] for post_id in ("P1", "P2", "P3")} == {
        "P1": "cleaned", "P2": "cleaned", "P3": "cleaned"
    }
    assert rule_hits(workspace, "P1") == {"zero-width": 1, "emoticons": 1, "web-link-label": 1}
    assert rule_hits(workspace, "P2") == {"links": 1, "pii:phone": 1}
    assert rule_hits(workspace, "P3") == {}
    assert report.rules["zero-width"] == {"posts": 1, "changes": 1}
    assert report.rules["pii:phone"] == {"posts": 1, "changes": 1}
    assert report.posts_changed == 3 and report.texts_changed == 2
    assert report.statuses == {"cleaned": 3}


def test_second_run_changes_nothing(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", NOISY)
    add_post(store, "P2", "手机13812345678")
    options = options_for(workspace)
    clean_corpus(store, options)
    events = store.scalar("SELECT COUNT(*) FROM events")
    before = snapshot(store)
    report = clean_corpus(store, options)
    assert report.posts_changed == 0
    assert snapshot(store) == before
    assert store.scalar("SELECT COUNT(*) FROM events") == events  # not even an event: nothing happened


def test_dry_run_writes_nothing_and_shows_samples(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", NOISY)
    add_post(store, "P2", "砍死你！")
    options = options_for(workspace)
    clean_corpus(store, options, dry_run=True)  # writes nothing, not even the stage's tables
    assert store.pending_migrations(MIGRATIONS) == ["clean/0001_clean_posts"]
    before = snapshot(store)
    report = clean_corpus(store, options, dry_run=True, samples=10)
    assert snapshot(store) == before
    assert post_row(workspace, "P1")["status"] == "crawled"
    assert report.dry_run and report.posts_changed == 2
    assert report.dropped == {"unfit:violence": 1}
    assert report.samples[0] == {
        "post_id": "P1", "before": NOISY, "after": CLEAN,
        "rules": {"zero-width": 1, "emoticons": 1, "web-link-label": 1}, "drop_reason": None,
    }
    assert [sample["post_id"] for sample in report.samples] == ["P1", "P2"]


def test_changed_rule_is_applied_from_the_original_text(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", "今天去了西湖 ——来自iPhone客户端[哈哈]")
    options = options_for(workspace)
    clean_corpus(store, options)
    assert post_row(workspace, "P1")["text"] == "今天去了西湖 ——来自iPhone客户端"
    options = rewrite_clean_rules(workspace, '[[clean.rules]]\nname = "signature"\npattern = "——来自.*$"\n')
    report = clean_corpus(store, options)
    assert report.posts_changed == 1
    assert post_row(workspace, "P1")["text"] == "今天去了西湖"
    assert rule_hits(workspace, "P1") == {"emoticons": 1, "signature": 1, "trim": 1}
    # Switch the emoticon rule off: the emoticon comes back, from the original text.
    options = rewrite_clean_rules(
        workspace,
        '[[clean.rules]]\nname = "signature"\npattern = "——来自.*$"\n\n[[clean.rules]]\nname = "emoticons"\nenabled = false\n',
    )
    clean_corpus(store, options)
    assert post_row(workspace, "P1")["text"] == "今天去了西湖"
    options = rewrite_clean_rules(workspace, '[[clean.rules]]\nname = "emoticons"\nenabled = false\n')
    clean_corpus(store, options)
    assert post_row(workspace, "P1")["text"] == "今天去了西湖 ——来自iPhone客户端[哈哈]"
    assert rule_hits(workspace, "P1") == {}


def test_posts_pushed_to_annotation_are_never_modified_but_reported(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", "今天去了西湖[哈哈]")
    add_post(store, "G1", "导入的金标准[哈哈]", status="gold", source="import:cmner")
    clean_corpus(store, options_for(workspace))
    store.set_status("P1", "annotating")
    before = snapshot(store)
    options = rewrite_clean_rules(workspace, '[[clean.rules]]\nname = "emoticons"\nenabled = false\n')
    report = clean_corpus(store, options)
    assert report.frozen_would_change == ["P1"]  # G1 was never cleaned: not reported
    assert report.posts_in_scope == 0
    assert snapshot(store)["posts"] == before["posts"]
    assert post_row(workspace, "P1")["text"] == "今天去了西湖"


def test_drops_unfit_too_long_and_empty_with_reasons(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "UNFIT", "再吵我就砍死你，还有黑鬼滚开")
    add_post(store, "LONG", "好" * 251)
    add_post(store, "FITS", "好" * 250 + "[哈哈] 网页链接")  # over 250 only before cleaning
    add_post(store, "EMPTY", "[哈哈][赞] 网页链接")
    report = clean_corpus(store, options_for(workspace))
    reasons = {row["post_id"]: (row["status"], row["drop_reason"]) for row in store.query("SELECT * FROM posts")}
    assert reasons == {
        "UNFIT": ("dropped", "unfit:discrimination"),  # tie on one term each: alphabetical category
        "LONG": ("dropped", "too_long"),
        "FITS": ("cleaned", None),
        "EMPTY": ("dropped", "empty"),
    }
    terms = json.loads(store.scalar("SELECT unfit_terms FROM clean_posts WHERE post_id = 'UNFIT'"))
    assert terms == {"discrimination": ["黑鬼"], "violence": ["砍死你"]}
    assert report.dropped == {"unfit:discrimination": 1, "too_long": 1, "empty": 1}


def test_own_drops_are_restored_when_the_settings_change(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "UNFIT", "再吵我就砍死你")
    add_post(store, "OTHER", "别的阶段丢掉的")
    clean_corpus(store, options_for(workspace))
    store.set_status("OTHER", "dropped", "no_usable_image")  # dropped by another stage: not ours to undo
    assert post_row(workspace, "UNFIT")["drop_reason"] == "unfit:violence"
    report = clean_corpus(store, options_for(workspace, "default_lexicon = false"))
    assert report.restored == ["UNFIT"]
    assert (post_row(workspace, "UNFIT")["status"], post_row(workspace, "UNFIT")["drop_reason"]) == ("cleaned", None)
    assert post_row(workspace, "OTHER")["drop_reason"] == "no_usable_image"


def test_ready_posts_are_recleaned_and_stay_ready(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "R1", "西湖真美[哈哈]")
    clean_corpus(store, options_for(workspace))
    store.set_status("R1", "ready")
    options = rewrite_clean_rules(workspace, '[[clean.rules]]\nname = "emoticons"\nenabled = false\n')
    clean_corpus(store, options)
    assert (post_row(workspace, "R1")["status"], post_row(workspace, "R1")["text"]) == ("ready", "西湖真美[哈哈]")


def test_user_lexicon_from_settings(workspace: Workspace) -> None:
    (workspace.root / "mine.tsv").write_text("网络赌博\tgambling\n", encoding="utf-8")
    add_post(workspace.store, "P1", "快来网络赌博")
    clean_corpus(workspace.store, options_for(workspace, 'lexicons = ["mine.tsv"]'))
    assert post_row(workspace, "P1")["drop_reason"] == "unfit:gambling"


def test_near_duplicates_are_grouped_and_optionally_dropped(workspace: Workspace) -> None:
    store = workspace.store
    base = "今天的比赛太精彩了，刘洋最后时刻的进球让全场沸腾。赛后张伟表示球队表现得非常出色！#体育#"
    add_post(store, "A1", base)
    add_post(store, "A2", base + "[哈哈] 网页链接")  # identical after cleaning
    add_post(store, "A3", base.replace("非常出色", "很出色"))  # near-identical
    add_post(store, "B1", "周末去了杭州，在西湖边逛了一整天，风景太美了，推荐大家去看看。#旅游#")
    add_post(store, "G1", "周末去了杭州，在西湖边逛了一整天，风景太美了，推荐大家去看看。#旅游#", status="gold")
    options = options_for(workspace)
    report = clean_corpus(store, options)
    groups = {row["post_id"]: row["dup_group"] for row in store.query("SELECT post_id, dup_group FROM posts")}
    assert groups == {"A1": "A1", "A2": "A1", "A3": "A1", "B1": "B1", "G1": None}  # gold rows are not written
    assert (report.duplicate_groups, report.posts_in_duplicate_groups) == (2, 5)
    assert report.dropped == {}
    options.keep_one_per_group = True
    report = clean_corpus(store, options)
    dropped = {row["post_id"]: row["drop_reason"] for row in store.query("SELECT * FROM posts WHERE status = 'dropped'")}
    assert dropped == {"A2": "near_duplicate", "A3": "near_duplicate", "B1": "near_duplicate"}  # B1 repeats gold G1
    assert post_row(workspace, "A2")["dup_group"] == "A1"
    options.keep_one_per_group = False
    report = clean_corpus(store, options)
    assert sorted(report.restored) == ["A2", "A3", "B1"]


def test_pairs_exactly_at_the_threshold_are_grouped(workspace: Workspace) -> None:
    add_post(workspace.store, "H1", HUREN_A)
    add_post(workspace.store, "H2", HUREN_B)  # Jaccard 0.70 with H1
    add_post(workspace.store, "Q1", AT_069[0])
    add_post(workspace.store, "Q2", AT_069[1])  # Jaccard 0.69: below the threshold
    clean_corpus(workspace.store, options_for(workspace))
    groups = dict(workspace.store.query("SELECT post_id, dup_group FROM posts"))
    assert groups == {"H1": "H1", "H2": "H1", "Q1": None, "Q2": None}


def test_redaction_kinds_from_settings(workspace: Workspace) -> None:
    add_post(workspace.store, "P1", "手机13812345678 邮箱abc@qq.com")
    clean_corpus(workspace.store, options_for(workspace, 'redact = ["email"]'))
    assert post_row(workspace, "P1")["text"] == "手机13812345678 邮箱<EMAIL>"


@pytest.mark.parametrize(
    "config, message",
    [
        ('redact = ["phone", "passport"]', "clean.redact: unknown kind(s) ['passport']"),
        ('lexicons = ["nope.tsv"]', "clean.lexicons[0]: lexicon file"),
        ('keep_one_per_group = "yes"', "clean.keep_one_per_group must be true or false"),
    ],
)
def test_bad_settings_are_reported_by_name(workspace: Workspace, config: str, message: str) -> None:
    from cmner_build.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        options_for(workspace, config)
    assert str(caught.value).startswith(str(workspace.config_path))
    assert message in str(caught.value)


def test_private_data_is_redacted_before_a_text_rule_can_disguise_it(workspace: Workspace) -> None:
    store = workspace.store
    add_post(store, "P1", "有事发邮件zhang[at]qq.com[哈哈]，或加ＱＱ：１２３４５６７８９")
    add_post(store, "P2", "电话138\u200b1234\u200b5678[赞]")  # takes shape once zero-width characters are gone
    report = clean_corpus(store, options_for(workspace))
    texts = dict(store.query("SELECT post_id, text FROM posts"))
    assert texts["P1"] == "有事发邮件<EMAIL>，或加ＱＱ：<QQ>"
    assert texts["P2"] == "电话<PHONE>"
    assert report.rules["pii:email"] == {"posts": 1, "changes": 1}
    assert report.rules["pii:phone"] == {"posts": 1, "changes": 1}
