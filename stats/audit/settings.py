"""`[audit]` of cmner.toml: every default of `cmner-build audit labels`, written once here."""

from __future__ import annotations

from dataclasses import dataclass

from cmner_build.config import Settings
from cmner_build.errors import ConfigError

SIGNAL_CHOICES: tuple[str, ...] = ("consistency", "confident_learning", "both")


@dataclass(frozen=True)
class AuditSettings:
    # consistency
    min_chars: int = 2  # shorter strings are not searched for missed occurrences (one character is too often a word part)
    min_support: int = 2  # a string must be labelled this many times before its other occurrences are judged
    # confident learning
    folds: int = 4
    epochs: int = 6
    model: str = "acn"
    images: str = "none"
    # report
    top: int = 50  # rows of the terminal table and items sent with --doccano
    signals: str = "both"


def audit_settings(settings: Settings) -> AuditSettings:
    defaults = AuditSettings()
    where = f"{settings.path or 'cmner.toml'}: audit"
    values = {
        name: settings.get("audit", name, type(getattr(defaults, name)), getattr(defaults, name))
        for name in defaults.__dataclass_fields__
    }
    result = AuditSettings(**values)
    if result.min_chars < 1 or result.min_support < 1 or result.top < 1:
        raise ConfigError(f"{where}.min_chars, min_support and top must be at least 1")
    if result.folds < 2 or result.epochs < 1:
        raise ConfigError(f"{where}.folds must be at least 2 and epochs at least 1")
    if result.signals not in SIGNAL_CHOICES:
        raise ConfigError(f"{where}.signals must be one of {', '.join(SIGNAL_CHOICES)}")
    return result
