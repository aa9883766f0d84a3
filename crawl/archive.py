"""The raw-response archive: every body the crawler receives, with the URL it answered.

Layout under `<workspace>/archive/`:

    index.jsonl                one line per archived body: {"file", "url", "kind", "status", "outcome", "at"}
    getindex/<day>/<time>-<hash>.json    getIndex pages
    extend/<mid>.json          statuses/extend bodies (the mid in the name, so any copy still matches)
    detail/<mid>.html          detail pages ($render_data)
    faults/<day>/<time>-<hash>.txt       bodies of failed attempts (captcha, truncated JSON, 418 pages)
    images/<pid>.<ext>         picture bytes, named by the picture id in the URL (a hard link to
                               the workspace's images/ file where the filesystem allows)

`crawl --from-archive DIR` reads this layout, or any folder of bodies with any file names.
Request headers (and so the cookie) are never archived.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

INDEX_NAME = "index.jsonl"
IMAGES_SUBDIR = "images"
PARTIAL_SUBDIR = ".partial"


class ArchiveWriter:
    def __init__(self, archive_dir: Path) -> None:
        self.root = Path(archive_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        # bodies are written here first, then renamed into place: what a kill left here is dropped
        self.partial_dir = self.root / PARTIAL_SUBDIR
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        self.partial_dir.mkdir()

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_SUBDIR

    def write(
        self, *, kind: str, url: str, body: bytes, status: int | None, outcome: str, at: datetime,
        name: str | None = None,
    ) -> str:
        """Store one body; returns its path relative to the archive root."""
        stamp = at.astimezone(timezone.utc)
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
        if outcome.startswith("fault") or outcome == "login":
            relative = Path("faults") / stamp.strftime("%Y%m%d") / f"{stamp.strftime('%H%M%S%f')}-{kind}-{digest}.txt"
        elif name:
            relative = Path(kind) / name
        else:
            relative = Path(kind) / stamp.strftime("%Y%m%d") / f"{stamp.strftime('%H%M%S%f')}-{digest}.json"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.partial_dir / f"{digest}-{stamp.strftime('%H%M%S%f')}.part"
        temporary.write_bytes(body)
        os.replace(temporary, target)
        record = {
            "file": relative.as_posix(), "url": url, "kind": kind, "status": status, "outcome": outcome,
            "at": stamp.isoformat(timespec="seconds"),
        }
        with open(self.root / INDEX_NAME, "a", encoding="utf-8") as index:
            index.write(json.dumps(record, ensure_ascii=False) + "\n")
        return relative.as_posix()

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()


def read_index(archive_dir: Path) -> dict[str, dict]:
    """file (relative, posix) -> its index record; empty when the folder has no index.jsonl."""
    path = Path(archive_dir) / INDEX_NAME
    records: dict[str, dict] = {}
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if isinstance(record, dict) and isinstance(record.get("file"), str):
            records[record["file"]] = record
    return records


def parse_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
