"""The settings of the clean and images stages, read from cmner.toml ([clean], [images]) and checked."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cmner_build.config import DEFAULT_MAX_CHARS, Settings
from cmner_build.errors import ConfigError
from cmner_build.privacy import KINDS, RULES_FINGERPRINT, kinds_from_settings

from cmner_build.clean.content_filter import ContentFilter, default_lexicon_path
from cmner_build.clean.text_rules import TextRule, describe_rules, rules_from_settings


@dataclass
class CleanOptions:
    rules: list[TextRule]
    redact_kinds: tuple[str, ...] = KINDS
    content_filter: ContentFilter = field(default_factory=ContentFilter)
    max_chars: int = DEFAULT_MAX_CHARS
    near_duplicate_jaccard: float = 0.7
    near_duplicate_search: str = "exact"
    keep_one_per_group: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, root: Path) -> "CleanOptions":
        where = str(settings.path) if settings.path else "cmner.toml"
        section = settings.section("clean")
        rules = rules_from_settings(section, where)
        lexicon_paths: list[Path] = []
        if settings.get("clean", "default_lexicon", bool, True):
            lexicon_paths.append(default_lexicon_path())
        for index, name in enumerate(settings.get("clean", "lexicons", list, [])):
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: clean.lexicons[{index}] must be a file path, found {name!r}")
            path = Path(os.path.expanduser(name))
            path = path if path.is_absolute() else root / path
            if not path.is_file():
                raise ConfigError(f"{where}: clean.lexicons[{index}]: lexicon file {path} not found")
            lexicon_paths.append(path)
        return cls(
            rules=rules,
            redact_kinds=kinds_from_settings(settings),
            content_filter=ContentFilter.from_files(lexicon_paths),
            max_chars=settings.max_chars,
            near_duplicate_jaccard=settings.near_duplicate_jaccard,
            near_duplicate_search=settings.near_duplicate_search,
            keep_one_per_group=settings.get("clean", "keep_one_per_group", bool, False),
        )

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that decides a post's cleaned text or drop changes."""
        described = {
            "rules": [(r["name"], r["enabled"], r["pattern"], r["replacement"]) for r in describe_rules(self.rules)],
            "redact": list(self.redact_kinds),
            "privacy_rules": RULES_FINGERPRINT,
            "lexicon": self.content_filter.fingerprint,
            "max_chars": self.max_chars,
            "jaccard": self.near_duplicate_jaccard,
            "near_duplicate_search": self.near_duplicate_search,
            "keep_one_per_group": self.keep_one_per_group,
        }
        return hashlib.sha256(json.dumps(described, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


@dataclass
class ImageOptions:
    hamming_threshold: int = 8  # notes §A2: same picture <= 4 bits, distinct real images >= 22
    hash_margin: float = 0.08  # cut from each side before hashing: Weibo's corner watermark
    colour_tolerance: float = 0.05  # same picture also needs a similar colour balance (reposts: <= 0.01)
    min_side: int = 100
    max_aspect_ratio: float = 4.0
    blank_stddev: float = 6.0  # notes §A3: photos 17-57, blanks below 5
    max_pixels: int = 89_478_485  # Pillow's own decompression-bomb limit
    drop_animated: bool = True
    workers: int = 0  # 0: one process per core

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImageOptions":
        where = str(settings.path) if settings.path else "cmner.toml"
        options = cls(
            hamming_threshold=settings.get("images", "hamming_threshold", int, 8),
            hash_margin=settings.get("images", "hash_margin", float, 0.08),
            colour_tolerance=settings.get("images", "colour_tolerance", float, 0.05),
            min_side=settings.get("images", "min_side", int, 100),
            max_aspect_ratio=settings.get("images", "max_aspect_ratio", float, 4.0),
            blank_stddev=settings.get("images", "blank_stddev", float, 6.0),
            max_pixels=settings.get("images", "max_pixels", int, 89_478_485),
            drop_animated=settings.get("images", "drop_animated", bool, True),
            workers=settings.get("images", "workers", int, 0),
        )
        checks = [
            ("hamming_threshold", 0 <= options.hamming_threshold <= 64, "between 0 and 64"),
            ("hash_margin", 0.0 <= options.hash_margin < 0.5, "at least 0 and below 0.5"),
            ("colour_tolerance", 0.0 <= options.colour_tolerance <= 1.0, "between 0 and 1"),
            ("min_side", options.min_side >= 1, "at least 1"),
            ("max_aspect_ratio", options.max_aspect_ratio >= 1.0, "at least 1.0"),
            ("blank_stddev", options.blank_stddev >= 0.0, "at least 0"),
            ("max_pixels", options.max_pixels >= 1, "at least 1"),
            ("workers", options.workers >= 0, "0 (all cores) or more"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{where}: images.{key} must be {expected}, found {getattr(options, key)}")
        return options

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1
