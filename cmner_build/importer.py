"""Import an existing release (CMNER or Twitter-2015 format) into the store as gold.

All files are parsed and checked before anything is written (`read_release`), and the write is one
transaction (`store_release`): a bad file leaves the store exactly as it was.

Imported images are outside files like crawled ones: the importer only takes regular files with valid
names (links are refused, never followed), copies them atomically and stores them as `downloaded`.
Deciding whether a file is a usable image is the images stage's job (the core imports no stage): the
`import` command runs it on the imported images right after, and `export` only takes `kept` images.
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import CmnerError, FormatError
from .formats import FORMATS, TaggedDocument, read_tagged_file, split_from_filename
from .model import bio_to_spans, tokenize
from .safety import (
    UnsafeInputError, atomic_write_bytes, fault_point, is_valid_post_id, name_problem, path_inside, regular_file,
    stage_lock,
)
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
    images_refused: list[str] = field(default_factory=list)  # "<path>: <reason>" for each image not taken
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


@dataclass
class ImageFolder:
    """A release's image folder, checked: usable files by post id, and every refused file with its reason."""

    by_post: dict[str, list[Path]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # "<path>: <reason>"


def scan_image_folder(images_dir: Path) -> ImageFolder:
    """Release images named `{id}_{suffix}.ext` (CMNER) and `{id}.ext` (Twitter-2015), checked by name only.

    Links are refused, never followed; so are names that are not plain file names and names whose
    post id is not valid. Other files (a readme, a folder without an image suffix) are ignored.
    """
    folder = ImageFolder()
    if not images_dir.is_dir():
        raise FormatError("image folder not found", images_dir)
    for path in sorted(images_dir.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        problem = name_problem(path.name)
        post_id = path.stem.split("_", 1)[0]
        if problem is not None:
            folder.refused.append(f"{images_dir}/{path.name!r}: the file name {problem}")  # repr: no raw control characters
            continue
        if not is_valid_post_id(post_id):
            folder.refused.append(f"{path}: post id {post_id!r} in the file name is not valid")
            continue
        try:
            regular_file(path)
        except UnsafeInputError as error:
            folder.refused.append(str(error))
            continue
        folder.by_post.setdefault(post_id, []).append(path)
    return folder


def index_images(images_dir: Path) -> dict[str, list[Path]]:
    """post id -> usable image files of a release folder (see `scan_image_folder`)."""
    return scan_image_folder(images_dir).by_post


@dataclass
class Release:
    """Release files parsed and checked, with their image folder: nothing is written yet."""

    fmt: str
    paths: list[Path]
    documents: list[tuple[Path, str | None, TaggedDocument]]
    images: ImageFolder | None
    warnings: list[str] = field(default_factory=list)


def read_release(paths: Sequence[Path], fmt: str, *, images_dir: Path | None = None, strict: bool = False) -> Release:
    """Parse every file and scan the image folder; raises FormatError (file:line) on the first bad input."""
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    release = Release(fmt, [Path(p) for p in paths], [], None)
    seen: dict[str, str] = {}
    for path in release.paths:
        result = read_tagged_file(path, fmt, strict=strict)
        release.warnings.extend(result.warnings)
        split = split_from_filename(path)
        for document in result.documents:
            where = f"{path}:{document.line}"
            if document.doc_id in seen:
                raise FormatError(f"post id {document.doc_id!r} already appears at {seen[document.doc_id]}", path, document.line)
            seen[document.doc_id] = where
            release.documents.append((path, split, document))
    if images_dir is not None:
        release.images = scan_image_folder(Path(images_dir))
    return release


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
    release = read_release(paths, fmt, images_dir=images_dir, strict=strict)
    return store_release(store, release, topics=topics, workspace_images_dir=workspace_images_dir,
                         take_file_splits=take_file_splits, progress=progress)


def store_release(
    store: Store,
    release: Release,
    *,
    topics: Sequence[str] = (),
    workspace_images_dir: Path | None = None,
    take_file_splits: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store a checked release as gold; its images as `downloaded`, for the images stage to check.

    One import per workspace at a time (`stage_lock`). Images are copied under a temporary name and
    renamed, so a kill never leaves a partial copy under a release name; the rows are written in one
    transaction after every copy, so a kill leaves either the whole import or none of it.
    """
    fmt = release.fmt
    tokenization = FORMATS[fmt]["tokenization"]
    report = ImportReport(warnings=list(release.warnings))
    if release.images is not None:
        report.images_refused = list(release.images.refused)
    image_index = release.images.by_post if release.images is not None else {}
    with stage_lock(store.path.parent, "import"):
        existing = {
            row["post_id"]: row
            for row in store.query("SELECT post_id, text, source, split FROM posts")
        }
        existing_gold = store.gold_spans()

        rows: list[tuple] = []
        span_rows: list[tuple] = []
        image_jobs: list[tuple[str, int, Path]] = []
        now = utc_now()
        for path, split, document in release.documents:
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
                    try:
                        if _copy_image(source_path, path_inside(workspace_images_dir, file_name)):
                            copied.append(workspace_images_dir / file_name)
                    except UnsafeInputError as error:
                        report.images_refused.append(str(error))
                        continue
                    fault_point("import.image_copied")
                image_rows.append((post_id, position, file_name, "downloaded", now, str(source_path)))
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
                    "json_object('imported_at', ?, 'imported_from', ?))",
                    image_rows,
                )
                if take_file_splits and report.split_differs:
                    connection.executemany(
                        "UPDATE posts SET split = ?, updated_at = ? WHERE post_id = ?",
                        [(file_split, now, post_id) for post_id, _, file_split in report.split_differs],
                    )
                    report.splits_taken = len(report.split_differs)
                store.log_event(
                    "import", "done", f"imported {report.posts_added} posts from {len(release.paths)} file(s)",
                    format=fmt, files=[str(p) for p in release.paths], posts=report.posts_added, images=len(image_rows),
                    images_refused=len(report.images_refused), split_differs=len(report.split_differs),
                    splits_taken=report.splits_taken,
                )
        except sqlite3.IntegrityError as error:
            for target in copied:
                target.unlink(missing_ok=True)
            raise CmnerError(f"another process stored some of these posts meanwhile ({error}); run the import again") from None
        except BaseException:
            for target in copied:
                target.unlink(missing_ok=True)
            raise
    report.images_added = len(image_rows)
    return report


def _copy_image(source: Path, target: Path) -> bool:
    """Copy a release image without following links, under a temporary name then renamed into place.

    Returns True when it wrote `target`; False when `target` already holds the same bytes.
    """
    try:
        handle = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise UnsafeInputError(f"{source}: cannot be read ({error.strerror})") from None
    with os.fdopen(handle, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise UnsafeInputError(f"{source}: is not a regular file")
        data = reader.read()
    # A killed earlier run may have left its temporary copy (`.<name>.<random>.tmp`): this run replaces it.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
        return False
    atomic_write_bytes(target, data)
    return True
