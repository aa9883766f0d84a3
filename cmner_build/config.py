"""Workspace settings: `cmner.toml`, written with commented defaults by `cmner-build init`.

Secrets never live here: the Weibo cookie and Doccano passwords come from the environment.
Each stage reads its own table with `section(name)`; the core settings are typed properties.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_NAME = "cmner.toml"

DEFAULT_CONFIG = """\
# cmner-build workspace settings. Every value shown is the default; edit what you need.
# Secrets (the Weibo cookie, Doccano passwords) are never stored here: see the README.

[corpus]
# Hashtag topics to crawl; a post's topic is its category for stratified splits.
topics = ["体育", "旅游", "科技"]
# Posts longer than this many characters (after cleaning) are dropped, as in CMNER.
max_chars = 250
# Seed for every random choice (pilot sample, splits, image draw in baselines).
seed = 42

[split]
# train:dev:test
ratio = "3:1:1"
# Posts whose character 3-gram Jaccard similarity reaches this are kept in one split.
near_duplicate_jaccard = 0.7

[crawl]
# Seconds between requests, plus uniform jitter of up to `jitter` seconds.
delay = 3.0
jitter = 2.0
# Back-off on 418 / 432 / 414 / 5xx / timeouts: base * 2^attempt seconds, capped, then give up.
backoff_base = 10.0
backoff_cap = 600.0
max_retries = 8
timeout = 20.0
# Name of the environment variable that holds the Weibo cookie (the cookie itself is never stored).
cookie_env = "WEIBO_COOKIE"

[clean]
# Text rules run in order; add your own with [[clean.rules]] tables:
# [[clean.rules]]
# name = "strip-signature"
# pattern = "——来自.*$"
# replacement = ""
# enabled = true

[images]
# Perceptual-hash Hamming distance at or below which two images are the same picture.
hamming_threshold = 8
min_side = 100
max_aspect_ratio = 4.0

[doccano]
url = "http://127.0.0.1:8000"
admin_user = "admin"
# The admin password is read from this environment variable.
password_env = "DOCCANO_PASSWORD"

[annotate]
# Annotator usernames; each post is annotated by `per_post` of them.
pool = []
per_post = 3
pilot_size = 100
batch_size = 100

[agreement]
# The pilot passes when mean pairwise strict span F1 reaches this (the paper's 90 %).
pilot_threshold = 0.90
# Votes a span needs to be accepted into the gold without adjudication.
min_votes = 2

[baselines]
# Image encoder for `cmner-build features` (hub name or local folder); grids are cached in features/.
encoder = "microsoft/resnet-152"
# BERT for `cmner-build baseline umt` (hub name or local folder).
bert = "bert-base-chinese"
# auto: a CUDA GPU when torch sees one, else the CPU.
device = "auto"
"""


@dataclass
class Settings:
    """Parsed cmner.toml: a plain dict of tables plus typed access to the core values."""

    data: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self._where()}[{name}] must be a table")
        return value

    def get(self, section: str, key: str, expected: type | tuple[type, ...], default: Any) -> Any:
        value = self.section(section).get(key, default)
        # bool is an int subclass; a float setting may be written as an integer.
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (isinstance(value, bool) and expected in (int, float)):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise ConfigError(f"{self._where()}{section}.{key} must be a {names}, found {value!r}")
        return value

    def _where(self) -> str:
        return f"{self.path}: " if self.path else ""

    @property
    def topics(self) -> list[str]:
        topics = self.get("corpus", "topics", list, ["体育", "旅游", "科技"])
        if not all(isinstance(topic, str) and topic for topic in topics):
            raise ConfigError(f"{self._where()}corpus.topics must be a list of non-empty strings")
        return topics

    @property
    def max_chars(self) -> int:
        return self.get("corpus", "max_chars", int, 250)

    @property
    def seed(self) -> int:
        return self.get("corpus", "seed", int, 42)

    @property
    def split_ratio(self) -> str:
        return self.get("split", "ratio", str, "3:1:1")

    @property
    def near_duplicate_jaccard(self) -> float:
        value = self.get("split", "near_duplicate_jaccard", float, 0.7)
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"{self._where()}split.near_duplicate_jaccard must be in (0, 1], found {value}")
        return value


def default_settings() -> Settings:
    return Settings(tomllib.loads(DEFAULT_CONFIG))


def load_settings(path: Path) -> Settings:
    """Read cmner.toml; a missing file means the defaults."""
    if not path.exists():
        return default_settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8") from None
    return Settings(data, path)
