"""Generate the recorded crawl archive of the demo from the bundled sample (never from real posts).

Writes cmner_build/sample/archive/ (what `cmner-build crawl --from-archive` reads in the demo) and
cmner_build/sample/archive_manifest.json (the planted posts, for other stages' tests):

    archive/index.jsonl                  the URL and fetch time of each body (as a real crawl writes it)
    archive/getindex/*.json              getIndex pages: 体育 on the topic page (page paging, cards at
                                         top level, then the ok:0 end reply), 旅游 on the topic page
                                         (since_id paging, cards inside a card_type 11 card_group),
                                         科技 on search (page paging, both layouts on one page)
    archive/extend/<mid>.json            a long text, matched by the id in its name and URL
    archive/extend/long-text-b.json      a long text without an id anywhere: matched by its truncated text
    archive/images/<pid>.jpg             the picture bytes (copies of the sample images)

Contract with the clean stage: a sample post's archived text differs from sample.txt only by noise
that the clean rules remove: U+200B inside the text, a bracket emoticon (`[哈哈]`, as Weibo's emoji
<img alt>) right after a sentence-ending mark, and a trailing ` 网页链接` link label. The `#topic#`
hashtag is Weibo's topic-link HTML, which the crawl flattens back to `#topic#`.

Extra posts that the pipeline must drop or change (ids in the manifest): a repost and a post without
pictures (dropped by the crawl), a post over 250 characters, one with a phone number, one whose
picture duplicates a sample post's picture.

Mids are synthetic (sample ids are not base62 mids; the crawl never derives one from the other when a
post carries both). Deterministic: re-running rewrites identical files.

    python scripts/make_crawl_archive.py
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import random
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cmner_build.formats import read_tagged_file  # noqa: E402
from cmner_build.crawl.endpoints import containerid_for, extend_url, index_url  # noqa: E402
from cmner_build.crawl.ids import mid_to_bid  # noqa: E402

SAMPLE = REPO / "cmner_build" / "sample"
OUT = SAMPLE / "archive"
MANIFEST = SAMPLE / "archive_manifest.json"
API = "https://m.weibo.cn"
CHINA = timezone(timedelta(hours=8))
FETCHED_AT = datetime(2024, 6, 20, 16, 0, tzinfo=CHINA)
PAGE_SIZE = 10
ZWSP = "\u200b"
EMOTICONS = ["[哈哈]", "[赞]", "[鼓掌]", "[doge]", "[心]"]
SENTENCE_END = "。！？"
# topic -> (container, paging, card layout)
PLAN = {"体育": ("topic", "page", "flat"), "旅游": ("topic", "since_id", "group"), "科技": ("search", "page", "mixed")}
FILE_STEM = {"体育": "sports", "旅游": "travel", "科技": "tech"}


def topic_link(topic: str) -> str:
    q = quote(f"#{topic}#")
    return (
        f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D{q}&extparam={q}'
        f'&luicode=10000011&lfid=100103type%3D1" data-hide=""><span class="surl-text">#{topic}#</span></a>'
    )


def emoticon_html(label: str) -> str:
    return (
        f'<span class="url-icon"><img alt="{label}" src="https://face.t.sinajs.cn/t4/appstyle/expression/ext/'
        f'normal/8f/2018new_{hashlib.md5(label.encode()).hexdigest()[:6]}_org.png" style="width:1em; height:1em;" /></span>'
    )


def web_link_html(seed: str) -> str:
    short = "A6" + hashlib.md5(seed.encode()).hexdigest()[:5]
    return (
        f'<a data-url="http://t.cn/{short}" href="https://weibo.cn/sinaurl?u=http%3A%2F%2Ft.cn%2F{short}" '
        "data-hide=\"\"><span class='url-icon'><img style='width: 1rem;height: 1rem' "
        "src='https://h5.sinaimg.cn/upload/2015/09/25/3/timeline_card_small_web_default.png'></span>"
        '<span class="surl-text">网页链接</span></a>'
    )


def body_html(text: str, topic: str, rng: random.Random, noise: set[str]) -> str:
    """The post's text as Weibo HTML: the trailing #topic# as a topic link, plus the chosen noise."""
    hashtag = f"#{topic}#"
    assert text.endswith(hashtag), text
    body = text[: -len(hashtag)]
    pieces = [html.escape(char, quote=False) for char in body]
    if "emoticon" in noise:
        ends = [i for i, char in enumerate(body[:-1]) if char in SENTENCE_END] or [len(body) - 1]
        at = rng.choice(ends)
        pieces[at] += emoticon_html(rng.choice(EMOTICONS))
    if "zero_width" in noise:
        inner = [i for i in range(1, len(body) - 1)]
        for at in rng.sample(inner, min(2, len(inner))):
            pieces[at] += ZWSP
    result = "".join(pieces) + topic_link(topic)
    if "web_link" in noise:
        result += " " + web_link_html(text)
    return result


def created_at(rng: random.Random) -> str:
    stamp = datetime(2024, 6, 1, 8, 0, tzinfo=CHINA) + timedelta(minutes=rng.randrange(0, 19 * 24 * 60))
    return stamp.strftime("%a %b %d %H:%M:%S +0800 %Y")


def picture(pid: str, host: str) -> dict:
    return {
        "pid": pid, "url": f"https://{host}/orj360/{pid}.jpg", "size": "orj360",
        "geo": {"width": 360, "height": 270, "croped": False},
        "large": {"size": "large", "url": f"https://{host}/large/{pid}.jpg",
                  "geo": {"width": "720", "height": "540", "croped": False}},
    }


def pid_for(key: str) -> str:
    return "00" + hashlib.sha1(key.encode()).hexdigest()[:30]


def mblog(mid: str, bid: str, html_text: str, pids: list[str], rng: random.Random, *, long_text: bool = False) -> dict:
    host = f"wx{rng.randrange(1, 5)}.sinaimg.cn"
    return {
        "visible": {"type": 0, "list_id": 0},
        "created_at": created_at(rng),
        "id": mid,
        "mid": mid,
        "bid": bid,
        "text": html_text,
        "textLength": len(html_text),
        "source": "微博 weibo.com",
        "user": {"id": 7_000_000_000 + rng.randrange(1, 10_000), "screen_name": f"示例用户{rng.randrange(100)}"},
        "reposts_count": rng.randrange(0, 50),
        "comments_count": rng.randrange(0, 200),
        "attitudes_count": rng.choice([rng.randrange(0, 999), "1.2万"]),
        "isLongText": long_text,
        "pic_num": len(pids),
        "pics": [picture(pid, host) for pid in pids],
        "mblogtype": 0,
    }


def extra_picture(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (200, 150), tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(0, 150), rng.randrange(0, 100)
        draw.rectangle((x0, y0, x0 + rng.randrange(10, 50), y0 + rng.randrange(10, 50)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def main() -> None:
    rng = random.Random(20240620)
    documents = read_tagged_file(SAMPLE / "sample.txt", "cmner").documents
    topics_of = json.loads((SAMPLE / "sample_topics.json").read_text(encoding="utf-8"))
    sample_images = sorted((SAMPLE / "images").glob("*.jpg"))
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "images").mkdir(parents=True)

    posts_by_topic: dict[str, list[dict]] = {topic: [] for topic in PLAN}
    long_texts: list[tuple[str, str, str]] = []  # (file name, url or None, full html)
    noise_of: dict[str, list[str]] = {"zero_width": [], "emoticon": [], "web_link": []}
    long_posts = {}
    # the first sample post of 体育 and of 科技 are long texts (one matched by id, one by content)
    first_of = {}
    for document in documents:
        first_of.setdefault(topics_of[document.doc_id], document.doc_id)
    long_posts = {first_of["体育"]: "by_id", first_of["科技"]: "by_content"}

    for number, document in enumerate(documents):
        post_id = document.doc_id
        topic = topics_of[post_id]
        text = "".join(document.tokens)
        mid = str(6_100_000_000_000_000 + number * 7919)
        noise = {kind for kind in noise_of if rng.random() < 0.4}
        if post_id in long_posts:
            noise = {"web_link"}  # no noise in the truncated prefix: the content match sees the same text
        for kind in noise:
            noise_of[kind].append(post_id)
        full_html = body_html(text, topic, rng, noise)
        pids = []
        for image in sorted(path for path in sample_images if path.name.startswith(f"{post_id}_")):
            pid = pid_for(image.name)
            shutil.copyfile(image, OUT / "images" / f"{pid}.jpg")
            pids.append(pid)
        if post_id in long_posts:
            cut = len(text) // 2
            list_html = html.escape(text[:cut], quote=False) + f' ...<a href="/status/{mid}">全文</a>'
            post = mblog(mid, post_id, list_html, pids, rng, long_text=True)
            if long_posts[post_id] == "by_id":
                long_texts.append((f"{mid}.json", extend_url(API, mid), full_html))
            else:
                long_texts.append(("long-text-b.json", None, full_html))
        else:
            post = mblog(mid, post_id, full_html, pids, rng)
        posts_by_topic[topic].append(post)

    # -- planted extras ------------------------------------------------------------------------
    extras: dict[str, dict] = {}

    def extra(kind: str, topic: str, text: str, pictures: list[bytes], **fields) -> None:
        mid = str(6_000_000_000_000_000 + len(extras) * 104_729 + 17)
        bid = mid_to_bid(mid)
        pids = []
        for n, data in enumerate(pictures):
            pid = pid_for(f"extra-{kind}-{n}")
            (OUT / "images" / f"{pid}.jpg").write_bytes(data)
            pids.append(pid)
        post = mblog(mid, bid, html.escape(text, quote=False) + topic_link(topic), pids, rng)
        post.update(fields)
        posts_by_topic[topic].append(post)
        extras[kind] = {"post_id": bid, "mid": mid, "topic": topic}

    duplicate_source = sample_images[0]
    extra("repost", "体育", "转发微博", [], retweeted_status=mblog(
        "6000000000000999", mid_to_bid("6000000000000999"), "原微博：比赛现场。", [pid_for("extra-retweeted")], rng))
    extra("no_images", "旅游", "周末去了海边，天气很好，心情也很好。", [])
    extra("too_long", "科技", ("今天参加了一场关于人工智能和芯片产业的技术交流会，来自各地的工程师分享了他们在模型训练、"
                              "推理优化和数据治理方面的经验。") * 6 + "收获很多。", [extra_picture(1)])
    extra("phone", "旅游", "民宿老板人很好，房间干净整洁，预订请拨打13812345678，提前一天联系即可。", [extra_picture(2)])
    # Posted after every sample post: a repost of a picture comes later than the original, and the image
    # stage keeps the earlier post's copy.
    extra("duplicate_image", "体育", "昨晚的比赛现场气氛热烈，球迷们一直在呐喊助威。", [duplicate_source.read_bytes()],
          created_at="Sat Jun 22 21:30:00 +0800 2024")
    extras["duplicate_image"]["duplicates"] = duplicate_source.name

    # -- pages -----------------------------------------------------------------------------------
    index_lines: list[dict] = []

    def write_body(relative: str, url: str | None, data: dict) -> None:
        path = OUT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if url is not None:
            index_lines.append({"file": relative, "url": url, "kind": relative.split("/")[0], "status": 200,
                                "outcome": "end" if data.get("ok") == 0 else "ok",
                                "at": FETCHED_AT.astimezone(timezone.utc).isoformat(timespec="seconds")})

    for topic, (container, paging, layout) in PLAN.items():
        posts = posts_by_topic[topic]
        random.Random(topic).shuffle(posts)
        containerid = containerid_for(container, topic)
        chunks = [posts[i:i + PAGE_SIZE] for i in range(0, len(posts), PAGE_SIZE)]
        since_id = None
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            info = {"containerid": containerid, "v_p": 42, "show_style": 1, "total": len(posts)}
            if paging == "page":
                info["page"] = number + 1 if (not last or topic == "体育") else None
            elif not last:
                info["since_id"] = int(chunk[-1]["mid"]) - 1
            cards = [{"card_type": 9, "itemid": f"seqid:{post['mid']}", "mblog": post} for post in chunk]
            if layout == "group":
                cards = [{"card_type": 11, "card_group": cards, "show_type": 1}]
            elif layout == "mixed":
                cards = cards[:3] + [{"card_type": 11, "card_group": cards[3:]}]
            data = {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}
            url = index_url(API, containerid, page=number if paging == "page" else None, since_id=since_id)
            cursor = f"page{number}" if paging == "page" else f"since{number}"
            write_body(f"getindex/{FILE_STEM[topic]}-{cursor}.json", url, data)
            since_id = str(info.get("since_id")) if info.get("since_id") else None
        if topic == "体育":  # the page after the last: Weibo's "nothing (more) here" reply
            write_body(f"getindex/{FILE_STEM[topic]}-page{len(chunks) + 1}.json",
                       index_url(API, containerid, page=len(chunks) + 1),
                       {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})

    for name, url, full_html in long_texts:
        write_body(f"extend/{name}", url, {"ok": 1, "data": {"ok": 1, "longTextContent": full_html,
                                                              "reposts_count": 3, "comments_count": 5,
                                                              "attitudes_count": 8}})
    (OUT / "index.jsonl").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in index_lines), encoding="utf-8"
    )

    kept_extras = [kind for kind in extras if kind not in ("repost", "no_images")]
    images_expected = len(sample_images) + len(kept_extras)
    manifest = {
        "about": "Planted posts of the demo archive (made by scripts/make_crawl_archive.py); ids are post_ids (bids).",
        "archive": "archive",
        "sample_posts": len(documents),
        "noise": {kind: sorted(ids) for kind, ids in noise_of.items()},
        "long_text": {kind: post_id for post_id, kind in long_posts.items()},
        "extras": extras,
        "expected_after_crawl": {
            "crawled": len(documents) + len(kept_extras),
            "dropped": {"repost": 1, "no_images": 1},
            "images_downloaded": images_expected,
        },
        "expected_after_clean": {
            "too_long": [extras["too_long"]["post_id"]],
            "phone_redacted": [extras["phone"]["post_id"]],
            "duplicate_image": [extras["duplicate_image"]["post_id"]],
        },
    }
    MANIFEST.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
