"""Cross-lingual transfer, the CMNER paper's Tables 3 and 4: pre-train on another corpus, fine-tune on the target.

`run_two_stage` runs the paper's regime in one call:

1. pre-train on SRC (the source-language export), TGT (its translation into the target language, made
   by `cmner-build translate`) or SRC+TGT (both: train and dev splits of the two together); the epoch is
   chosen on the pre-training corpus's own dev split;
2. fine-tune from that run's best weights (`--init-from`, vocabularies and labels merged) on the target
   export's train split, choose the epoch on its dev split, score its test split.

Both runs are kept. Each records `regime` in its config.json: {"stage": "pretrain" | "finetune",
"pretrain": "SRC" | "TGT" | "SRC+TGT", "direction": "en-zh" | "zh-en", ...}; the fine-tuned run also
names the pre-training run (`pretrain_run`, and `init_from_run`).

`crosslingual_rows` lays the finished runs out like Tables 3-4: per direction and model, the rows
"-" (a target-only run), SRC, TGT and SRC+TGT, each beside the published P / R / F1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from cmner_build.errors import CmnerError

from cmner_build.baselines.settings import LANGUAGE_OF_FORMAT, PRETRAIN_CHOICES, PUBLISHED_CROSSLINGUAL
from cmner_build.baselines.data import detect_format, split_files
from cmner_build.baselines.experiment import BaselineOptions, RunOutcome, run_baseline
from cmner_build.baselines.runs import evaluated_split
from cmner_build.progress import ProgressFactory

ROWS = ("-", "SRC", "TGT", "SRC+TGT")


@dataclass
class TwoStageOutcome:
    direction: str
    pretrain: str
    pretrain_run: RunOutcome
    finetune_run: RunOutcome


def export_language(export_dir: Path) -> str:
    """'zh' for a CMNER-layout export, 'en' for a Twitter-2015-layout one."""
    return LANGUAGE_OF_FORMAT[detect_format(split_files(Path(export_dir))["train"])]


def run_two_stage(
    options: BaselineOptions,
    pretrain: str,
    *,
    source_export: Path | None,
    translated_export: Path | None,
    pretrain_epochs: int | None = None,
    runs_dir: Path,
    features_root: Path,
    progress: ProgressFactory | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> TwoStageOutcome:
    """Pre-train on `pretrain` (SRC, TGT or SRC+TGT), then fine-tune on `options.export_dir`."""
    if pretrain not in PRETRAIN_CHOICES:
        raise CmnerError(f"--pretrain must be one of {', '.join(PRETRAIN_CHOICES)}, not {pretrain!r}")
    if options.also_train or options.combine:
        raise CmnerError("--also-train mixes corpora in one run; it cannot be combined with --pretrain")
    target_language = export_language(options.export_dir)
    corpora: list[Path] = []
    source_language = None
    if "SRC" in pretrain.split("+"):
        if source_export is None:
            raise CmnerError(f"--pretrain {pretrain} needs --source DIR, the source-language export")
        source_language = export_language(source_export)
        if source_language == target_language:
            raise CmnerError(f"--source {source_export} is in {source_language}, like the target export; "
                             "the source corpus must be in the other language")
        corpora.append(Path(source_export))
    if "TGT" in pretrain.split("+"):
        if translated_export is None:
            raise CmnerError(f"--pretrain {pretrain} needs --translated DIR, the source corpus translated "
                             "into the target language (`cmner-build translate`)")
        if export_language(translated_export) != target_language:
            raise CmnerError(f"--translated {translated_export} is not in {target_language}, the target's language")
        corpora.append(Path(translated_export))
    source_language = source_language or ("en" if target_language == "zh" else "zh")
    direction = f"{source_language}-{target_language}"
    regime = {"pretrain": pretrain, "direction": direction, "corpora": [str(path) for path in corpora]}

    log(f"{direction}, pre-training on {pretrain}: {', '.join(str(path) for path in corpora)}")
    first = replace(options, export_dir=corpora[0], combine=corpora[1:], also_train=[],
                    epochs=pretrain_epochs or options.epochs, regime=regime | {"stage": "pretrain"})
    pretrained = run_baseline(first, runs_dir=runs_dir, features_root=features_root, progress=progress, log=log)
    log(f"pre-training run {pretrained.run_id} done; fine-tuning on {options.export_dir}")
    second = replace(options, init_from=pretrained.run_dir, also_train=[], combine=[],
                     regime=regime | {"stage": "finetune", "pretrain_run": pretrained.run_id})
    finetuned = run_baseline(second, runs_dir=runs_dir, features_root=features_root, progress=progress, log=log)
    return TwoStageOutcome(direction, pretrain, pretrained, finetuned)


def cell_of(config: dict) -> tuple[str, str] | None:
    """(direction, row) of a finished run in Tables 3-4, or None for a run that is no cell (a
    pre-training stage, a run started from another outside the regime, a run with added corpora)."""
    regime = config.get("regime") or {}
    if regime.get("stage") == "finetune":
        return regime.get("direction"), regime.get("pretrain")
    if regime or config.get("init_from") or config.get("also_train") or config.get("combine"):
        return None
    language = LANGUAGE_OF_FORMAT.get(config.get("export_format", ""))
    if language is None:
        return None
    return ("en-zh" if language == "zh" else "zh-en"), "-"


def crosslingual_rows(runs: list[dict]) -> list[dict]:
    """The rows of Tables 3-4: per direction, model and pre-training corpus, the latest finished run
    (runs come oldest first) beside the published scores; a cell without a run shows only those."""
    latest: dict[tuple[str, str, str], dict] = {}
    counts: dict[tuple[str, str, str], int] = {}
    for run in runs:
        cell = cell_of(run["config"])
        if cell is None:
            continue
        key = (cell[0], str(run["config"].get("model", "")).upper(), cell[1])
        latest[key] = run
        counts[key] = counts.get(key, 0) + 1
    rows = []
    for direction, models in PUBLISHED_CROSSLINGUAL.items():
        for model in ("ACN", "UMT"):
            for row in ROWS:
                key = (direction, model, row)
                published = models.get(model, {}).get(row)
                run = latest.get(key)
                if run is None and published is None:
                    continue
                entry = {"direction": direction, "model": model, "pretrain": row, "run": None, "runs": counts.get(key, 0),
                         "images": None, "split": None, "P": None, "R": None, "F1": None,
                         "paper_P": published[0] if published else None, "paper_R": published[1] if published else None,
                         "paper_F1": published[2] if published else None}
                if run is not None:
                    split = evaluated_split(run["metrics"])
                    scores = run["metrics"][split]
                    entry.update(run=run["run_id"], images=run["config"].get("images"), split=split,
                                 P=scores["precision"], R=scores["recall"], F1=scores["f1"])
                rows.append(entry)
    return rows
