"""Crawl benchmark: the crawler must never be the bottleneck next to the politeness delay.

Measures, against a local server that plays Weibo (no delay, no back-off):
  * parse throughput: getIndex pages per second, fetched + parsed + stored (pictures off), and pure
    parsing of a recorded page (no network, no store);
  * the store's write cost per post (post row, 3 picture rows, dedupe row, one transaction);
  * crawler time per page (pictures on) against the default delay between requests.
Target: crawler time per request <= 5 % of the default politeness delay (delay + jitter / 2).

    python benchmarks/bench_crawl.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cmner_build.config import default_settings  # noqa: E402
from cmner_build.workspace import init_workspace  # noqa: E402
from cmner_build.crawl.crawler import CrawlPlan  # noqa: E402
from cmner_build.crawl.parse import parse_index, parse_mblog  # noqa: E402
from cmner_build.crawl.record import record_post  # noqa: E402
from cmner_build.crawl.run import crawl_topics  # noqa: E402
from cmner_build.crawl.settings import CrawlSettings, crawl_settings  # noqa: E402
from cmner_build.crawl.state import migrate  # noqa: E402
from tests.fake_weibo import build_scenario  # noqa: E402

TARGET_SHARE = 0.05


def timed_crawl(root: Path, images: bool) -> tuple[float, int, int]:
    scenario = build_scenario(posts=300, search_posts=200, seed=3, page_size=10)
    scenario.site.start()
    try:
        workspace, _ = init_workspace(root)
        settings = CrawlSettings(delay=0, jitter=0, image_delay=0, timeout=5, api_base=scenario.site.base_url,
                                 image_base=scenario.site.image_base)
        started = time.perf_counter()
        summary = crawl_topics(workspace, CrawlPlan(topics=["体育"], download_images=images), settings=settings)
        elapsed = time.perf_counter() - started
        workspace.close()
        return elapsed, summary.pages, summary.requests
    finally:
        scenario.site.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        seconds, pages, requests = timed_crawl(tmp_path / "pages", images=False)
        pages_per_second = pages / seconds
        all_seconds, all_pages, all_requests = timed_crawl(tmp_path / "all", images=True)

        scenario = build_scenario(posts=10, search_posts=0, page_size=10)
        body = json.dumps(scenario.site.index_reply({"containerid": ["231522type=1&t=10&q=#体育#"]}), ensure_ascii=False)
        rounds = 200
        started = time.perf_counter()
        for _ in range(rounds):
            for mblog in parse_index(json.loads(body)).mblogs:
                parse_mblog(mblog)
        parse_only = rounds / (time.perf_counter() - started)

        workspace, _ = init_workspace(tmp_path / "writes")
        migrate(workspace.store)
        template = parse_mblog(scenario.site.containers["231522type=1&t=10&q=#体育#"].mblogs[0])
        template.image_urls = [f"https://wx1.sinaimg.cn/large/p{n}.jpg" for n in range(3)]
        count = 2000
        started = time.perf_counter()
        for number in range(count):
            template.post_id, template.mid = f"B{number:08d}", str(5_000_000_000_000_000 + number)
            record_post(workspace.store, template, topic="体育", container="topic", query_id=None, fetched_at=None)
        write_ms = (time.perf_counter() - started) / count * 1000
        workspace.close()

    defaults = crawl_settings(default_settings())
    polite = defaults.delay + defaults.jitter / 2
    per_request = all_seconds / all_requests
    share = per_request / polite
    print(f"pages fetched+parsed+stored (no pictures): {pages} in {seconds:.2f} s = {pages_per_second:.1f} pages/s "
          f"({requests} requests)")
    print(f"pure parsing of a 10-post page: {parse_only:.0f} pages/s")
    print(f"store write per post (3 picture rows): {write_ms:.3f} ms")
    print(f"full crawl with pictures: {all_requests} requests, {all_pages} pages in {all_seconds:.2f} s = "
          f"{per_request * 1000:.1f} ms per request, {all_seconds / all_pages * 1000:.0f} ms per page")
    print(f"crawler time per request / default politeness delay ({polite:.1f} s): {share:.4f} "
          f"(target <= {TARGET_SHARE}; ratio to target {share / TARGET_SHARE:.3f})")
    page_share = (all_seconds / all_pages) / polite
    print(f"crawler time per page (10 posts and their pictures) / ONE politeness delay: {page_share:.4f} "
          "(each page also costs a delay per picture request, so the real share is the per-request one)")

if __name__ == "__main__":
    main()
