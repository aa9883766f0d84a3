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
from .near_duplicates import SEARCH_METHODS

CONFIG_NAME = "cmner.toml"
# Posts longer than this (after cleaning) are dropped, as in CMNER; crawl reports them, clean drops them.
DEFAULT_MAX_CHARS = 250

DEFAULT_CONFIG = f"""\
# cmner-build workspace settings. Every value shown is the default; edit what you need.
# Secrets (the Weibo cookie, Doccano passwords) are never stored here: see the README.

[corpus]
# Hashtag topics to crawl; a post's topic is its category for stratified splits.
topics = ["体育", "旅游", "科技"]
# Posts longer than this many characters (after cleaning) are dropped, as in CMNER.
max_chars = {DEFAULT_MAX_CHARS}
# Seed for every random choice (pilot sample, splits, image draw in baselines).
seed = 42

[split]
# train:dev:test
ratio = "3:1:1"
# Posts whose character 3-gram Jaccard similarity reaches this are kept in one split.
near_duplicate_jaccard = 0.7
# How clean and export find those pairs: "exact" finds every one (all pairs, about a second for
# 20,000 posts); "minhash" (MinHash LSH) is an approximation for corpora far larger, and misses pairs
# near the threshold (docs/near_duplicates.md). The stats leak audit always searches exactly.
near_duplicate_search = "exact"

[crawl]
# Seconds between requests to m.weibo.cn, plus uniform jitter of up to `jitter` seconds.
delay = 3.0
jitter = 2.0
# Seconds between picture downloads (the image CDN, not the API).
image_delay = 1.0
# Back-off on 418 / 432 / 414 / 403 / 5xx / timeouts / non-JSON or captcha replies:
# base * 2^attempt seconds, capped; after max_retries retries the crawl stops (run it again to resume).
backoff_base = 10.0
backoff_cap = 600.0
max_retries = 8
timeout = 20.0
# Name of the environment variable that holds the Weibo cookie (the cookie itself is never stored).
cookie_env = "WEIBO_COOKIE"
# Result lists crawled per topic: the hashtag page (231522type=1&t=10&q=#T#) and search (100103type=1&q=#T#).
containers = ["topic", "search"]
# Base URLs, for mirrors and tests (env CMNER_WEIBO_API_BASE / CMNER_WEIBO_IMAGE_BASE override them).
# With image_base set, picture https://<host>/<path> is fetched from <image_base>/<host>/<path>.
api_base = "https://m.weibo.cn"
image_base = ""
# Referer sent with picture requests (the CDN answers 403 without one); https://m.weibo.cn/ is tried on 403.
image_referer = "https://weibo.com/"

[clean]
# `cmner-build clean` rebuilds posts.text from the original text with the built-in rules (list them
# with `cmner-build clean --list-rules`) and your rules, with redaction before and after them, then the
# content filter.
# Privacy: kinds that are masked (<PHONE>, <ID>, <EMAIL>, <QQ>, <WECHAT>, <CARD>); `export` refuses gold
# posts holding one (mask them with `clean --gold`) and `stats` counts what is left.
redact = ["phone", "id_card", "email", "qq", "wechat", "bank_card"]
# Unfit content: posts with a lexicon term are dropped as unfit:<category>. The bundled lexicon is
# small; add files with one `term<TAB>category` per line (paths relative to this folder).
default_lexicon = true
lexicons = []
# Keep only the first post of each near-duplicate group (see split.near_duplicate_jaccard); the
# others are dropped as near_duplicate. `clean --keep-one-per-group` does the same for one run.
keep_one_per_group = false
# Add a rule, or switch a built-in one on or off by its name, with [[clean.rules]] tables placed
# after the keys above:
# [[clean.rules]]
# name = "strip-signature"
# pattern = "——来自.*$"
# replacement = ""
# enabled = true
#
# [[clean.rules]]
# name = "video-label"      # a built-in rule, off by default
# enabled = true

[images]
# Perceptual-hash (pHash, 64 bits) Hamming distance at or below which two images are the same picture.
hamming_threshold = 8
# Fraction cut from each side before hashing, so that Weibo's corner watermark ("weibo.com/u/...")
# does not make reposts of one picture look different. Changing it changes every hash: re-check.
hash_margin = 0.08
# pHash sees only grey levels: two images are the same picture only if their average colour balance
# (r/(r+g+b), g/(r+g+b)) also differs by at most this. Reposts measure <= 0.01; 1.0 switches it off.
colour_tolerance = 0.05
# Smaller images (shortest side, pixels) are dropped as too_small: emoji, stickers, thumbnails.
min_side = 100
# Longer / shorter side above this is dropped as extreme_aspect (long screenshots, banners).
max_aspect_ratio = 4.0
# Grey-level standard deviation below this is near_blank (photos measure 17-57).
blank_stddev = 6.0
# Images with more pixels are refused unread as decompression_bomb (Pillow's own limit).
max_pixels = 89478485
# Animated GIF / WebP / PNG are dropped (mostly stickers; their first frames collide).
drop_animated = true
# Processes that decode images; 0 means one per core.
workers = 0

[doccano]
# The Doccano server every annotate command talks to (`--url` overrides it).
url = "http://127.0.0.1:8000"
admin_user = "admin"
# The admin password is read from this environment variable (never stored here).
password_env = "DOCCANO_PASSWORD"
# `cmner-build doccano serve`: its data folder (SQLite, media, pid, log), relative to the workspace;
server_dir = "doccano"
# its virtual environment, built on first use ("" = $CMNER_DOCCANO_VENV, else the checkout's
# .venv-doccano when built, else ~/.cache/cmner-build/doccano-1.8.4); Doccano 1.8.4 needs
# Python 3.8-3.11 ("" = found on PATH); gunicorn workers.
server_venv = ""
server_python = ""
workers = 1

[annotate]
# Annotator usernames ([] = everyone added with `annotate users add`); each post of a main batch
# is annotated by `per_post` of them, rotated so that work and pairings stay balanced.
pool = []
per_post = 3
batch_size = 100
# Markdown guideline shown in every project ("" = the bundled Chinese + English one).
guideline = ""
# Doccano project names are "<prefix> <batch id>" ("" = "cmner-<key of this workspace>").
project_prefix = ""
# New annotator passwords are appended here, readable by the owner only (mode 0600).
password_file = "annotator-passwords.tsv"
# An export zip handed over (`annotate pull --from-export`) may unpack to at most this many MiB per
# member and in total (a real batch export is a few hundred KB; the limits stop zip bombs).
export_member_mb = 256
export_total_mb = 1024

[agreement]
# The pilot passes when mean pairwise strict span F1 reaches this (the paper's 90 %).
pilot_threshold = 0.90
# Secondary bars of the pilot gate: every annotator pair's strict F1, and the strict F1 of every label
# with at least `label_min_mentions` mentions per annotator in the pilot.
min_pair_f1 = 0.85
min_label_f1 = 0.80
label_min_mentions = 20
# The pilot needs at least this many posts confirmed by all its annotators.
min_pilot_posts = 10
# Fail when the 95 % interval of the mean strict F1 is wider than this (0 = not checked).
max_ci_width = 0.0
# Bootstrap replicates for the 95 % intervals (resampling posts; seeded with corpus.seed).
bootstrap = 1000
# How many low-agreement posts the report lists.
lowest_posts = 10
# Votes a span needs to be accepted into the gold without adjudication.
min_votes = 2
# Doccano username of the adjudicator (adjudicate --doccano); the account is created if missing.
adjudicator = ""
# The project is uploaded logged in as the adjudicator (so the pre-filled spans are theirs): their password
# comes from this environment variable, else from [annotate] password_file.
adjudicator_password_env = "ADJUDICATOR_PASSWORD"
# Reason codes an adjudication decision may carry (auto_majority is added by --auto majority).
reason_codes = ["guideline_gap", "ambiguous", "annotator_slip", "boundary_convention", "type_convention", "other"]

[baselines]
# Image encoder for `cmner-build features` (hub name or local folder); grids are cached in features/.
encoder = "microsoft/resnet-152"
# BERT for `cmner-build baseline umt` (hub name or local folder).
bert = "bert-base-chinese"
# auto: a CUDA GPU when torch sees one, else the CPU.
device = "auto"

[audit]
# `cmner-build audit labels`. Consistency: strings shorter than min_chars are not searched for missed
# occurrences; a string must be labelled min_support times before its other occurrences are judged.
min_chars = 2
min_support = 2
# Confident learning: k-fold cross-validated runs of this baseline (acn | umt; images none | one | all).
folds = 4
epochs = 6
model = "acn"
images = "none"
# Rows of the terminal table and items sent with --doccano; signals: consistency | confident_learning | both.
top = 50
signals = "both"

[card]
# The dataset card (`export --card`, and by default with --format parquet): its title, Hub licence id, languages.
pretty_name = "Chinese multimodal NER corpus (Weibo)"
license = "other"
language = ["zh"]
"""


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list", bool: "true or false",
               dict: "a table"}


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
            types = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            raise ConfigError(f"{self._where()}{section}.{key} must be {names}, found {value!r}")
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
        return self.get("corpus", "max_chars", int, DEFAULT_MAX_CHARS)

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

    @property
    def near_duplicate_search(self) -> str:
        value = self.get("split", "near_duplicate_search", str, "exact")
        if value not in SEARCH_METHODS:
            raise ConfigError(
                f"{self._where()}split.near_duplicate_search must be one of {', '.join(SEARCH_METHODS)}, found {value!r}"
            )
        return value


def default_settings() -> Settings:
    return Settings(tomllib.loads(DEFAULT_CONFIG))


# Keys a stage reads that the commented cmner.toml does not show (advanced), with a value of their type.
EXTRA_KEYS: dict[tuple[str, str], Any] = {
    ("crawl", "user_agent"): "",
    ("clean", "rules"): [{}],  # [[clean.rules]] tables, checked field by field by clean's text rules
}
_ITEM_NAMES = {str: "strings", int: "integers", float: "numbers", bool: "true or false values"}


def check_settings(data: dict[str, Any], path: Path) -> None:
    """Every table and key of cmner.toml must be one the toolkit reads, with the type of its default:
    a misspelt key (`ratoi = "8:1:1"`) is an error naming it and the file, never silently ignored."""
    import difflib

    schema: dict[str, dict[str, Any]] = tomllib.loads(DEFAULT_CONFIG)
    for (section, key), example in EXTRA_KEYS.items():
        schema.setdefault(section, {})[key] = example
    for section, table in data.items():
        if section not in schema:
            hint = difflib.get_close_matches(section, schema, n=1)
            raise ConfigError(f"{path}: unknown table [{section}]" + (f"; did you mean [{hint[0]}]?" if hint else
                              f"; the tables are {', '.join(f'[{name}]' for name in schema)}"))
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in table.items():
            if key not in schema[section]:
                hint = difflib.get_close_matches(key, schema[section], n=1)
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]" + (
                    f"; did you mean {hint[0]!r}?" if hint else f"; the keys are {', '.join(schema[section])}"))
            _check_type(f"{path}: {section}.{key}", value, schema[section][key])


def _check_type(where: str, value: Any, default: Any) -> None:
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return  # a float setting may be written as an integer
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise ConfigError(f"{where} must be {_TYPE_NAMES.get(expected, expected.__name__)}, found {value!r}")
    if expected is list:
        item_type = type(default[0]) if default else str  # the empty defaults are lists of names or paths
        if item_type is not dict and not all(isinstance(item, item_type) and not isinstance(item, bool)
                                             or item_type is bool and isinstance(item, bool) for item in value):
            raise ConfigError(f"{where} must be a list of {_ITEM_NAMES.get(item_type, item_type.__name__)}, "
                              f"found {value!r}")


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
    check_settings(data, path)
    return Settings(data, path)
