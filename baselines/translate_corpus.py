"""Translate an exported corpus into the other language with SPAN placeholders: `cmner-build translate`.

Reads an export folder (CMNER or Twitter-2015 layout), masks every post (baselines/span_translation.py),
translates the distinct masked sentences and entity strings in batches, maps the labels back, and
writes a new export folder in the target language's layout, images carried over:

    OUTPUT/{train,dev|valid,test}.txt   the surviving posts (CMNER layout for zh, Twitter-2015 for en)
    OUTPUT/images/                      the images of the surviving posts, under their release names
    OUTPUT/translation.json             source, direction, translator, counts, rejection reasons
    OUTPUT/rejected.jsonl               one line per rejected post: split, post_id, reason, texts

The folder is written beside the target and swapped in whole (`staged_folder`), so a kill leaves the
old output or the new one. Translations are appended to a cache file after every batch (JSONL
`{"source", "target"}`, the format `--translator file` reads), so an interrupted run resumes where it
stopped and a rerun translates nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from cmner_build.errors import CmnerError
from cmner_build.formats import format_tagged
from cmner_build.safety import is_valid_post_id, path_inside, regular_file, staged_folder

from cmner_build.baselines.settings import (
    FORMAT_OF_LANGUAGE,
    LANGUAGE_OF_FORMAT,
    PLACEHOLDER,
    SPLIT_FILE_NAMES,
    TRANSLATE_BATCH_SIZE,
)
from cmner_build.baselines.data import SPLIT_ORDER, Post, load_export
from cmner_build.baselines.span_translation import MaskedPost, Rejected, mask_post, unmask
from cmner_build.baselines.translators import Translator, one_line, read_translation_file
from cmner_build.progress import no_progress


@dataclass
class TranslationReport:
    source_dir: str
    output_dir: str
    direction: str  # "en-zh" or "zh-en"
    translator: str
    cache: str | None
    posts: dict[str, int] = field(default_factory=dict)  # split -> posts read
    kept: dict[str, int] = field(default_factory=dict)  # split -> posts written
    entities: int = 0  # entities in the source posts
    entities_kept: int = 0  # entities in the written posts
    strings: int = 0  # distinct sentences and entity strings
    translated: int = 0  # of those, translated in this run (the rest came from the cache)
    images: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # rejection reason (kind) -> posts

    @property
    def rejected(self) -> int:
        return sum(self.posts.values()) - sum(self.kept.values())

    def to_dict(self) -> dict:
        return asdict(self) | {"rejected": self.rejected}


def direction_of(source_language: str, target_language: str) -> str:
    return f"{source_language}-{target_language}"


class TranslationCache:
    """source -> target, loaded from a JSONL file and appended to after every batch."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.table: dict[str, str] = read_translation_file(self.path, missing_ok=True) if self.path else {}
        # A run killed mid-line left a partial last line (ignored when reading): append on a fresh line.
        self.needs_newline = False
        if self.path is not None and self.path.is_file() and self.path.stat().st_size:
            with self.path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                self.needs_newline = handle.read(1) != b"\n"

    def add(self, pairs: list[tuple[str, str]]) -> None:
        for source, target in pairs:
            self.table[source] = target
        if self.path is None or not pairs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8", newline="\n") as handle:
            if self.needs_newline:
                handle.write("\n")
                self.needs_newline = False
            for source, target in pairs:
                handle.write(json.dumps({"source": source, "target": target}, ensure_ascii=False) + "\n")
            handle.flush()


def translate_export(
    source_dir: Path,
    target_language: str,
    translator: Translator,
    output_dir: Path,
    *,
    cache_path: Path | None = None,
    batch_size: int = TRANSLATE_BATCH_SIZE,
    placeholder: str = PLACEHOLDER,
    progress: Callable[[str, int], object] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> TranslationReport:
    """Translate the export at `source_dir` into `target_language` ("zh" or "en") and write `output_dir`."""
    data = load_export(Path(source_dir))
    source_language = LANGUAGE_OF_FORMAT[data.fmt]
    if target_language not in FORMAT_OF_LANGUAGE:
        raise CmnerError(f"--to must be one of {', '.join(FORMAT_OF_LANGUAGE)}, not {target_language!r}")
    if target_language == source_language:
        raise CmnerError(f"{source_dir} is already in {target_language} ({data.fmt} layout); nothing to translate")
    if batch_size < 1:
        raise CmnerError("--batch-size must be at least 1")
    output_dir = Path(output_dir)
    if output_dir.resolve() == Path(source_dir).resolve():
        raise CmnerError("the output folder must differ from the source export")
    target_format = FORMAT_OF_LANGUAGE[target_language]
    report = TranslationReport(str(source_dir), str(output_dir), direction_of(source_language, target_language),
                               translator.name, str(cache_path) if cache_path else None)

    masked = _mask_posts(data, source_language, placeholder, report)
    cache = TranslationCache(cache_path)
    missing = _translate_strings(_strings_of(masked), cache, translator, batch_size, report, progress, log)
    documents, kept_posts, rejected_rows = _unmask_posts(masked, cache, missing, target_language, placeholder, report)
    empty = [split for split in ("train", "dev") if split in documents and not documents[split]]
    if empty:
        raise CmnerError(f"no {empty[0]} post of {source_dir} survived translation (rejections: {report.reasons}); "
                         "nothing written")
    with staged_folder(output_dir) as staging:
        for split, docs in documents.items():
            if docs:
                (staging / SPLIT_FILE_NAMES[target_format][split]).write_bytes(
                    format_tagged(docs, target_format).encode("utf-8"))
        report.images = _copy_images(kept_posts, data.images_dir, staging / "images")
        with (staging / "rejected.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
            for row in rejected_rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        (staging / "translation.json").write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


Masked = dict[str, list[tuple[Post, MaskedPost | None, Rejected | None]]]  # split -> (post, masked, rejection)


def _mask_posts(data, source_language: str, placeholder: str, report: TranslationReport) -> Masked:
    """Every post masked; one that cannot be is rejected here, before anything is translated."""
    masked: Masked = {}
    for split in SPLIT_ORDER:
        posts = data.splits.get(split)
        if not posts:
            continue
        report.posts[split] = len(posts)
        masked[split] = []
        for post in posts:
            try:
                if not is_valid_post_id(post.post_id):
                    raise Rejected("invalid post id", f"{post.post_id!r} is not 1-64 ASCII letters and digits")
                item = mask_post(post.post_id, post.tokens, post.tags, source_language, placeholder)
                report.entities += len(item.entities)
                masked[split].append((post, item, None))
            except Rejected as rejection:
                masked[split].append((post, None, rejection))
    return masked


def _texts_of(item: MaskedPost) -> list[str]:
    """What is sent to the translator for a post: its masked sentence, then each entity string."""
    return [one_line(item.sentence), *(one_line(entity.text) for entity in item.entities)]


def _strings_of(masked: Masked) -> list[str]:
    """The distinct strings to translate, in first-seen order."""
    return list(dict.fromkeys(text for items in masked.values() for _, item, _ in items if item is not None
                              for text in _texts_of(item)))


def _translate_strings(needed: list[str], cache: TranslationCache, translator: Translator, batch_size: int,
                       report: TranslationReport, progress, log) -> set[str]:
    """Translate what the cache lacks, batch by batch, appending to the cache after each; returns the
    strings the translator had no translation for (a translations file without them)."""
    report.strings = len(needed)
    todo = [text for text in needed if text not in cache.table]
    if len(todo) < len(needed):
        log(f"{len(needed) - len(todo)} of {len(needed)} strings already translated (cache {cache.path})")
    missing: set[str] = set()
    with (progress or no_progress)(f"translate {report.direction}", len(needed)) as advance:
        advance(len(needed) - len(todo), status="cached")
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            answers = translator.translate(batch)
            if len(answers) != len(batch):
                raise CmnerError(f"{translator.name}: {len(answers)} translations for {len(batch)} sentences")
            missing.update(source for source, target in zip(batch, answers) if target is None)
            pairs = [(source, one_line(target)) for source, target in zip(batch, answers) if target is not None]
            cache.add(pairs)
            report.translated += len(pairs)
            advance(len(batch), status=f"{report.translated} translated")
    return missing


def _unmask_posts(masked: Masked, cache: TranslationCache, missing: set[str], target_language: str,
                  placeholder: str, report: TranslationReport):
    """(documents per split, the posts kept, one row per rejected post); counts go into `report`."""
    reasons: Counter[str] = Counter()
    documents: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    rejected_rows: list[dict] = []
    kept_posts: list[Post] = []
    for split, items in masked.items():
        documents[split] = []
        for post, item, reason in items:
            translation = None
            if item is not None:
                try:
                    texts = _texts_of(item)
                    absent = [text for text in texts if text in missing or text not in cache.table]
                    if absent:
                        raise Rejected("no translation given", repr(absent[0]))
                    translation = cache.table[texts[0]]
                    tokens, tags = unmask(item, translation, [cache.table[text] for text in texts[1:]],
                                          target_language, placeholder)
                    documents[split].append((post.post_id, tokens, tags))
                    kept_posts.append(post)
                    report.entities_kept += len(item.entities)
                    continue
                except Rejected as rejection:
                    reason = rejection
            reasons[reason.kind] += 1
            rejected_rows.append({
                "split": split, "post_id": post.post_id, "reason": reason.kind, "detail": str(reason),
                "source": item.sentence if item is not None else None, "translation": translation,
            })
        report.kept[split] = len(documents[split])
    report.reasons = dict(reasons.most_common())
    return documents, kept_posts, rejected_rows


def _copy_images(posts, source_dir: Path, target_dir: Path) -> int:
    copied = 0
    for post in posts:
        for name in post.image_files:
            source = regular_file(path_inside(source_dir, name))
            if not copied:
                target_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path_inside(target_dir, name))
            copied += 1
    return copied

