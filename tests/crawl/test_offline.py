"""crawl --from-archive: the bundled demo archive (and its contract with the clean stage), any-name
folders of bodies, long-text matching, pictures in the archive, re-parsing a workspace's own archive."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cmner_build.formats import read_tagged_file
from cmner_build.workspace import Workspace, init_workspace
from cmner_build.crawl.crawler import CrawlPlan
from cmner_build.crawl.run import crawl_from_archive, crawl_topics, download_pending_images
from cmner_build.crawl.settings import CrawlSettings

from tests.fake_weibo import assert_complete, build_scenario, stored

SAMPLE = Path(__file__).resolve().parents[2] / "cmner_build" / "sample"
ARCHIVE = SAMPLE / "archive"
MANIFEST = json.loads((SAMPLE / "archive_manifest.json").read_text(encoding="utf-8"))


def remove_planted_noise(text: str) -> str:
    """Exactly the noise the demo archive may add (the contract with the clean stage)."""
    text = text.replace("\u200b", "")
    text = re.sub(r"(?<=[。！？])\[[^\[\]]{1,8}\]", "", text)
    return re.sub(r" 网页链接$", "", text)


def sample_texts() -> dict[str, str]:
    return {doc.doc_id: "".join(doc.tokens) for doc in read_tagged_file(SAMPLE / "sample.txt", "cmner").documents}


def test_demo_archive_gives_the_sample_posts_plus_the_planted_extras(workspace: Workspace) -> None:
    summary = crawl_from_archive(workspace, ARCHIVE)
    got = stored(workspace)
    texts = sample_texts()
    extras = MANIFEST["extras"]
    expected = MANIFEST["expected_after_crawl"]
    assert got["kept"] == set(texts) | {extras[k]["post_id"] for k in ("too_long", "phone", "duplicate_image")}
    assert got["dropped"] == {extras["repost"]["post_id"]: "repost", extras["no_images"]["post_id"]: "no_images"}
    assert len(got["kept"]) == expected["crawled"]
    topics = json.loads((SAMPLE / "sample_topics.json").read_text(encoding="utf-8"))
    for post_id, text in texts.items():
        row = got["posts"][post_id]
        assert remove_planted_noise(row["text"]) == text, post_id
        assert row["topic"] == topics[post_id] and row["status"] == "crawled" and row["source"] == "crawl"
        assert ("\u200b" in row["text"]) == (post_id in MANIFEST["noise"]["zero_width"])
        assert row["text"].endswith(" 网页链接") == (post_id in MANIFEST["noise"]["web_link"])
        assert row["posted_at"].startswith("2024-06") and row["user_id"]
    assert all(len(MANIFEST["noise"][kind]) >= 10 for kind in ("zero_width", "emoticon", "web_link"))
    assert summary.long_texts == 2 and set(MANIFEST["long_text"]) == {"by_id", "by_content"}
    assert summary.pages == 10 and summary.files_read == 12 and not summary.files_skipped
    # every picture downloaded from the archive, byte-identical to the sample's
    images = got["images"]
    assert len(images) == expected["images_downloaded"] and {i["status"] for i in images} == {"downloaded"}
    for image in images:
        if image["post_id"] in texts:
            assert (workspace.images_dir / image["file_name"]).read_bytes() == (
                SAMPLE / "images" / image["file_name"]).read_bytes()
    duplicate = extras["duplicate_image"]
    assert (workspace.images_dir / f"{duplicate['post_id']}_0.jpg").read_bytes() == (
        SAMPLE / "images" / duplicate["duplicates"]).read_bytes()
    assert len(got["posts"][extras["too_long"]["post_id"]]["text"]) > 250 and summary.over_max_chars == 1
    assert "13812345678" in got["posts"][extras["phone"]["post_id"]]["text"]
    assert json.loads(got["posts"][extras["phone"]["post_id"]]["meta"])["container"] == "topic"
    # re-reading changes nothing
    again = crawl_from_archive(workspace, ARCHIVE)
    assert again.posts_kept == 0 and again.already_stored == 65 and stored(workspace)["kept"] == got["kept"]


def test_without_the_index_bodies_are_recognised_by_content(workspace: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "bodies"
    shutil.copytree(ARCHIVE, copy)
    (copy / "index.jsonl").unlink()
    for number, path in enumerate(sorted((copy / "getindex").iterdir())):
        path.rename(copy / f"response ({number})")  # any names, any folder
    (copy / "notes.txt").write_text("not a response", encoding="utf-8")
    (copy / "captcha.json").write_text('{"url": "https://security.weibo.com/captcha"}', encoding="utf-8")
    (copy / "busy.json").write_text('{"ok": 0, "msg": "请求过于频繁"}', encoding="utf-8")
    summary = crawl_from_archive(workspace, copy)
    assert summary.posts_kept == MANIFEST["expected_after_crawl"]["crawled"] and summary.long_texts == 2
    assert dict(summary.files_skipped) == {"not_json": 1, "captcha": 1, "error_reply": 1}


def test_topic_option_filters_and_names_unlabelled_bodies(workspace: Workspace, tmp_path: Path) -> None:
    summary = crawl_from_archive(workspace, ARCHIVE, topic="旅游")
    assert summary.topics == ["旅游"] and summary.files_skipped["other_topic"] == 6
    assert {row[0] for row in workspace.store.query("SELECT DISTINCT topic FROM posts")} == {"旅游"}
    # a body whose URL and containerid name no topic: only --topic can place it
    scenario = build_scenario("体育", posts=8, search_posts=0)
    body = scenario.site.index_reply({"containerid": ["231522type=1&t=10&q=#体育#"], "page": ["2"]})
    body["data"]["cardlistInfo"]["containerid"] = "1076031234"
    folder = tmp_path / "timeline"
    folder.mkdir()
    (folder / "page.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    skipped = crawl_from_archive(workspace, folder)
    assert skipped.files_skipped["unknown_topic"] == 1 and skipped.posts_seen == 0
    placed = crawl_from_archive(workspace, folder, topic="体育")
    assert placed.posts_kept == 2 and placed.dropped == {"no_images": 1, "deleted": 1}
    assert placed.images_found == 3 and placed.images_downloaded == 0  # no bytes in that folder: pending
    assert placed.images_pending == 3


def test_long_text_by_truncated_text_and_missing_long_text(workspace: Workspace, tmp_path: Path) -> None:
    scenario = build_scenario("体育", posts=4, search_posts=0)
    body = scenario.site.index_reply({"containerid": ["231522type=1&t=10&q=#体育#"]})
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "page.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    missing = crawl_from_archive(workspace, folder)
    assert missing.skipped["long_text_missing"] == 1 and missing.posts_kept == 2
    long_html = next(iter(scenario.site.long_texts.values()))
    (folder / "extend.json").write_text(json.dumps({"ok": 1, "data": {"ok": 1, "longTextContent": long_html}},
                                                   ensure_ascii=False), encoding="utf-8")
    found = crawl_from_archive(workspace, folder)
    assert found.long_texts == 1 and found.posts_kept == 1 and found.already_stored == 3
    assert workspace.store.scalar("SELECT text FROM posts WHERE post_id = ?", (next(iter(scenario.texts)),)) == (
        next(iter(scenario.texts.values())))


def test_own_archive_rebuilds_the_same_store_offline(workspace: Workspace, tmp_path: Path) -> None:
    scenario = build_scenario()
    scenario.site.start()
    try:
        settings = CrawlSettings(delay=0, jitter=0, image_delay=0, backoff_base=0.001, backoff_cap=0.01,
                                 timeout=0.5, api_base=scenario.site.base_url, image_base=scenario.site.image_base)
        crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=settings)
    finally:
        scenario.site.stop()
    fresh, _ = init_workspace(tmp_path / "fresh")
    try:
        summary = crawl_from_archive(fresh, workspace.archive_dir)
        assert_complete(fresh, scenario)
        assert summary.detail_pages == 1 and summary.long_texts == 1
        assert summary.files_skipped == {}
        original, rebuilt = stored(workspace)["posts"], stored(fresh)["posts"]
        assert {k: v["text"] for k, v in original.items()} == {k: v["text"] for k, v in rebuilt.items()}
        assert {k: v["posted_at"] for k, v in original.items()} == {k: v["posted_at"] for k, v in rebuilt.items()}
    finally:
        fresh.close()


def test_pending_pictures_are_fetched_by_download_images(workspace: Workspace, tmp_path: Path) -> None:
    scenario = build_scenario()
    folder = tmp_path / "pages"
    folder.mkdir()
    for name, containerid, cursor in (("t1", "231522type=1&t=10&q=#体育#", {"page": ["1"]}),
                                      ("t2", "231522type=1&t=10&q=#体育#", {"page": ["2"]}),
                                      ("t3", "231522type=1&t=10&q=#体育#", {"page": ["3"]}),
                                      ("s1", "100103type=1&q=#体育#", {}),
                                      ("s2", "100103type=1&q=#体育#", {"since_id": ["1000004"]}),
                                      ("s3", "100103type=1&q=#体育#", {"since_id": ["1000008"]})):
        body = scenario.site.index_reply({"containerid": [containerid], **cursor})
        (folder / f"{name}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    for mid, long_html in scenario.site.long_texts.items():
        (folder / f"extend_{mid}.json").write_text(
            json.dumps({"ok": 1, "data": {"longTextContent": long_html}}, ensure_ascii=False), encoding="utf-8")
    for mid, status in scenario.site.details.items():
        render = json.dumps([{"status": status}], ensure_ascii=False)
        (folder / f"detail-{mid}.html").write_text(f"var $render_data = {render}[0] || {{}};", encoding="utf-8")
    summary = crawl_from_archive(workspace, folder)
    assert summary.images_pending == sum(scenario.eligible.values()) and summary.detail_pages == 1
    scenario.site.start()
    try:
        settings = CrawlSettings(delay=0, jitter=0, image_delay=0, timeout=0.5, api_base=scenario.site.base_url,
                                 image_base=scenario.site.image_base)
        fetched = download_pending_images(workspace, settings=settings)
    finally:
        scenario.site.stop()
    assert fetched.images_downloaded == sum(scenario.eligible.values()) and fetched.images_pending == 0
    assert_complete(workspace, scenario)


def test_missing_folder_is_a_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    from cmner_build.errors import FormatError

    with pytest.raises(FormatError, match="archive folder not found"):
        crawl_from_archive(workspace, tmp_path / "nope")


def test_real_responses_from_an_archive_folder(workspace: Workspace, shared_data: Path, tmp_path: Path) -> None:
    """The saved real timelines, end reply, long text and 2019 JS dump, read as an archive folder."""
    source = shared_data / "weibo"
    if not source.is_dir():
        pytest.skip(f"{source} is absent")
    folder = tmp_path / "real"
    shutil.copytree(source, folder)  # a temporary copy: real data never enters the repository
    summary = crawl_from_archive(workspace, folder, topic="测试")
    got = stored(workspace)
    assert got["kept"] == {"Kk8Ont6Jh", "KjOcn14sr", "KjGwDCBjI", "Knl25vKYu", "Knkbyh71n", "Kng8wpl7B", "KnffP5Y8g"}
    assert got["dropped"] == {
        "Kjc77D1jz": "no_images", "KktFEsjrO": "repost", "KnowibLCw": "repost", "KnnJ8tlW7": "no_images",
        "Knn3NF6lj": "no_images", "Knmy7hCyD": "no_images", "KnmcRCcUr": "no_images", "Kneglf4f0": "no_images",
    }
    # five long posts of the 2021 timeline and the pinned one have no statuses/extend body in the folder
    assert summary.skipped == {"long_text_missing": 6}
    assert summary.files_read == 4 and summary.files_skipped == {"not_json": 1} and summary.pages == 3
    assert summary.images_found == summary.images_pending == 1 + 1 + 4 + 2 + 2 + 1 + 9
    meta = json.loads(got["posts"]["KnffP5Y8g"]["meta"])
    assert (meta["pic_num"], meta["images_missing"], meta["mid"]) == (13, 4, "4655401851422792")
    assert got["posts"]["KjGwDCBjI"]["posted_at"] == "2021-06-11T15:00:20+08:00"
    assert {row["topic"] for row in got["posts"].values()} == {"测试"}
