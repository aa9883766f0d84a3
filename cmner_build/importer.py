"""Import an existing release (CMNER or Twitter-2015 format) into the store as gold.

All files are parsed and checked before anything is written, and the write is one transaction:
a bad file leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import FormatError
from .formats import FORMATS, read_tagged_file, split_from_filename
from .model import Span, bio_to_spans, tokenize
from .store import Store, utc_now

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")


@dataclass
class ImportReport:
    posts_added: int = 0
    posts_unchanged: int = 0
    images_added: int = 0
    entities: int = 0
    by_split: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Posts already stored whose file gives another split: (post id, stored split or None, file's split).
    split_differs: list[tuple[str, str | None, str]] = field(default_factory=list)
    splits_taken: int = 0  # of those, how many now have the file's split (take_file_splits)


def infer_topic(text: str, topics: Sequence[str]) -> str | None:
    """The crawl category of a released post: the configured topic whose `#topic#` hashtag occurs last.

    Weibo appends the category hashtag at the end of CMNER posts (`…#体育#`); when a post carries two
    category hashtags the later one is the appended category.
    """
    best: tuple[int, str] | None = None
    for topic in topics:
        position = text.rfind(f"#{topic}#")
        if position >= 0 and (best is None or position > best[0]):
            best = (position, topic)
    return best[1] if best else None


def index_images(images_dir: Path) -> dict[str, list[Path]]:
    """post id -> image files, for release names `{id}_{suffix}.ext` (CMNER) and `{id}.ext` (Twitter-2015)."""
    by_post: dict[str, list[Path]] = {}
    if not images_dir.is_dir():
        raise FormatError("image folder not found", images_dir)
    for path in sorted(images_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        post_id = path.stem.split("_", 1)[0]
        by_post.setdefault(post_id, []).append(path)
    return by_post


def import_release(
    store: Store,
    paths: Sequence[Path],
    fmt: str,
    *,
    topics: Sequence[str] = (),
    images_dir: Path | None = None,
    workspace_images_dir: Path | None = None,
    strict: bool = False,
    take_file_splits: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Add the files' posts as gold; posts already stored must match, and keep their split.

    A stored post whose file names another split (from the file name: train / dev / test) is listed in
    `split_differs`; with take_file_splits it takes the file's split.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    tokenization = FORMATS[fmt]["tokenization"]
    report = ImportReport()
    parsed: list[tuple[Path, str | None, object]] = []
    seen: dict[str, str] = {}
    for path in paths:
        result = read_tagged_file(path, fmt, strict=strict)
        report.warnings.extend(result.warnings)
        split = split_from_filename(path)
        for document in result.documents:
            where = f"{path}:{document.line}"
            if document.doc_id in seen:
                raise FormatError(f"post id {document.doc_id!r} already appears at {seen[document.doc_id]}", path, document.line)
            seen[document.doc_id] = where
            parsed.append((path, split, document))

    existing = {
        row["post_id"]: row
        for row in store.query("SELECT post_id, text, source, split FROM posts")
    }
    existing_gold = store.gold_spans()
    image_index = index_images(images_dir) if images_dir is not None else {}

    rows: list[tuple] = []
    span_rows: list[tuple] = []
    image_jobs: list[tuple[str, int, Path]] = []
    now = utc_now()
    for path, split, document in parsed:
        text = ("" if tokenization == "char" else " ").join(document.tokens)
        tokens = tokenize(text, tokenization)
        spans = bio_to_spans(tokens, document.tags, strict=False)
        previous = existing.get(document.doc_id)
        if previous is not None:
            if previous["text"] == text and existing_gold.get(document.doc_id, []) == sorted(spans):
                report.posts_unchanged += 1
                if split is not None and previous["split"] != split:
                    report.split_differs.append((document.doc_id, previous["split"], split))
                continue
            raise FormatError(
                f"post {document.doc_id!r} is already in the store ({previous['source']}) with other text or tags; "
                "nothing was imported",
                path,
                document.line,
            )
        rows.append(
            (document.doc_id, infer_topic(text, topics), f"import:{fmt}", text, text, tokenization, "gold", split,
             json.dumps({"imported_from": str(path)}, ensure_ascii=False), now, now)
        )
        span_rows.extend((document.doc_id, s.start, s.end, s.label, "import") for s in spans)
        report.posts_added += 1
        report.entities += len(spans)
        report.by_split[split or "none"] = report.by_split.get(split or "none", 0) + 1
        for position, image_path in enumerate(image_index.get(document.doc_id, [])):
            image_jobs.append((document.doc_id, position, image_path))
        if progress is not None:
            progress(1)

    copied: list[Path] = []
    try:
        image_rows = []
        for post_id, position, source_path in image_jobs:
            file_name = source_path.name
            if workspace_images_dir is not None:
                target = workspace_images_dir / file_name
                if not target.exists():
                    shutil.copyfile(source_path, target)
                    copied.append(target)
            image_rows.append((post_id, position, file_name, "kept", now))
        with store.transaction() as connection:
            connection.executemany(
                "INSERT INTO posts (post_id, topic, source, original_text, text, tokenization, status, split, meta,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            connection.executemany(
                "INSERT INTO gold_spans (post_id, start, end, label, source) VALUES (?, ?, ?, ?, ?)", span_rows
            )
            connection.executemany(
                "INSERT INTO images (post_id, position, file_name, status, meta) VALUES (?, ?, ?, ?, "
                "json_object('imported_at', ?))",
                image_rows,
            )
            if take_file_splits and report.split_differs:
                connection.executemany(
                    "UPDATE posts SET split = ?, updated_at = ? WHERE post_id = ?",
                    [(file_split, now, post_id) for post_id, _, file_split in report.split_differs],
                )
                report.splits_taken = len(report.split_differs)
            store.log_event(
                "import", "done", f"imported {report.posts_added} posts from {len(paths)} file(s)",
                format=fmt, files=[str(p) for p in paths], posts=report.posts_added, images=len(image_rows),
                split_differs=len(report.split_differs), splits_taken=report.splits_taken,
            )
    except BaseException:
        for target in copied:
            target.unlink(missing_ok=True)
        raise
    report.images_added = len(image_jobs)
    return report
