"""`[baselines]` of cmner.toml: the image encoder, the BERT and the device, each default written here once
(the commented cmner.toml that `init` writes shows the same values; a test keeps them in step)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads the defaults below at start-up: keep this module free of the config loader
    from cmner_build.config import Settings

DEFAULT_ENCODER = "microsoft/resnet-152"  # image encoder for `features` and --images one/all
DEFAULT_BERT = "bert-base-chinese"  # the text encoder of UMT
DEFAULT_DEVICE = "auto"  # a CUDA GPU when torch sees one, else the CPU


@dataclass(frozen=True)
class BaselineSettings:
    encoder: str = DEFAULT_ENCODER
    bert: str = DEFAULT_BERT
    device: str = DEFAULT_DEVICE


def baseline_settings(settings: Settings) -> BaselineSettings:
    return BaselineSettings(
        encoder=settings.get("baselines", "encoder", str, DEFAULT_ENCODER),
        bert=settings.get("baselines", "bert", str, DEFAULT_BERT),
        device=settings.get("baselines", "device", str, DEFAULT_DEVICE),
    )


# ------------------------------------------------------------------ cross-lingual transfer (Tables 3-4)
# `translate` (SPAN placeholders) and the two-stage `--pretrain` regime; the published figures of the CMNER
# paper's Tables 3 and 4 live here too, so the report and the tests read one copy.

# The placeholder that stands for an entity while its sentence is translated.
PLACEHOLDER = "SPAN"

# Languages and the release format a corpus in that language is written in.
LANGUAGE_OF_FORMAT: dict[str, str] = {"cmner": "zh", "twitter2015": "en"}
FORMAT_OF_LANGUAGE: dict[str, str] = {language: fmt for fmt, language in LANGUAGE_OF_FORMAT.items()}
# Split file names a translated corpus is written under, per target format (Twitter-2015 calls dev "valid").
SPLIT_FILE_NAMES: dict[str, dict[str, str]] = {
    "cmner": {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"},
    "twitter2015": {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"},
}

# MarianMT models through transformers, by direction (hub names or local folders saved with save_pretrained).
MARIAN_MODELS: dict[str, str] = {"en-zh": "Helsinki-NLP/opus-mt-en-zh", "zh-en": "Helsinki-NLP/opus-mt-zh-en"}
# opus-mt-en-zh has several Chinese targets and, per its model card, wants a target-language token first.
MARIAN_PREFIXES: dict[str, str] = {"en-zh": ">>cmn_Hans<< ", "zh-en": ""}
TRANSLATORS = ("marian", "command", "file")
DEFAULT_TRANSLATOR = "marian"
TRANSLATE_BATCH_SIZE = 32
MARIAN_BEAMS = 4
MARIAN_MAX_NEW_TOKENS = 256
COMMAND_TIMEOUT_SECONDS = 600

# Pre-training corpora of the two-stage regime: the source corpus, its translation, or both.
PRETRAIN_CHOICES = ("SRC", "TGT", "SRC+TGT")
# The CMNER paper, Tables 3 (en -> zh, target CMNER) and 4 (zh -> en, target Twitter-2015): P / R / F1 in %,
# None where the paper gives only F1. Row "-" is the target-only run.
PUBLISHED_CROSSLINGUAL: dict[str, dict[str, dict[str, tuple[float | None, float | None, float]]]] = {
    "en-zh": {
        "ACN": {"-": (None, None, 74.52), "SRC": (78.93, 72.54, 75.60), "TGT": (82.31, 70.97, 76.22),
                "SRC+TGT": (79.43, 74.21, 76.73)},
        "UMT": {"-": (None, None, 88.60), "SRC": (86.97, 90.47, 88.69), "TGT": (87.88, 90.03, 88.95),
                "SRC+TGT": (88.05, 90.53, 89.27)},
    },
    "zh-en": {
        "ACN": {"SRC": (None, None, 64.00), "TGT": (None, None, 65.81), "SRC+TGT": (None, None, 66.11)},
        "UMT": {"SRC": (None, None, 74.81), "TGT": (None, None, 74.90), "SRC+TGT": (None, None, 75.34)},
    },
}
