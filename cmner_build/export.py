"""Export the gold corpus as train / dev / test: the CMNER release format, Twitter-2015, JSONL or Parquet.

Re-running with the same seed writes byte-identical files. The split assignment is stored in
corpus.db (posts.split) so that stats and baselines see the same splits as the files. Posts that
already have a split keep it; only `resplit=True` (`export --resplit`) reassigns them.

The steps are kept apart: `choose_splits` (compute, no writes) -> `write_release` (every file into a
staging folder) -> swap the folder in -> `export_record.record_splits` (store). Only one export runs
per workspace; a kill at any instant leaves the old release with the old splits or the new with the new.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .errors import CmnerError
from .formats import format_tagged
from .hf_parquet import PARQUET_IMAGE_MODES, write_parquet
from .model import BIO_TAGS, Span, spans_to_bio, tokenize
from .export_record import MARKER_NAME, record_pending, record_splits, settle_pending_exports
from .near_duplicates import group_pairs, near_duplicate_pairs
from .safety import (
    UnsafeInputError, atomic_write_text, fault_point, name_problem, path_inside, regular_file, stage_lock,
    staged_folder,
)
from .splits import SPLITS, SplitPlan, parse_ratio, plan_splits
from .privacy import KINDS, refuse_private_data
from .store import Store, utc_now
from .progress import ProgressFactory, no_progress

if TYPE_CHECKING:
    from .workspace import Workspace

# (description, total) -> a context yielding advance(n): console.progress_task, or None for no bar.

EXPORT_FORMATS: tuple[str, ...] = ("cmner", "twitter2015", "jsonl", "parquet")
CARD_NAME = "README.md"  # the dataset card (`export --card`, written by stats.card beside the files)
TOKENIZATION_OF_FORMAT = {"cmner": "char", "twitter2015": "whitespace"}
# Everything an export writes into its folder: only a folder holding nothing else may be replaced.
EXPORT_ENTRY_NAMES = frozenset(
    {f"{split}.{suffix}" for split in SPLITS for suffix in ("txt", "jsonl", "parquet")}
    | {"labels.json", "images", MARKER_NAME, CARD_NAME}
)


@dataclass
class ExportedPost:
    post_id: str
    text: str
    tokenization: str
    topic: str | None
    split: str | None
    dup_group: str | None
    spans: list[Span]
    image_files: list[str]

    def tokens_and_tags(self) -> tuple[list[str], list[str]]:
        tokens = tokenize(self.text, self.tokenization)
        try:
            tags = spans_to_bio(tokens, self.spans)
        except ValueError as error:
            raise CmnerError(f"post {self.post_id}: gold spans do not fit its text: {error}") from None
        return [token.text for token in tokens], tags


@dataclass
class ExportReport:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    posts_by_split: dict[str, int] = field(default_factory=dict)
    images_copied: int = 0
    groups_kept_together: int = 0
    posts_kept_split: int = 0  # posts that kept the split they already had
    posts_newly_assigned: int = 0  # posts that had no split
    posts_moved: int = 0  # posts whose split changed (resplit only)
    # Near-duplicate groups whose posts keep different stored splits (e.g. a release's): a leak that
    # export reports and leaves alone; `resplit` places each group in one split.
    groups_spread_over_splits: list[list[str]] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    refused_posts: list[str] = field(default_factory=list)  # gold posts left out: their id cannot be written


def load_gold_posts(store: Store) -> list[ExportedPost]:
    """Every gold post with its spans and kept images, in the order the posts entered the store."""
    spans = store.gold_spans()
    images: dict[str, list[str]] = {}
    for row in store.query(
        "SELECT post_id, file_name FROM images WHERE status = 'kept' AND file_name IS NOT NULL ORDER BY post_id, position"
    ):
        images.setdefault(row["post_id"], []).append(row["file_name"])
    return [
        ExportedPost(
            row["post_id"], row["text"], row["tokenization"], row["topic"], row["split"], row["dup_group"],
            spans.get(row["post_id"], []), images.get(row["post_id"], []),
        )
        for row in store.query(
            "SELECT post_id, text, tokenization, topic, split, dup_group FROM posts WHERE status = 'gold' ORDER BY rowid"
        )
    ]


def leak_groups(posts: list[ExportedPost], threshold: float, search: str = "exact") -> list[list[str]]:
    """Groups of posts that must share a split: identical / near-identical texts and recorded dup_groups."""
    pairs = [(a, b) for a, b, _ in near_duplicate_pairs({p.post_id: p.text for p in posts}, threshold, method=search)]
    by_dup_group: dict[str, list[str]] = {}
    for post in posts:
        if post.dup_group:
            by_dup_group.setdefault(post.dup_group, []).append(post.post_id)
    for members in by_dup_group.values():
        pairs.extend((members[0], other) for other in members[1:])
    return group_pairs([p.post_id for p in posts], pairs)


def choose_splits(
    posts: list[ExportedPost], ratio: str, seed: int, resplit: bool, threshold: float, search: str
) -> tuple[SplitPlan, list[list[str]]]:
    """Plan the splits (stored ones kept unless resplit) and the near-duplicate groups. Writes nothing."""
    groups = leak_groups(posts, threshold, search)
    plan = plan_splits(
        groups, {p.post_id: p.topic for p in posts}, {p.post_id: p.split for p in posts}, parse_ratio(ratio), seed,
        resplit=resplit,
    )
    return plan, groups


def export_workspace(
    workspace: "Workspace",
    *,
    ratio: str | None = None,
    seed: int | None = None,
    resplit: bool = False,
    fmt: str = "cmner",
    out: Path | None = None,
    parquet_images: str = "embed",
    progress: ProgressFactory | None = None,
) -> ExportReport:
    """`cmner-build export`: the workspace's gold posts into <workspace>/exports/<format> (or `out`),
    with the ratio, seed, near-duplicate settings and privacy kinds of cmner.toml unless given."""
    from .privacy import kinds_from_settings

    settings = workspace.settings
    ratio = ratio or settings.split_ratio
    parse_ratio(ratio)  # a bad ratio is reported before any work starts
    out_dir = out or workspace.exports_dir / fmt
    total = workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status='gold'")
    with (progress or no_progress)("exporting", total) as advance:
        return export_corpus(
            workspace.store, out_dir, fmt=fmt, ratio=ratio,
            seed=settings.seed if seed is None else seed, resplit=resplit,
            near_duplicate_jaccard=settings.near_duplicate_jaccard,
            near_duplicate_search=settings.near_duplicate_search, images_dir=workspace.images_dir,
            parquet_images=parquet_images, progress=advance, private_kinds=kinds_from_settings(settings),
        )



def export_corpus(
    store: Store,
    out_dir: Path,
    *,
    fmt: str = "cmner",
    ratio: str = "3:1:1",
    seed: int = 42,
    resplit: bool = False,
    near_duplicate_jaccard: float = 0.7,
    near_duplicate_search: str = "exact",
    images_dir: Path | None = None,
    parquet_images: str = "embed",
    progress: Callable[[int], None] | None = None,
    private_kinds: Sequence[str] = KINDS,
) -> ExportReport:
    """Compute the splits, write the release into a folder beside `out_dir`, swap it in, record the splits.

    One export per workspace at a time (`stage_lock`); a kill at any instant leaves the old folder with
    the old splits or the new folder with the new splits (see `export_record`).
    """
    if fmt not in EXPORT_FORMATS:
        raise CmnerError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    parse_ratio(ratio)  # reject a bad ratio before touching anything
    if parquet_images not in PARQUET_IMAGE_MODES:
        raise CmnerError(f"unknown Parquet image mode {parquet_images!r}; choose {' or '.join(PARQUET_IMAGE_MODES)}")
    out_dir = Path(out_dir)
    with stage_lock(store.path.parent, "export"):
        settle_pending_exports(store)
        posts = load_gold_posts(store)
        # An id with a line break or another control character (stored by an older version) would
        # break the line-based release formats: such posts are left out and named.
        refused = [post.post_id for post in posts if name_problem(post.post_id) is not None]
        posts = [post for post in posts if name_problem(post.post_id) is None]
        if not posts:
            raise CmnerError("no gold posts to export: import a release or adjudicate annotations first")
        _check_tokenization(posts, fmt)
        check_replaceable(out_dir)
        refuse_private_data(store, private_kinds)  # before anything is written, the split assignment included
        plan, groups = choose_splits(posts, ratio, seed, resplit, near_duplicate_jaccard, near_duplicate_search)
        assignment = plan.assignment
        report = ExportReport(
            out_dir=out_dir,
            groups_kept_together=sum(1 for group in groups if len(group) > 1) - len(plan.spread_groups),
            posts_kept_split=plan.kept,
            posts_newly_assigned=plan.newly_assigned,
            posts_moved=plan.moved,
            groups_spread_over_splits=plan.spread_groups,
            refused_posts=refused,
        )
        export_id = uuid.uuid4().hex
        with staged_folder(out_dir) as staging:
            write_release(staging, posts, assignment, fmt, images_dir, report, progress, parquet_images)
            atomic_write_text(staging / MARKER_NAME, json.dumps(
                {"export_id": export_id, "format": fmt, "ratio": ratio, "seed": seed, "created_at": utc_now()}
            ) + "\n")
            record_pending(store, export_id, out_dir, assignment, ratio=ratio, seed=seed, resplit=resplit,
                           kept=plan.kept, newly_assigned=plan.newly_assigned, moved=plan.moved,
                           groups_spread_over_splits=len(plan.spread_groups),
                           format=fmt)
            fault_point("export.before_swap")
        fault_point("export.after_swap")
        record_splits(store, export_id)
    report.files = [out_dir / path.name for path in report.files]
    return report


def _check_tokenization(posts: list[ExportedPost], fmt: str) -> None:
    wanted_tokenization = TOKENIZATION_OF_FORMAT.get(fmt)
    if wanted_tokenization is None:
        return
    wrong = [p.post_id for p in posts if p.tokenization != wanted_tokenization]
    if wrong:
        other = "twitter2015" if fmt == "cmner" else "cmner"
        raise CmnerError(
            f"{len(wrong)} posts (e.g. {wrong[0]}) are {'word' if fmt == 'cmner' else 'character'}-tokenized "
            f"and cannot be written as {fmt}; use --format {other}, jsonl or parquet"
        )


def check_replaceable(out_dir: Path) -> None:
    """An export replaces its folder whole: refuse a folder holding anything an export does not write."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise CmnerError(f"{out_dir} exists and is not a folder; choose a new or empty folder for the export")
    foreign = sorted(entry.name for entry in out_dir.iterdir() if entry.name not in EXPORT_ENTRY_NAMES)
    if foreign:
        raise CmnerError(
            f"{out_dir} holds files an export does not write (e.g. {foreign[0]!r}); the export replaces the "
            "whole folder, so choose a new or empty folder"
        )


def write_release(
    folder: Path,
    posts: list[ExportedPost],
    assignment: dict[str, str],
    fmt: str,
    images_dir: Path | None,
    report: ExportReport,
    progress: Callable[[int], None] | None = None,
    parquet_images: str = "embed",
) -> None:
    """Every file of the release into `folder` (a fresh staging folder): split files, labels, images."""
    by_split: dict[str, list[ExportedPost]] = {split: [] for split in SPLITS}
    for post in posts:
        by_split[assignment[post.post_id]].append(post)
    for split in SPLITS:
        records = []
        for post in by_split[split]:
            tokens, tags = post.tokens_and_tags()
            records.append((post, tokens, tags))
            if progress is not None:
                progress(1)
        report.posts_by_split[split] = len(records)
        if fmt in ("cmner", "twitter2015"):
            path = folder / f"{split}.txt"
            path.write_bytes(format_tagged(((p.post_id, t, g) for p, t, g in records), fmt).encode("utf-8"))
        elif fmt == "jsonl":
            path = folder / f"{split}.jsonl"
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                for record in records:
                    handle.write(json.dumps(_hf_record(*record), ensure_ascii=False) + "\n")
        else:
            path = folder / f"{split}.parquet"
            report.missing_images += write_parquet(path, [_hf_record(*record) for record in records],
                                                   images=parquet_images, images_dir=images_dir)
        report.files.append(path)
        fault_point("export.split_file")

    if fmt in ("jsonl", "parquet"):
        labels_path = folder / "labels.json"
        labels_path.write_text(json.dumps(list(BIO_TAGS), ensure_ascii=False) + "\n", encoding="utf-8")
        report.files.append(labels_path)
    if images_dir is not None:
        report.images_copied, missing = _copy_images(posts, images_dir, folder / "images")
        report.missing_images = sorted(set(report.missing_images) | set(missing))


def _hf_record(post: ExportedPost, tokens: list[str], tags: list[str]) -> dict:
    tag_ids = {tag: index for index, tag in enumerate(BIO_TAGS)}
    return {
        "id": post.post_id,
        "tokens": tokens,
        "ner_tags": [tag_ids[tag] for tag in tags],
        "images": [f"images/{name}" for name in post.image_files],
        "topic": post.topic or "",
    }


def _copy_images(posts: list[ExportedPost], source_dir: Path, target_dir: Path) -> tuple[int, list[str]]:
    """Copy each exported post's kept images into the (staging) release under their release names.

    Copies, not hard links: a user who edits a released image in place must not change the workspace's.
    A name that would leave images/, a link or a missing file is reported as missing, never followed.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    missing: list[str] = []
    for post in posts:
        for name in post.image_files:
            try:
                source = regular_file(path_inside(source_dir, name))
            except UnsafeInputError:
                missing.append(name)
                continue
            shutil.copyfile(source, target_dir / name)
            copied += 1
            fault_point("export.image")
    return copied, missing
