"""Settings of the annotate stage, from cmner.toml: `[doccano]` (the server), `[annotate]` (the rounds)
and `[agreement]` (measures, the gate's companions, adjudication), typed and checked. The pilot gate's
bars are read by `agreement/gate.py` (GateSettings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmner_build.config import Settings
from cmner_build.errors import ConfigError
from cmner_build.workspace import Workspace

from cmner_build.annotate.doccano.examples import MIB, ZipLimits

# `annotate push --suggest RUN` without --min-confidence: spans the run gives at least even odds.
DEFAULT_MIN_CONFIDENCE = 0.5
AUTO_MAJORITY_REASON = "auto_majority"
DEFAULT_REASON_CODES: tuple[str, ...] = (
    "guideline_gap",  # the guidelines do not cover the case: add a precedent
    "ambiguous",  # genuinely ambiguous even with the guidelines and the image
    "annotator_slip",  # the guidelines are clear; someone missed or mislabelled
    "boundary_convention",  # where an entity starts or ends (titles, suffixes, 省/市, ...)
    "type_convention",  # which label (e.g. a venue as LOC or ORG)
    "other",
)


@dataclass
class DoccanoSettings:
    url: str
    admin_user: str
    password_env: str
    server_dir: Path
    server_venv: str
    server_python: str
    workers: int


@dataclass
class AnnotateSettings:
    pool: list[str]
    per_post: int
    batch_size: int
    guideline: str
    project_prefix: str
    password_file: Path
    seed: int
    zip_limits: ZipLimits = ZipLimits()


def doccano_settings(workspace: Workspace) -> DoccanoSettings:
    settings = workspace.settings
    server_dir = Path(settings.get("doccano", "server_dir", str, "doccano")).expanduser()
    return DoccanoSettings(
        url=settings.get("doccano", "url", str, "http://127.0.0.1:8000").rstrip("/"),
        admin_user=settings.get("doccano", "admin_user", str, "admin"),
        password_env=settings.get("doccano", "password_env", str, "DOCCANO_PASSWORD"),
        server_dir=server_dir if server_dir.is_absolute() else workspace.root / server_dir,
        server_venv=settings.get("doccano", "server_venv", str, ""),
        server_python=settings.get("doccano", "server_python", str, ""),
        workers=settings.get("doccano", "workers", int, 1),
    )


def annotate_settings(workspace: Workspace) -> AnnotateSettings:
    settings = workspace.settings
    pool = settings.get("annotate", "pool", list, [])
    if not all(isinstance(name, str) and name for name in pool):
        raise ConfigError(f"{workspace.config_path}: annotate.pool must be a list of user names")
    values = {key: settings.get("annotate", key, int, default)
              for key, default in (("per_post", 3), ("batch_size", 100))}
    for key, value in values.items():
        if value < 1:
            raise ConfigError(f"{workspace.config_path}: annotate.{key} must be at least 1, found {value}")
    password_file = Path(settings.get("annotate", "password_file", str, "annotator-passwords.tsv")).expanduser()
    default_limits = ZipLimits()
    sizes = {key: settings.get("annotate", key, int, default // MIB) for key, default in (
        ("export_member_mb", default_limits.max_member_bytes), ("export_total_mb", default_limits.max_total_bytes))}
    for key, value in sizes.items():
        if value < 1:
            raise ConfigError(f"{workspace.config_path}: annotate.{key} must be at least 1, found {value}")
    return AnnotateSettings(
        pool=list(pool), per_post=values["per_post"],
        batch_size=values["batch_size"], guideline=settings.get("annotate", "guideline", str, ""),
        project_prefix=settings.get("annotate", "project_prefix", str, ""),
        password_file=password_file if password_file.is_absolute() else workspace.root / password_file,
        seed=settings.seed,
        zip_limits=ZipLimits(sizes["export_member_mb"] * MIB, sizes["export_total_mb"] * MIB),
    )


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
