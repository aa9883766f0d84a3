"""Export the gold corpus as train / dev / test: the CMNER release format, Twitter-2015, JSONL or Parquet.

Re-running with the same seed writes byte-identical files. The split assignment is stored in
corpus.db (posts.split) so that stats and baselines see the same splits as the files.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import nullcontext
from typing import TYPE_CHECKING, Callable, ContextManager

from .errors import CmnerError
from .formats import format_tagged
from .model import BIO_TAGS, Span, spans_to_bio, tokenize
from .near_duplicates import group_pairs, near_duplicate_pairs
from .splits import SPLITS, assign_splits, parse_ratio
from .store import Store, utc_now

if TYPE_CHECKING:
    from .workspace import Workspace

# (description, total) -> a context yielding advance(n): console.progress_task, or None for no bar.
ProgressFactory = Callable[[str, "int | None"], ContextManager[Callable[..., None]]]

EXPORT_FORMATS: tuple[str, ...] = ("cmner", "twitter2015", "jsonl", "parquet")
TOKENIZATION_OF_FORMAT = {"cmner": "char", "twitter2015": "whitespace"}


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
    missing_images: list[str] = field(default_factory=list)


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


def leak_groups(posts: list[ExportedPost], threshold: float) -> list[list[str]]:
    """Groups of posts that must share a split: identical / near-identical texts and recorded dup_groups."""
    pairs = [(a, b) for a, b, _ in near_duplicate_pairs({p.post_id: p.text for p in posts}, threshold)]
    by_dup_group: dict[str, list[str]] = {}
    for post in posts:
        if post.dup_group:
            by_dup_group.setdefault(post.dup_group, []).append(post.post_id)
    for members in by_dup_group.values():
        pairs.extend((members[0], other) for other in members[1:])
    return group_pairs([p.post_id for p in posts], pairs)


def choose_splits(
    store: Store, posts: list[ExportedPost], ratio: str, seed: int, keep_splits: bool, threshold: float
) -> tuple[dict[str, str], int]:
    groups = leak_groups(posts, threshold)
    fixed = {p.post_id: p.split for p in posts if keep_splits and p.split}
    assignment = assign_splits(groups, {p.post_id: p.topic for p in posts}, parse_ratio(ratio), seed, fixed)
    with store.transaction():
        store.connection.executemany(
            "UPDATE posts SET split = ?, updated_at = ? WHERE post_id = ? AND split IS NOT ?",
            [(split, utc_now(), post_id, split) for post_id, split in assignment.items()],
        )
        store.log_event("export", "splits", f"assigned {len(assignment)} posts", ratio=ratio, seed=seed,
                        keep_splits=keep_splits)
    return assignment, sum(1 for group in groups if len(group) > 1)


def export_workspace(
    workspace: "Workspace",
    *,
    ratio: str | None = None,
    seed: int | None = None,
    keep_splits: bool = False,
    fmt: str = "cmner",
    out: Path | None = None,
    progress: ProgressFactory | None = None,
) -> ExportReport:
    """`cmner-build export`: the workspace's gold posts into <workspace>/exports/<format> (or `out`),
    with the ratio, seed and near-duplicate threshold of cmner.toml unless given."""
    settings = workspace.settings
    ratio = ratio or settings.split_ratio
    parse_ratio(ratio)  # a bad ratio is reported before any work starts
    out_dir = out or workspace.exports_dir / fmt
    total = workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status='gold'")
    with (progress or _no_progress)("exporting", total) as advance:
        return export_corpus(
            workspace.store, out_dir, fmt=fmt, ratio=ratio,
            seed=settings.seed if seed is None else seed, keep_splits=keep_splits,
            near_duplicate_jaccard=settings.near_duplicate_jaccard, images_dir=workspace.images_dir,
            progress=advance,
        )


def _no_progress(_description: str, _total: int | None) -> ContextManager[Callable[..., None]]:
    return nullcontext(lambda *_args, **_kwargs: None)


def export_corpus(
    store: Store,
    out_dir: Path,
    *,
    fmt: str = "cmner",
    ratio: str = "3:1:1",
    seed: int = 42,
    keep_splits: bool = False,
    near_duplicate_jaccard: float = 0.7,
    images_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    if fmt not in EXPORT_FORMATS:
        raise CmnerError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    parse_ratio(ratio)  # reject a bad ratio before touching anything
    posts = load_gold_posts(store)
    if not posts:
        raise CmnerError("no gold posts to export: import a release or adjudicate annotations first")
    wanted_tokenization = TOKENIZATION_OF_FORMAT.get(fmt)
    if wanted_tokenization is not None:
        wrong = [p.post_id for p in posts if p.tokenization != wanted_tokenization]
        if wrong:
            other = "twitter2015" if fmt == "cmner" else "cmner"
            raise CmnerError(
                f"{len(wrong)} posts (e.g. {wrong[0]}) are {'word' if fmt == 'cmner' else 'character'}-tokenized "
                f"and cannot be written as {fmt}; use --format {other}, jsonl or parquet"
            )

    assignment, groups_together = choose_splits(store, posts, ratio, seed, keep_splits, near_duplicate_jaccard)
    report = ExportReport(out_dir=out_dir, groups_kept_together=groups_together)
    out_dir.mkdir(parents=True, exist_ok=True)
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
            path = out_dir / f"{split}.txt"
            path.write_bytes(format_tagged(((p.post_id, t, g) for p, t, g in records), fmt).encode("utf-8"))
        elif fmt == "jsonl":
            path = out_dir / f"{split}.jsonl"
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                for record in records:
                    handle.write(json.dumps(_hf_record(*record), ensure_ascii=False) + "\n")
        else:
            path = out_dir / f"{split}.parquet"
            _write_parquet(path, [_hf_record(*record) for record in records])
        report.files.append(path)

    if fmt in ("jsonl", "parquet"):
        labels_path = out_dir / "labels.json"
        labels_path.write_text(json.dumps(list(BIO_TAGS), ensure_ascii=False) + "\n", encoding="utf-8")
        report.files.append(labels_path)
    if images_dir is not None:
        report.images_copied, report.missing_images = _copy_images(posts, images_dir, out_dir / "images")
    return report


def _hf_record(post: ExportedPost, tokens: list[str], tags: list[str]) -> dict:
    tag_ids = {tag: index for index, tag in enumerate(BIO_TAGS)}
    return {
        "id": post.post_id,
        "tokens": tokens,
        "ner_tags": [tag_ids[tag] for tag in tags],
        "images": [f"images/{name}" for name in post.image_files],
        "topic": post.topic or "",
    }


def _write_parquet(path: Path, records: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    string_list = {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    features = {
        "id": {"dtype": "string", "_type": "Value"},
        "tokens": string_list,
        "ner_tags": {"feature": {"names": list(BIO_TAGS), "_type": "ClassLabel"}, "_type": "Sequence"},
        "images": string_list,
        "topic": {"dtype": "string", "_type": "Value"},
    }
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("tokens", pa.list_(pa.string())),
            ("ner_tags", pa.list_(pa.int64())),
            ("images", pa.list_(pa.string())),
            ("topic", pa.string()),
        ],
        # Lets Hugging Face `datasets` load ner_tags as a ClassLabel with the tag names.
        metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode("utf-8")},
    )
    table = pa.Table.from_pylist(records, schema=schema)
    pq.write_table(table, path)


def _copy_images(posts: list[ExportedPost], source_dir: Path, target_dir: Path) -> tuple[int, list[str]]:
    """Copy each exported post's kept images beside the text under their release names."""
    target_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    missing: list[str] = []
    for post in posts:
        for name in post.image_files:
            source = source_dir / name
            target = target_dir / name
            if not source.is_file():
                missing.append(name)
                continue
            if target.is_file() and target.stat().st_size == source.stat().st_size:
                continue
            shutil.copyfile(source, target)
            copied += 1
    return copied, missing
