"""Flatten the HTML of `mblog.text` / `longTextContent` into the post's plain text.

Rules (docs/weibo.md §2.2): topic links keep their `#…#` text, emoji images become their alt text
(`[哈哈]`), other links become their label (`网页链接`, `@name`), `<br />` becomes a newline, and the
truncation marker ` ...<a href="/status/<id>">全文</a>` is removed and reported. Nothing else is
changed: zero-width spaces, emoticons and link labels stay for the clean stage's counted rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

STATUS_HREF = re.compile(r"/status/(\w+)")
TRUNCATION_TAIL = re.compile(r"[\s.…]+$")


@dataclass
class FlatText:
    text: str
    truncated: bool = False  # the HTML ended with the `全文` link: the rest is behind statuses/extend
    status_id: str | None = None  # the id in that link's href (a mid or bid)
    topics: list[str] = field(default_factory=list)  # `#topic#` hashtags, without the #s, in order


def flatten_html(html: str) -> FlatText:
    soup = BeautifulSoup(html or "", "html.parser")
    pieces: list[str] = []
    result = FlatText("")
    _walk(soup, pieces, result)
    result.text = "".join(pieces).strip()
    for span in soup.select("span.surl-text"):
        label = span.get_text().strip()
        if len(label) > 2 and label.startswith("#") and label.endswith("#"):
            topic = label.strip("#").strip()
            if topic and topic not in result.topics:
                result.topics.append(topic)
    return result


def _walk(node: Tag, pieces: list[str], result: FlatText) -> None:
    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            pieces.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name == "br":
            pieces.append("\n")
        elif name == "img":
            pieces.append(str(child.get("alt") or ""))
        elif name == "a" and child.get_text().strip() == "全文" and STATUS_HREF.search(str(child.get("href") or "")):
            result.truncated = True
            result.status_id = STATUS_HREF.search(str(child.get("href"))).group(1)
            # Drop the " ..." Weibo puts before the link.
            joined = TRUNCATION_TAIL.sub("", "".join(pieces))
            pieces[:] = [joined]
        elif name in ("script", "style"):
            continue
        else:
            _walk(child, pieces, result)
