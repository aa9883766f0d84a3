"""Parse m.weibo.cn responses: getIndex pages, the `mblog` post object, statuses/extend, detail pages.

Pure functions over decoded JSON (or HTML for the detail page); no network, no store. The shapes are
those in docs/weibo.md (§1.1 paging, §2 responses), checked against real m.weibo.cn responses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cmner_build.crawl.dates import parse_created_at
from cmner_build.crawl.html_text import flatten_html
from cmner_build.crawl.ids import mid_to_bid
from cmner_build.safety import is_valid_post_id

END_MESSAGE = "这里还没有内容"
SIZE_TOKEN = re.compile(r"^(?:large|mw\d+|bmiddle|thumb\d+|thumbnail|square|orj\d+|woriginal|original|crop\.[^/]*)$")
RENDER_DATA = re.compile(r"var\s+\$render_data\s*=\s*(\[.*?\])\s*\[0\]\s*\|\|\s*\{\}\s*;", re.S)
DEFAULT_IMAGE_HOST = "wx1.sinaimg.cn"


class ParseError(ValueError):
    """A body that is not the response it should be (the caller retries or skips it)."""


class InvalidPostId(ParseError):
    """A post whose bid or mid is not a valid post id: it is dropped (never stored), the crawl goes on."""

    def __init__(self, message: str, value: object) -> None:
        super().__init__(message)
        self.value = value


@dataclass
class ParsedPost:
    post_id: str  # the bid (9 base62 characters), CMNER's WID
    mid: str
    text: str  # flattened; the truncated list text until completed with statuses/extend
    html: str
    truncated: bool  # text ends with the `全文` link
    is_long_text: bool  # mblog.isLongText or truncated: statuses/extend holds the whole text
    image_urls: list[str]  # normalised to the `large` size, in post order
    pic_num: int  # how many pictures the post has (the list shows at most 9)
    topics: list[str]
    posted_at: str | None
    posted_at_precision: str | None
    created_at_raw: str | None
    user_id: str | None
    is_repost: bool
    is_deleted: bool
    is_pinned: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def needs_long_text(self) -> bool:
        return self.is_long_text

    @property
    def needs_detail(self) -> bool:
        """More pictures than the list gave: the detail page has them all."""
        return self.pic_num > len(self.image_urls)


@dataclass
class IndexPage:
    ok: int
    msg: str | None
    mblogs: list[dict[str, Any]]  # in page order, from top-level cards and card_group
    next_page: int | None  # cardlistInfo.page: the next page number; None on the last page
    since_id: str | None  # cardlistInfo.since_id: the next cursor in since_id mode; None when absent/empty
    containerid: str | None
    total: int | None

    @property
    def is_end_reply(self) -> bool:
        """`{"ok":0,"msg":"这里还没有内容","data":{"cards":[]}}`: nothing (more) here. Any other ok:0 is an error."""
        return self.ok == 0 and (self.msg == END_MESSAGE or (self.msg is None and not self.mblogs))


def decode_json(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ParseError(f"not JSON ({error})") from None


def is_captcha(data: Any) -> bool:
    """A JSON reply that carries a verification `url` and no `data` (weibo-crawler `handle_captcha`)."""
    return isinstance(data, dict) and "url" in data and "data" not in data


def parse_index(data: Any) -> IndexPage:
    if not isinstance(data, dict) or "ok" not in data:
        raise ParseError("not a getIndex reply (no 'ok')")
    body = data.get("data")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ParseError("getIndex 'data' is not an object")
    cards = body.get("cards") or []
    if not isinstance(cards, list):
        raise ParseError("getIndex 'data.cards' is not a list")
    info = body.get("cardlistInfo") or {}
    since_id = info.get("since_id")
    next_page = info.get("page")
    total = info.get("total")
    return IndexPage(
        ok=_int(data.get("ok")),
        msg=data.get("msg"),
        mblogs=list(_card_mblogs(cards)),
        next_page=_int(next_page) if next_page not in (None, "") else None,
        since_id=str(since_id) if since_id not in (None, "", 0, "0") else None,
        containerid=str(info["containerid"]) if info.get("containerid") else None,
        total=_int(total) if total not in (None, "") else None,
    )


def _card_mblogs(cards: list[Any], depth: int = 0):
    for card in cards:
        if not isinstance(card, dict):
            continue
        if card.get("card_type") in (9, "9") and isinstance(card.get("mblog"), dict):
            yield card["mblog"]
        group = card.get("card_group")
        if isinstance(group, list) and depth < 2:
            yield from _card_mblogs(group, depth + 1)


def parse_mblog(mblog: dict[str, Any], now: datetime | None = None) -> ParsedPost:
    """One post. `now` reads relative dates ('06-14', '3小时前'): the time the response was fetched."""
    mid = str(mblog.get("mid") or mblog.get("id") or mblog.get("idstr") or "")
    bid = str(mblog.get("bid") or mblog.get("mblogid") or "")
    # Both ids become file names and release lines: check them before anything else reads them.
    for name, value in (("bid", bid), ("mid", mid)):
        if value and not is_valid_post_id(value):
            raise InvalidPostId(f"{name} {value!r} is not a valid post id (1-64 ASCII letters and digits)", value)
    if not bid:
        if not (mid.isascii() and mid.isdigit()):
            raise ParseError("post without an id (no mid, id or bid)")
        bid = mid_to_bid(mid)
    html = mblog.get("text") or ""
    if not isinstance(html, str):
        html = str(html)
    flat = flatten_html(html)
    image_urls = mblog_image_urls(mblog)
    pic_num = _int(mblog.get("pic_num"))
    if pic_num is None:
        pic_num = max(len(mblog.get("pic_ids") or []), len(image_urls))
    created = parse_created_at(mblog.get("created_at"), now)
    user = mblog.get("user")
    deleted = str(mblog.get("deleted") or "") == "1" or (user is None and "user" in mblog)
    return ParsedPost(
        post_id=bid,
        mid=mid or bid,
        text=flat.text,
        html=html,
        truncated=flat.truncated,
        is_long_text=bool(mblog.get("isLongText")) or flat.truncated,
        image_urls=image_urls,
        pic_num=max(pic_num, len(image_urls)),
        topics=flat.topics,
        posted_at=created.iso if created else None,
        posted_at_precision=created.precision if created else None,
        created_at_raw=mblog.get("created_at"),
        user_id=_user_id(user),
        is_repost=isinstance(mblog.get("retweeted_status"), dict),
        is_deleted=deleted,
        is_pinned=_int(mblog.get("mblogtype")) == 2 or bool(mblog.get("isTop")),
        counts={
            name: value
            for name in ("reposts_count", "comments_count", "attitudes_count")
            if (value := parse_count(mblog.get(name))) is not None
        },
    )


def mblog_image_urls(mblog: dict[str, Any]) -> list[str]:
    """The post's own pictures at the `large` size, in order; videos and Live Photo entries are skipped."""
    urls: list[str] = []
    for pic in mblog.get("pics") or []:
        if isinstance(pic, str):
            urls.append(pic)
        elif isinstance(pic, dict) and pic.get("type") not in ("video", "livephoto"):
            large = pic.get("large") if isinstance(pic.get("large"), dict) else {}
            url = large.get("url") or pic.get("url")
            if url:
                urls.append(url)
            elif pic.get("pid"):
                urls.append(f"https://{DEFAULT_IMAGE_HOST}/large/{pic['pid']}.jpg")
    if not urls:
        pids = [pid for pid in mblog.get("pic_ids") or [] if isinstance(pid, str) and pid]
        if pids:
            urls = [f"https://{DEFAULT_IMAGE_HOST}/large/{pid}.jpg" for pid in pids]
        elif isinstance(mblog.get("original_pic"), str):
            urls = [mblog["original_pic"]]
    normalised: list[str] = []
    for url in urls:
        url = normalize_image_url(url)
        if url not in normalised:
            normalised.append(url)
    return normalised


def normalize_image_url(url: str) -> str:
    """`//wx3.sinaimg.cn/orj360/<pid>.jpg` -> `https://wx3.sinaimg.cn/large/<pid>.jpg` (host kept: notes §4)."""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    scheme = "https" if parts.netloc.endswith("sinaimg.cn") else parts.scheme
    segments = parts.path.split("/")
    # ['', '<size>', '<pid>.jpg']: replace the size token, keep everything else.
    if len(segments) >= 3 and SIZE_TOKEN.match(segments[1]):
        segments[1] = "large"
    return urlunsplit((scheme, parts.netloc, "/".join(segments), parts.query, ""))


def image_pid(url: str) -> str:
    """The picture id: the file name of the URL without its extension."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def parse_extend(data: Any) -> str:
    """statuses/extend (and weibo.com ajax/statuses/longtext): the long text's HTML."""
    if not isinstance(data, dict):
        raise ParseError("not a statuses/extend reply")
    body = data.get("data")
    if _int(data.get("ok")) != 1 or not isinstance(body, dict) or not isinstance(body.get("longTextContent"), str):
        raise ParseError(f"statuses/extend without longTextContent (ok={data.get('ok')!r}, msg={data.get('msg')!r})")
    return body["longTextContent"]


def parse_detail(html: str) -> dict[str, Any]:
    """m.weibo.cn/detail/<mid>: the `status` object inside `var $render_data = [...][0] || {};`."""
    match = RENDER_DATA.search(html)
    if not match:
        raise ParseError("detail page without $render_data")
    try:
        render = json.loads(match.group(1))
    except json.JSONDecodeError as error:
        raise ParseError(f"detail page $render_data is not JSON ({error})") from None
    status = render[0].get("status") if render and isinstance(render[0], dict) else None
    if not isinstance(status, dict):
        raise ParseError("detail page $render_data has no status")
    return status


def parse_count(value: Any) -> int | None:
    """Counts are ints or strings such as '1.2万', '3亿', '100万+'."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().rstrip("+")
    scale = 1
    if text.endswith("万"):
        scale, text = 10_000, text[:-1]
    elif text.endswith("亿"):
        scale, text = 100_000_000, text[:-1]
    try:
        return int(round(float(text) * scale))
    except ValueError:
        return None


def _user_id(user: Any) -> str | None:
    """The author's id when it is a plain id; anything else is not stored (it is only metadata)."""
    value = str(user["id"]) if isinstance(user, dict) and user.get("id") is not None else None
    return value if is_valid_post_id(value) else None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
