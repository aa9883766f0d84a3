"""`[agreement]` of cmner.toml, typed and checked (the gate's bars are read by agreement_gate)."""

from __future__ import annotations

from dataclasses import dataclass

from cmner_build.config import Settings
from cmner_build.errors import ConfigError

from cmner_build.annotate.adjudication.run import AUTO_MAJORITY_REASON, DEFAULT_REASON_CODES


@dataclass(frozen=True)
class AgreementSettings:
    replicates: int
    lowest: int
    seed: int
    min_votes: int
    adjudicator: str
    adjudicator_password_env: str
    reason_codes: tuple[str, ...]


def agreement_settings(settings: Settings) -> AgreementSettings:
    where = f"{settings.path or 'cmner.toml'}: agreement"
    replicates = settings.get("agreement", "bootstrap", int, 1000)
    lowest = settings.get("agreement", "lowest_posts", int, 10)
    min_votes = settings.get("agreement", "min_votes", int, 2)
    if replicates < 0 or lowest < 0:
        raise ConfigError(f"{where}.bootstrap and lowest_posts must not be negative")
    if min_votes < 1:
        raise ConfigError(f"{where}.min_votes must be at least 1")
    codes = settings.get("agreement", "reason_codes", list, list(DEFAULT_REASON_CODES))
    if not codes or not all(isinstance(code, str) and code.isidentifier() for code in codes):
        raise ConfigError(f"{where}.reason_codes must be a non-empty list of names (letters, digits, _)")
    codes = [code.lower() for code in codes]
    if AUTO_MAJORITY_REASON in codes:
        raise ConfigError(f"{where}.reason_codes: {AUTO_MAJORITY_REASON} is reserved for --auto majority")
    return AgreementSettings(
        replicates=replicates,
        lowest=lowest,
        seed=settings.seed,
        min_votes=min_votes,
        adjudicator=settings.get("agreement", "adjudicator", str, ""),
        adjudicator_password_env=settings.get("agreement", "adjudicator_password_env", str, "ADJUDICATOR_PASSWORD"),
        reason_codes=tuple(codes),
    )
