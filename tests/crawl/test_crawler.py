"""The online crawl against a local server that plays Weibo: what lands in the store, faults, resume."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cmner_build.workspace import Workspace
from cmner_build.crawl.crawler import CrawlPlan
from cmner_build.crawl.fetch import CrawlBlocked, LoginRequired
from cmner_build.crawl.run import crawl_topics, download_pending_images
from cmner_build.crawl.settings import CrawlSettings

from tests.fake_weibo import Scenario, assert_complete, scenario, stored  # noqa: F401 - scenario is a fixture


def fast_settings(scenario: Scenario, **changes) -> CrawlSettings:
    values = dict(delay=0.0, jitter=0.0, image_delay=0.0, backoff_base=0.001, backoff_cap=0.01, max_retries=3,
                  timeout=0.3, api_base=scenario.site.base_url, image_base=scenario.site.image_base)
    values.update(changes)
    return CrawlSettings(**values)


def test_full_crawl_stores_exactly_the_eligible_posts(workspace: Workspace, scenario: Scenario) -> None:
    summary = crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario))
    assert_complete(workspace, scenario)
    posts = stored(workspace)["posts"]
    for post_id, text in scenario.texts.items():
        assert posts[post_id]["text"] == text == posts[post_id]["original_text"]
    long_post = posts[next(iter(scenario.texts))]
    meta = json.loads(long_post["meta"])
    assert meta["is_long_text"] is True and meta["container"] == "topic" and meta["bid"] == long_post["post_id"]
    assert long_post["topic"] == "体育" and long_post["source"] == "crawl"
    assert long_post["posted_at"] == "2024-06-02T10:02:00+08:00"
    assert meta["chars"] == len(long_post["text"]) and meta["comments_count"] == 12000
    thirteen = [pid for pid, count in scenario.eligible.items() if count == 13]
    assert len(thirteen) == 1 and json.loads(posts[thirteen[0]]["meta"])["pic_num"] == 13
    assert summary.posts_kept == len(scenario.eligible) and summary.already_stored == 3
    assert dict(summary.dropped) == {"repost": 1, "no_images": 1, "deleted": 1}
    assert (summary.long_texts, summary.detail_pages, summary.pages) == (1, 1, 6)
    assert summary.images_downloaded == summary.images_found == sum(scenario.eligible.values())
    assert summary.queries == {"体育/topic": "done (last_page)", "体育/search": "done (last_page)"}
    # one request per page, long text, detail page and picture: nothing asked twice
    assert max(scenario.site.served.values()) == 1
    assert summary.requests == 6 + 1 + 1 + sum(scenario.eligible.values())


def test_paging_modes_and_layouts_are_followed(workspace: Workspace, scenario: Scenario) -> None:
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario))
    rows = workspace.store.query("SELECT container, paging, pages_done, done, end_reason FROM crawl_queries ORDER BY container")
    assert [tuple(row) for row in rows] == [("search", "since_id", 3, 1, "last_page"), ("topic", "page", 3, 1, "last_page")]
    urls = [row["url"] for row in workspace.store.query("SELECT url FROM crawl_requests WHERE kind = 'index' ORDER BY request_id")]
    assert [url.rsplit("page_type=searchall", 1)[1] for url in urls] == [
        "", "&page=2", "&page=3", "", "&since_id=1000004", "&since_id=1000008"]


def test_archive_records_every_body_with_its_url(workspace: Workspace, scenario: Scenario) -> None:
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario))
    lines = [json.loads(line) for line in (workspace.archive_dir / "index.jsonl").read_text("utf-8").splitlines()]
    assert [line["kind"] for line in lines].count("index") == 6
    assert [line["kind"] for line in lines].count("extend") == 1 and [line["kind"] for line in lines].count("detail") == 1
    for line in lines:
        assert (workspace.archive_dir / line["file"]).is_file() and line["url"].startswith(scenario.site.base_url)
    assert len(list((workspace.archive_dir / "images").iterdir())) == sum(scenario.eligible.values())
    logged = workspace.store.scalar("SELECT COUNT(*) FROM crawl_requests WHERE archive_file IS NOT NULL")
    assert logged == 6 + 1 + 1 + sum(scenario.eligible.values())


def test_faults_are_retried_and_never_taken_for_the_end(workspace: Workspace, scenario: Scenario) -> None:
    site = scenario.site
    site.slow_reply = 0.6
    site.fail("q=#体育#&page_type=searchall&page=2", "418", "432", "500", "timeout", "truncated", "captcha", "ok0")
    site.fail("/statuses/extend", "503", "truncated")
    site.fail("/detail/", "captcha")
    site.fail("/img/", "500", "414")
    summary = crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario, max_retries=8))
    assert_complete(workspace, scenario)
    assert dict(summary.faults) == {
        "http_418": 1, "http_432": 1, "http_500": 2, "timeout": 1, "not_json": 2, "captcha": 2, "ok_0": 1,
        "http_503": 1, "http_414": 1,
    }
    logged = dict(workspace.store.query(
        "SELECT outcome, COUNT(*) FROM crawl_requests WHERE outcome LIKE 'fault:%' GROUP BY outcome"))
    assert sum(logged.values()) == sum(summary.faults.values())
    assert len(list((workspace.archive_dir / "faults").rglob("*.txt"))) == sum(summary.faults.values()) - 1  # timeout: no body


def test_login_redirect_stops_and_the_same_command_resumes(workspace: Workspace, scenario: Scenario) -> None:
    scenario.site.fail("&since_id=1000004", "login")
    with pytest.raises(LoginRequired) as stopped:
        crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario))
    message = str(stopped.value)
    assert "$WEIBO_COOKIE" in message and "passport.weibo.com" in message and "resumes" in message
    partial = stopped.value.summary
    assert partial.queries["体育/topic"] == "done (last_page)" and partial.posts_kept > 0
    before = stored(workspace)["kept"]
    assert before and before < set(scenario.eligible)
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario))
    assert_complete(workspace, scenario)
    assert max(scenario.site.served.values()) == 1  # nothing answered before was asked again


def test_persistent_faults_stop_after_max_retries(workspace: Workspace, scenario: Scenario) -> None:
    scenario.site.fail("q=#体育#&page_type=searchall&page=3", *["418"] * 3)
    with pytest.raises(CrawlBlocked, match="HTTP 418 after 2 retries: Weibo is throttling"):
        crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario, max_retries=2))
    state = workspace.store.query("SELECT next_page, done FROM crawl_queries WHERE container = 'topic'")[0]
    assert tuple(state) == (3, 0)  # an error is not the end: page 3 is still to do
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=fast_settings(scenario, max_retries=2))
    assert_complete(workspace, scenario)


def test_limit_and_pages_are_totals_that_a_later_run_extends(workspace: Workspace, scenario: Scenario) -> None:
    settings = fast_settings(scenario)
    summary = crawl_topics(workspace, CrawlPlan(topics=["体育"], limit=4), settings=settings)
    assert len(stored(workspace)["kept"]) == 4 and summary.stopped_by == "limit"
    again = crawl_topics(workspace, CrawlPlan(topics=["体育"], limit=4), settings=settings)
    assert again.posts_kept == 0 and again.requests == 0
    crawl_topics(workspace, CrawlPlan(topics=["体育"], pages=1, containers=("topic",)), settings=settings)
    assert workspace.store.scalar("SELECT pages_done FROM crawl_queries WHERE container = 'topic'") == 1
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=settings)
    assert_complete(workspace, scenario)
    assert max(scenario.site.served.values()) == 1


def test_restart_reads_from_the_first_page_without_duplicating(workspace: Workspace, scenario: Scenario) -> None:
    settings = fast_settings(scenario)
    crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=settings)
    nothing = crawl_topics(workspace, CrawlPlan(topics=["体育"]), settings=settings)
    assert nothing.requests == 0 and nothing.pages == 0
    again = crawl_topics(workspace, CrawlPlan(topics=["体育"], restart=True), settings=settings)
    assert again.pages == 6 and again.posts_kept == 0 and again.already_stored == 21
    assert_complete(workspace, scenario)


def test_date_range_skips_posts_outside_it(workspace: Workspace, scenario: Scenario) -> None:
    plan = CrawlPlan(topics=["体育"], since=date(2024, 6, 3), until=date(2024, 6, 8), containers=("topic",))
    summary = crawl_topics(workspace, plan, settings=fast_settings(scenario))
    days = sorted(row["posted_at"][:10] for row in workspace.store.query("SELECT posted_at FROM posts"))
    assert days and all("2024-06-03" <= day <= "2024-06-08" for day in days)
    assert summary.skipped["outside_dates"] == 12 - len(days)


def test_cookie_is_sent_but_never_stored(workspace: Workspace, scenario: Scenario) -> None:
    secret = "SUB=_2A25secret-cookie-value; SUBP=0033"
    crawl_topics(workspace, CrawlPlan(topics=["体育"], containers=("topic",)), settings=fast_settings(scenario),
                 environ={"WEIBO_COOKIE": secret})
    api_headers = [h for h in scenario.site.headers_seen if h.get("X-Requested-With")]
    assert api_headers and all(h.get("Cookie") == secret for h in api_headers)
    workspace.close()
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert b"secret-cookie" not in path.read_bytes(), path


def test_pictures_need_a_referer_and_404s_are_recorded(workspace: Workspace, scenario: Scenario) -> None:
    gone = next(pid for pid in scenario.site.images if pid.endswith("x00"))
    del scenario.site.images[gone]
    settings = fast_settings(scenario, image_referer="https://example.com/")  # 403: the fallback Referer works
    summary = crawl_topics(workspace, CrawlPlan(topics=["体育"], containers=("topic",)), settings=settings)
    assert summary.faults["http_403"] == summary.images_found  # each picture: once refused, then fetched
    rows = workspace.store.query("SELECT status, drop_reason FROM images WHERE url LIKE ?", (f"%{gone}%",))
    assert [tuple(row) for row in rows] == [("dropped", "http_404")]
    assert summary.images_failed == 1 and summary.images_downloaded == summary.images_found - 1


def test_no_images_then_download_images(workspace: Workspace, scenario: Scenario) -> None:
    settings = fast_settings(scenario)
    crawl_topics(workspace, CrawlPlan(topics=["体育"], download_images=False), settings=settings)
    statuses = {row[0] for row in workspace.store.query("SELECT status FROM images")}
    assert statuses == {"pending"} and not any(workspace.images_dir.iterdir())
    summary = download_pending_images(workspace, settings=settings)
    assert summary.images_downloaded == sum(scenario.eligible.values())
    assert_complete(workspace, scenario)


def test_a_picture_written_before_a_kill_is_adopted_without_a_request(
    workspace: Workspace, scenario: Scenario
) -> None:
    settings = fast_settings(scenario)
    crawl_topics(workspace, CrawlPlan(topics=["体育"], download_images=False), settings=settings)
    row = workspace.store.query("SELECT post_id, position, url FROM images ORDER BY image_id LIMIT 1")[0]
    (workspace.images_dir / f"{row['post_id']}_{row['position']}.jpg").write_bytes(
        scenario.image_bytes[(row["post_id"], row["position"])])
    (workspace.images_dir / "broken_0.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    download_pending_images(workspace, settings=settings)
    assert scenario.site.served[f"/img/{row['url'].split('://', 1)[1]}"] == 0
    (workspace.images_dir / "broken_0.jpg").unlink()
    assert_complete(workspace, scenario)
