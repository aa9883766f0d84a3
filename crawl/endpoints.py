"""m.weibo.cn URLs (docs/weibo.md §1): building them, and reading them back from an archive index."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlencode, urlsplit

# containerid of each query kind for a hashtag topic; `{q}` is `#体育#`.
CONTAINER_IDS = {
    "topic": "231522type=1&t=10&q={q}",  # the topic (hashtag) page
    "search": "100103type=1&q={q}",  # search, 综合 (all)
}
_Q_PARAM = re.compile(r"(?:^|&)q=([^&]*)")
_DIGITS = re.compile(r"(?<!\d)(\d{12,20})(?!\d)")


def containerid_for(kind: str, topic: str) -> str:
    return CONTAINER_IDS[kind].format(q=f"#{topic}#")


def index_url(api_base: str, containerid: str, page: int | None = None, since_id: str | None = None) -> str:
    params: list[tuple[str, str]] = [("containerid", containerid), ("page_type", "searchall")]
    if since_id:
        params.append(("since_id", since_id))
    elif page and page > 1:
        params.append(("page", str(page)))
    return f"{api_base}/api/container/getIndex?{urlencode(params, quote_via=quote)}"


def extend_url(api_base: str, mid: str) -> str:
    return f"{api_base}/statuses/extend?id={mid}"


def detail_url(api_base: str, mid: str) -> str:
    return f"{api_base}/detail/{mid}"


def fetch_image_url(url: str, image_base: str) -> str:
    """Where to fetch a picture: the URL itself, or `<image_base>/<host>/<path>` when a base is set."""
    if not image_base:
        return url
    parts = urlsplit(url)
    return f"{image_base}/{parts.netloc}{parts.path}"


def topic_of_containerid(containerid: str | None) -> str | None:
    """'231522type=1&t=10&q=#体育#' -> '体育'."""
    if not containerid:
        return None
    match = _Q_PARAM.search(containerid)
    if not match:
        return None
    query = match.group(1).strip()
    if len(query) > 2 and query.startswith("#") and query.endswith("#"):
        return query[1:-1].strip() or None
    return query or None


def container_kind_of(containerid: str | None) -> str | None:
    if not containerid:
        return None
    if containerid.startswith("231522"):
        return "topic"
    if containerid.startswith("100103"):
        return "search"
    return None


def describe_url(url: str) -> dict[str, str | None]:
    """What a recorded URL asked for: kind (index | extend | detail | other), containerid, id."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.path.endswith("/api/container/getIndex"):
        return {"kind": "index", "containerid": (query.get("containerid") or [None])[0], "id": None}
    if parts.path.endswith("/statuses/extend") or parts.path.endswith("/statuses/longtext"):
        return {"kind": "extend", "containerid": None, "id": (query.get("id") or [None])[0]}
    if "/detail/" in parts.path or "/status/" in parts.path:
        return {"kind": "detail", "containerid": None, "id": parts.path.rstrip("/").rsplit("/", 1)[-1]}
    return {"kind": "other", "containerid": None, "id": None}


def id_in_name(name: str) -> str | None:
    """A mid (12-20 digits) in a file name such as `weibo_detail_4645748019299849` or `extend-4645….json`."""
    match = _DIGITS.search(name)
    return match.group(1) if match else None
