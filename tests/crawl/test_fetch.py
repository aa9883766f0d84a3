"""crawl.fetch: politeness delays, back-off schedule, fault classification, against the local server."""

from __future__ import annotations

import random

import pytest

from cmner_build.crawl.crawler import validate_index
from cmner_build.crawl.fetch import CrawlBlocked, Fault, Fetcher, Gone, LoginRequired
from cmner_build.crawl.settings import CrawlSettings

from tests.fake_weibo import FakeWeibo, jpeg_bytes

INDEX = "/api/container/getIndex?containerid=100103type%3D1%26q%3D%23x%23&page_type=searchall"


@pytest.fixture
def site() -> FakeWeibo:
    server = FakeWeibo().start()
    yield server
    server.stop()


def fetcher_for(site: FakeWeibo, sleeps: list[float], **changes) -> Fetcher:
    values = dict(delay=3.0, jitter=0.0, image_delay=1.0, backoff_base=10.0, backoff_cap=45.0, max_retries=4,
                  timeout=0.3, api_base=site.base_url, image_base=site.image_base)
    values.update(changes)
    return Fetcher(CrawlSettings(**values), sleep=sleeps.append, rng=random.Random(1))


def check(reply):
    return validate_index(reply.body)[1]


def test_backoff_doubles_up_to_the_cap_then_gives_up(site: FakeWeibo) -> None:
    site.fail("getIndex", "418", "432", "500", "414", "418")
    sleeps: list[float] = []
    with fetcher_for(site, sleeps) as fetcher, pytest.raises(CrawlBlocked, match="HTTP 418 after 4 retries"):
        fetcher.api(site.base_url + INDEX, check)
    # back-offs 10, 20, 40, then the cap 45; each next request also waits out the 3 s delay, which the
    # back-off already covered (no extra sleep)
    assert sleeps == [10.0, 20.0, 40.0, 45.0]
    assert fetcher.faults == {"http_418": 2, "http_432": 1, "http_500": 1, "http_414": 1}


def test_delay_between_requests_with_jitter(site: FakeWeibo) -> None:
    sleeps: list[float] = []
    with fetcher_for(site, sleeps, jitter=2.0) as fetcher:
        for _ in range(3):
            fetcher.api(site.base_url + INDEX, check)
    assert len(sleeps) == 2 and all(3.0 - 0.2 < pause <= 5.0 for pause in sleeps)
    assert fetcher.requests == 3


def test_faults_then_success_returns_the_page(site: FakeWeibo) -> None:
    site.slow_reply = 0.6
    site.fail("getIndex", "timeout", "truncated", "captcha", "ok0", "503")
    sleeps: list[float] = []
    seen: list[str] = []
    with fetcher_for(site, sleeps, delay=0.0, max_retries=5) as fetcher:
        fetcher.on_fault = lambda url, reply, kind: seen.append(kind)
        reply, page = fetcher.api(site.base_url + INDEX, check)
    assert page.is_end_reply  # the container is unknown to the server: Weibo's "这里还没有内容"
    assert seen == ["timeout", "not_json", "captcha", "ok_0", "http_503"]
    assert reply.status == 200 and fetcher.requests == 6


def test_login_redirect_raises_at_once(site: FakeWeibo) -> None:
    site.fail("getIndex", "login")
    sleeps: list[float] = []
    with fetcher_for(site, sleeps) as fetcher, pytest.raises(LoginRequired, match=r"\$WEIBO_COOKIE"):
        fetcher.api(site.base_url + INDEX, check)
    assert sleeps == [] and fetcher.requests == 1


def test_pictures_use_the_fallback_referer_on_403_and_404_is_gone(site: FakeWeibo) -> None:
    site.images["p1"] = jpeg_bytes(1)
    sleeps: list[float] = []
    with fetcher_for(site, sleeps, image_referer="https://example.com/") as fetcher:
        reply, _ = fetcher.image(f"{site.image_base}/wx1.sinaimg.cn/large/p1.jpg", lambda r: r.body)
        assert reply.body == site.images["p1"]
        assert fetcher.faults == {"http_403": 1} and sleeps == [pytest.approx(1.0, abs=0.05)]  # no back-off, only the image delay
        with pytest.raises(Gone):
            fetcher.image(f"{site.image_base}/wx1.sinaimg.cn/large/missing.jpg", lambda r: r.body)
    referers = [h.get("Referer") for h in site.headers_seen]
    assert referers[:2] == ["https://example.com/", "https://m.weibo.cn/"]


def test_validator_faults_are_retried(site: FakeWeibo) -> None:
    calls = []

    def picky(reply):
        calls.append(1)
        if len(calls) < 3:
            raise Fault("bad_image", "truncated")
        return "fine"

    sleeps: list[float] = []
    with fetcher_for(site, sleeps, delay=0.0, backoff_base=0.5) as fetcher:
        _, value = fetcher.api(site.base_url + INDEX, picky)
    assert value == "fine" and sleeps == [0.5, 1.0]


def test_a_body_that_is_no_picture_is_retried_once_without_backoff_then_raised(site: FakeWeibo) -> None:
    from cmner_build.crawl.fetch import BadContent

    site.images["page"] = b"<!DOCTYPE html><html>blocked</html>"
    calls = []

    def picture(reply):
        calls.append(reply.status)
        raise BadContent("html_not_image", "an HTML page")

    sleeps: list[float] = []
    with fetcher_for(site, sleeps, image_delay=0.5) as fetcher, pytest.raises(BadContent, match="html_not_image"):
        fetcher.image(f"{site.image_base}/wx1.sinaimg.cn/large/page.jpg", picture)
    assert calls == [200, 200]  # one retry, and only the politeness delay before it (no back-off)
    assert sleeps and max(sleeps) <= 0.5
    assert fetcher.faults == {"bad_content:html_not_image": 2}


def test_network_failures_are_named_by_their_cause() -> None:
    import httpx

    from cmner_build.crawl.fetch import blocked_message, network_fault

    settings = CrawlSettings(max_retries=3)
    dns = network_fault("https://m.weibo.cn/x", httpx.ConnectError("[Errno -2] Name or service not known"))
    refused = network_fault("https://m.weibo.cn/x", httpx.ConnectError("[Errno 111] Connection refused"))
    assert (dns.kind, refused.kind) == ("dns", "connection_refused")
    assert "could not resolve host m.weibo.cn" in blocked_message("https://m.weibo.cn/x", dns, settings)
    assert "connection refused by m.weibo.cn" in blocked_message("https://m.weibo.cn/x", refused, settings)
    assert "throttling" not in blocked_message("https://m.weibo.cn/x", dns, settings)
    assert "HTTP 502" in blocked_message("https://m.weibo.cn/x", Fault("http_502"), settings)
    assert "captcha" in blocked_message("https://m.weibo.cn/x", Fault("captcha"), settings)
