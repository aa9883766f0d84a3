"""What a crawl run did: counts for the progress line, the end summary and `--json`."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


MAX_REJECTED_SHOWN = 20


@dataclass
class CrawlSummary:
    topics: list[str] = field(default_factory=list)
    pages: int = 0  # getIndex pages parsed (fetched or read back from the archive)
    requests: int = 0  # HTTP requests made (attempts, retries included)
    faults: Counter = field(default_factory=Counter)  # fault kind -> attempts
    posts_seen: int = 0
    posts_kept: int = 0  # new posts stored as `crawled`
    already_stored: int = 0  # seen before (by mid or bid): not stored again
    dropped: Counter = field(default_factory=Counter)  # reason -> new posts stored as `dropped`
    skipped: Counter = field(default_factory=Counter)  # reason -> posts not stored (date range, missing long text…)
    long_texts: int = 0  # completed through statuses/extend
    detail_pages: int = 0  # more than nine pictures: completed from the detail page
    images_found: int = 0  # picture rows recorded for new kept posts
    images_downloaded: int = 0
    images_failed: int = 0  # 404 / 410: recorded as dropped
    images_pending: int | None = None  # pictures of crawled posts still without bytes (whole store)
    queries: dict[str, str] = field(default_factory=dict)  # "体育/topic" -> "done (last_page)" | "page 4" …
    stopped_by: str | None = None  # limit | pages | end | error
    over_max_chars: int | None = None  # crawled posts currently over corpus.max_chars (clean drops them)
    max_chars: int | None = None
    files_read: int = 0  # --from-archive
    files_skipped: Counter = field(default_factory=Counter)  # --from-archive: reason -> files
    rejected: list[str] = field(default_factory=list)  # the first bad items from outside, each with its reason
    images_bad: Counter = field(default_factory=Counter)  # reason -> bodies that arrived but are no picture

    def reject(self, message: str) -> None:
        """Remember a bad outside item (bad id, bad topic) for the end summary; the count is kept elsewhere."""
        if len(self.rejected) < MAX_REJECTED_SHOWN:
            self.rejected.append(message)

    def status_line(self) -> str:
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(self.dropped.items())) or "0"
        line = (
            f"pages {self.pages} · kept {self.posts_kept} · dropped {dropped} · "
            f"images {self.images_downloaded}/{self.images_found}"
        )
        if self.images_bad:
            line += f" · not pictures {sum(self.images_bad.values())}"
        if self.faults:
            line += f" · retries {sum(self.faults.values())}"
        return line

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("faults", "dropped", "skipped", "files_skipped", "images_bad"):
            data[key] = dict(sorted(getattr(self, key).items()))
        return data
