"""Run folders under `<workspace>/runs/<run id>/` and the table of all runs.

    config.json        every option of the run, the export, the device, the vocabulary sizes
    metrics.json       {"dev": {...}, "test": {"precision", "recall", "f1", "per_type": {...}}} in percent;
                       "test" is null when the export has no test split
    training.json      per-epoch loss, dev F1, seconds, characters per second; the best epoch
    predictions.jsonl  one line per evaluated post: split, post_id, tokens, gold, predicted, images
    model.safetensors  the state of the best epoch (plus vocab.json for ACN)
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Iterable

from cmner_build.errors import CmnerError
from cmner_build.model import LABELS

def new_run_dir(runs_dir: Path, model: str, images: str, seed: int) -> tuple[str, Path]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{model}-{images}-s{seed}-{secrets.token_hex(2)}"
        path = runs_dir / run_id
        try:
            path.mkdir()
            return run_id, path
        except FileExistsError:
            continue


def write_json(path: Path, data) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def write_predictions(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CmnerError(f"{path}: cannot read: {error}") from None


def list_runs(runs_dir: Path) -> list[dict]:
    """Finished runs (those with metrics.json), oldest first: {"run_id", "path", "config", "metrics", "training"}."""
    runs = []
    if not runs_dir.is_dir():
        return runs
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if not (path / "metrics.json").is_file():
            continue
        runs.append(load_run(path))
    return runs


def load_run(path: Path) -> dict:
    training_path = path / "training.json"
    return {
        "run_id": path.name,
        "path": path,
        "config": read_json(path / "config.json"),
        "metrics": read_json(path / "metrics.json"),
        "training": read_json(training_path) if training_path.is_file() else {},
    }


def resolve_run(runs_dir: Path, name: str) -> Path:
    """A run by id, unique id prefix, or folder path."""
    as_path = Path(name)
    if (as_path / "metrics.json").is_file():
        return as_path
    candidates = [p for p in runs_dir.glob(f"{name}*") if (p / "metrics.json").is_file()] if runs_dir.is_dir() else []
    exact = [p for p in candidates if p.name == name]
    if exact:
        return exact[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CmnerError(f"no finished run {name!r} in {runs_dir} (see `cmner-build baseline report`)")
    raise CmnerError(f"{name!r} matches {len(candidates)} runs: {', '.join(sorted(p.name for p in candidates)[:5])}")


def evaluated_split(metrics: dict) -> str:
    return "test" if metrics.get("test") else "dev"


def report_rows(runs: list[dict]) -> list[dict]:
    """One row per run, in the layout of the paper's Table 2 (P, R, F1, then F1 per type)."""
    rows = []
    for run in runs:
        config, metrics = run["config"], run["metrics"]
        split = evaluated_split(metrics)
        scores = metrics[split]
        row = {
            "run": run["run_id"],
            "model": config.get("model", "?").upper(),
            "images": config.get("images", "?"),
            "export": config.get("export_name", ""),
            "epoch": run["training"].get("best_epoch"),
            "split": split,
            "P": scores["precision"],
            "R": scores["recall"],
            "F1": scores["f1"],
        }
        row.update({label: scores["per_type"].get(label, 0.0) for label in LABELS})
        rows.append(row)
    return rows
