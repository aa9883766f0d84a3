"""A local HTTP server that plays m.weibo.cn and its picture CDN for the crawl tests.

It serves getIndex pages of configured containers (page or since_id paging; cards at top level or
inside a card_type 11 card_group), statuses/extend, detail pages with `$render_data`, and pictures
that need a Referer (403 without). Faults are queued per URL fragment and served in order: HTTP 418 /
432 / 500 / 403 / 414, `timeout` (a reply slower than the client's timeout), `truncated` JSON, a
`captcha` body, `login` (302 to passport.weibo.com), `ok0` (an ok:0 error reply).

Bound to 127.0.0.1 on a free port; `served` counts the good replies per request target, so tests
can check that nothing was requested twice.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from cmner_build.crawl.ids import mid_to_bid

END_REPLY = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}


def topic_html(topic: str) -> str:
    q = quote(f"#{topic}#")
    return (
        f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D{q}&extparam={q}" '
        f'data-hide=""><span class="surl-text">#{topic}#</span></a>'
    )


def jpeg_bytes(seed: int, size: int = 24) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


@dataclass
class Container:
    mblogs: list[dict[str, Any]]
    page_size: int = 4
    paging: str = "page"  # page | since_id
    layout: str = "flat"  # flat | group | mixed


@dataclass
class FakeWeibo:
    containers: dict[str, Container] = field(default_factory=dict)
    long_texts: dict[str, str] = field(default_factory=dict)  # mid -> HTML
    details: dict[str, dict] = field(default_factory=dict)  # mid -> status (the full post)
    images: dict[str, bytes] = field(default_factory=dict)  # pid -> bytes
    faults: list[list[Any]] = field(default_factory=list)  # [fragment, [kinds...]]
    latency: float = 0.0
    slow_reply: float = 1.0  # how long a `timeout` fault takes to answer
    served: Counter = field(default_factory=Counter)
    fault_hits: Counter = field(default_factory=Counter)
    headers_seen: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- set-up ----------------------------------------------------------------------------------

    def fail(self, fragment: str, *kinds: str) -> None:
        """Serve these faults, in order, to the next requests whose target contains `fragment`."""
        self.faults.append([fragment, list(kinds)])

    def start(self) -> "FakeWeibo":
        server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def image_base(self) -> str:
        return f"{self.base_url}/img"

    # -- serving ---------------------------------------------------------------------------------

    def take_fault(self, target: str) -> str | None:
        with self._lock:
            for entry in self.faults:
                fragment, kinds = entry
                if fragment in target and kinds:
                    kind = kinds.pop(0)
                    self.fault_hits[kind] += 1
                    return kind
        return None

    def index_reply(self, query: dict[str, list[str]]) -> dict[str, Any]:
        containerid = (query.get("containerid") or [""])[0]
        container = self.containers.get(containerid)
        if container is None:
            return END_REPLY
        if container.paging == "since_id":
            since = (query.get("since_id") or [""])[0]
            start = int(since) - 1_000_000 if since else 0
        else:
            start = (int((query.get("page") or ["1"])[0]) - 1) * container.page_size
        chunk = container.mblogs[start:start + container.page_size]
        if not chunk:
            return END_REPLY
        more = start + container.page_size < len(container.mblogs)
        info: dict[str, Any] = {"containerid": containerid, "v_p": 42, "total": len(container.mblogs)}
        if container.paging == "since_id":
            if more:
                info["since_id"] = 1_000_000 + start + container.page_size
        else:
            info["page"] = start // container.page_size + 2 if more else None
        cards = [{"card_type": 9, "itemid": m["mid"], "mblog": m} for m in chunk]
        if container.layout == "group":
            cards = [{"card_type": 11, "card_group": cards}]
        elif container.layout == "mixed":
            cards = cards[:1] + [{"card_type": 11, "card_group": cards[1:]}]
        cards.insert(0, {"card_type": 58, "desc": "noise card"})
        return {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed or timed out mid-reply: expected in these tests


def _handler_for(site: FakeWeibo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            target = unquote(self.path)
            with site._lock:
                site.headers_seen.append(dict(self.headers))
            if site.latency:
                time.sleep(site.latency)
            fault = site.take_fault(target)
            if fault is not None:
                self.serve_fault(fault)
                return
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/api/container/getIndex":
                self.send_json(site.index_reply(query), target)
            elif parts.path == "/statuses/extend":
                mid = (query.get("id") or [""])[0]
                if mid in site.long_texts:
                    body = {"ok": 1, "data": {"ok": 1, "longTextContent": site.long_texts[mid], "reposts_count": 0,
                                              "comments_count": 0, "attitudes_count": 0}}
                else:
                    body = {"ok": 0, "msg": "该微博不存在"}
                self.send_json(body, target)
            elif parts.path.startswith("/detail/"):
                mid = parts.path.rsplit("/", 1)[-1]
                if mid not in site.details:
                    self.send(404, b"not found", "text/html")
                    return
                render = json.dumps([{"status": site.details[mid], "call": 1}], ensure_ascii=False)
                html = f"<html><script>var $render_data = {render}[0] || {{}};</script></html>"
                self.send(200, html.encode("utf-8"), "text/html; charset=utf-8", target)
            elif parts.path.startswith("/img/"):
                referer = self.headers.get("Referer", "")
                if "weibo" not in referer:
                    self.send(403, b"hotlink protection", "text/html")
                    return
                pid = parts.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                if pid not in site.images:
                    self.send(404, b"no such picture", "text/html")
                    return
                self.send(200, site.images[pid], "image/jpeg", target)
            else:
                self.send(404, b"unknown path", "text/html")

        def serve_fault(self, fault: str) -> None:
            if fault in ("418", "432", "500", "403", "414", "503"):
                self.send(int(fault), f"fault {fault}".encode(), "text/html")
            elif fault == "timeout":
                time.sleep(site.slow_reply)
                try:
                    self.send(200, b'{"ok": 1, "data": {"cards": []}}', "application/json")
                except OSError:
                    pass
            elif fault == "truncated":
                self.send(200, b'{"ok": 1, "data": {"cardlistInfo": {"page": 2}, "cards": [{"card_type": 9, "mbl',
                          "application/json")
            elif fault == "captcha":
                self.send(200, json.dumps({"url": "https://security.weibo.com/captcha/geetest?c=1"}).encode(),
                          "application/json")
            elif fault == "login":
                self.send_response(302)
                self.send_header("Location", "https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif fault == "ok0":
                self.send(200, json.dumps({"ok": 0, "errno": "100005", "msg": "请求过于频繁,歇歇吧"}).encode(),
                          "application/json")
            else:
                raise ValueError(f"unknown fault {fault!r}")

        def send_json(self, data: Any, target: str) -> None:
            self.send(200, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json", target)

        def send(self, status: int, body: bytes, content_type: str, target: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if target is not None and status == 200:
                with site._lock:
                    site.served[target] += 1

    return Handler


# -- building posts ------------------------------------------------------------------------------

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def make_mblog(
    mid: int | str,
    text: str,
    pids: list[str],
    *,
    host: str = "wx2.sinaimg.cn",
    day: int = 1,
    pic_num: int | None = None,
    repost: bool = False,
    deleted: bool = False,
    long_text: bool = False,
    with_bid: bool = True,
    topic: str | None = None,
) -> dict[str, Any]:
    """An m.weibo.cn `mblog`. `text` is HTML; with long_text it ends with the truncation link."""
    mid = str(mid)
    html = text + (f" {topic_html(topic)}" if topic else "")
    if long_text:
        html = html + f' ...<a href="/status/{mid}">全文</a>'
    mblog: dict[str, Any] = {
        "created_at": f"Sat Jun {day:02d} 10:{day:02d}:00 +0800 2024",
        "id": mid,
        "mid": mid,
        "text": html,
        "user": {"id": 1000 + int(mid) % 97, "screen_name": "tester"},
        "isLongText": long_text,
        "reposts_count": 1,
        "comments_count": "1.2万",
        "attitudes_count": 3,
        "pic_num": len(pids) if pic_num is None else pic_num,
        "pics": [
            {"pid": pid, "url": f"https://{host}/orj360/{pid}.jpg", "size": "orj360",
             "large": {"size": "large", "url": f"https://{host}/large/{pid}.jpg", "geo": {"width": "24", "height": "24"}}}
            for pid in pids
        ],
    }
    if with_bid:
        mblog["bid"] = mid_to_bid(mid)
    if repost:
        mblog["retweeted_status"] = {"id": "1", "mid": "1", "text": "原微博", "pics": []}
        mblog["pics"] = []
        mblog["pic_num"] = 0
    if deleted:
        mblog.update({"deleted": "1", "user": None, "text": "抱歉，此微博已被作者删除。"})
    return mblog


@dataclass
class Scenario:
    """A site and what a correct crawl of it must store."""

    site: FakeWeibo
    topic: str
    eligible: dict[str, int]  # post_id -> number of pictures
    dropped: dict[str, str]  # post_id -> reason
    texts: dict[str, str]  # post_id -> expected stored text (for a few posts)
    image_bytes: dict[tuple[str, int], bytes]  # (post_id, position) -> bytes


def build_scenario(
    topic: str = "体育", *, posts: int = 12, search_posts: int = 6, seed: int = 7, page_size: int = 4
) -> Scenario:
    """Topic page (page mode, mixed layout) + search (since_id mode, card_group) overlapping it.

    Post 1 is a long text, post 2 has 13 pictures (9 in the list), post 3 a repost, post 4 has no
    picture, post 5 is deleted; search repeats topic posts 0, 6 and 7 and adds its own.
    """
    site = FakeWeibo()
    eligible: dict[str, int] = {}
    dropped: dict[str, str] = {}
    texts: dict[str, str] = {}
    image_bytes: dict[tuple[str, int], bytes] = {}
    base_mid = 4_900_000_000_000_000 + seed * 10_000

    def add_pictures(mid: int, count: int) -> list[str]:
        pids = [f"pid{mid}x{n:02d}" for n in range(count)]
        for n, pid in enumerate(pids):
            site.images[pid] = jpeg_bytes(mid * 100 + n)
        return pids

    topic_mblogs = []
    for index in range(posts):
        mid = base_mid + index
        bid = mid_to_bid(mid)
        text = f"第{index}条：{topic}新闻，今天的比赛很精彩。"
        if index == 1:
            pids = add_pictures(mid, 2)
            full = f"{text}这是一条很长的微博，后面还有更多内容。<br />第二段写完了。"
            site.long_texts[str(mid)] = full + " " + topic_html(topic)
            mblog = make_mblog(mid, text, pids, day=index + 1, long_text=True)
            texts[bid] = f"{text}这是一条很长的微博，后面还有更多内容。\n第二段写完了。 #{topic}#"
        elif index == 2:
            pids = add_pictures(mid, 13)
            mblog = make_mblog(mid, text, pids[:9], pic_num=13, day=index + 1, topic=topic)
            site.details[str(mid)] = make_mblog(mid, text, pids, day=index + 1, topic=topic)
        elif index == 3:
            mblog = make_mblog(mid, "转发微博", [], repost=True, day=index + 1)
        elif index == 4:
            mblog = make_mblog(mid, text, [], day=index + 1, topic=topic)
        elif index == 5:
            mblog = make_mblog(mid, text, [], deleted=True, day=index + 1)
        else:
            pids = add_pictures(mid, 1 + index % 3)
            mblog = make_mblog(mid, text, pids, day=index % 28 + 1, topic=topic, with_bid=index % 2 == 0)
            if index == 6:
                texts[bid] = f"{text} #{topic}#"
        topic_mblogs.append(mblog)
        reason = {3: "repost", 4: "no_images", 5: "deleted"}.get(index)
        if reason:
            dropped[bid] = reason
        else:
            pids = [pic["large"]["url"] for pic in (site.details.get(str(mid)) or mblog)["pics"]]
            eligible[bid] = len(pids)
            for n, url in enumerate(pids):
                image_bytes[(bid, n)] = site.images[url.rsplit("/", 1)[-1][:-4]]

    search_mblogs = [topic_mblogs[i] for i in (0, 6, 7) if i < len(topic_mblogs)]
    for index in range(search_posts):
        mid = base_mid + 5000 + index
        bid = mid_to_bid(mid)
        pids = add_pictures(mid, 1)
        search_mblogs.append(make_mblog(mid, f"搜索结果{index}：{topic}", pids, day=index + 1, topic=topic))
        eligible[bid] = 1
        image_bytes[(bid, 0)] = site.images[pids[0]]

    site.containers[f"231522type=1&t=10&q=#{topic}#"] = Container(topic_mblogs, page_size=page_size, paging="page", layout="mixed")
    site.containers[f"100103type=1&q=#{topic}#"] = Container(search_mblogs, page_size=page_size, paging="since_id", layout="group")
    return Scenario(site, topic, eligible, dropped, texts, image_bytes)


@pytest.fixture
def scenario() -> Scenario:
    """The default scenario's site, started on 127.0.0.1 for the test and stopped after it."""
    built = build_scenario()
    built.site.start()
    yield built
    built.site.stop()


# -- checking what a crawl stored ---------------------------------------------------------------


def stored(workspace: Any) -> dict:
    store = workspace.store
    posts = {row["post_id"]: row for row in store.query("SELECT * FROM posts")}
    images = store.query("SELECT * FROM images ORDER BY post_id, position")
    return {
        "kept": {pid for pid, row in posts.items() if row["status"] == "crawled"},
        "dropped": {pid: row["drop_reason"] for pid, row in posts.items() if row["status"] == "dropped"},
        "posts": posts,
        "images": images,
    }


def assert_complete(workspace: Any, scenario: Scenario) -> None:
    """The store holds exactly the scenario's eligible posts with all their pictures, byte for byte."""
    got = stored(workspace)
    assert got["kept"] == set(scenario.eligible)
    assert got["dropped"] == scenario.dropped
    by_post: dict[str, int] = {}
    for image in got["images"]:
        assert image["status"] == "downloaded"
        by_post[image["post_id"]] = by_post.get(image["post_id"], 0) + 1
        data = (workspace.images_dir / image["file_name"]).read_bytes()
        assert image["file_name"] == f"{image['post_id']}_{image['position']}.jpg"
        assert data == scenario.image_bytes[(image["post_id"], image["position"])]
        assert image["sha256"] == hashlib.sha256(data).hexdigest()
        assert (image["width"], image["height"]) == (24, 24)
    assert by_post == scenario.eligible
    assert sorted(p.name for p in workspace.images_dir.iterdir()) == sorted(i["file_name"] for i in got["images"])


def set_crawl_settings(config_path: Any, values: dict[str, str]) -> None:
    """Set keys of cmner.toml's [crawl] table (TOML literals as strings), adding the missing ones."""
    text = config_path.read_text(encoding="utf-8")
    head, _, rest = text.partition("[crawl]\n")
    section, separator, tail = rest.partition("\n[")
    for key, value in values.items():
        pattern = re.compile(rf"^{key} = .*$", re.M)
        if pattern.search(section):
            section = pattern.sub(f"{key} = {value}", section)
        else:
            section += f"\n{key} = {value}"
    config_path.write_text(f"{head}[crawl]\n{section}{separator}{tail}", encoding="utf-8")
