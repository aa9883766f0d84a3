"""The entry points of `cmner-build features`, `baseline acn|umt|report` and `translate`: workspace in,
plain values out.

The CLI parses, calls one of these, and prints what comes back (tables, JSON). Heavy libraries (torch,
transformers) load inside, when a command actually needs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace

from cmner_build.baselines.settings import baseline_settings


@dataclass
class FeaturesOutcome:
    summary: dict[str, Any]  # what `features --json` prints
    missing: list[str] = field(default_factory=list)  # kept images absent from the images folder (skipped)
    failed: list[str] = field(default_factory=list)  # images that could not be read


def workspace_features(workspace: Workspace, *, encoder: str | None = None, device: str | None = None,
                       batch_size: int = 32, export: Path | None = None, progress=None) -> FeaturesOutcome:
    """Extract the region grid of every kept image (or of an export's images) once, into the cache.
    `progress` is console.progress_task or alike: (description, total) -> context yielding advance."""
    from cmner_build.baselines.device import choose_device
    from cmner_build.baselines.features import cache_dir_for, extract_features
    from cmner_build.importer import index_images

    defaults = baseline_settings(workspace.settings)
    encoder = encoder or defaults.encoder
    device = choose_device(device or defaults.device)
    missing: list[str] = []
    if export is not None:
        images_dir = export / "images"
        if not images_dir.is_dir():
            raise CmnerError(f"{images_dir} is not a folder: the export has no images")
        images = {path.name: path for paths in index_images(images_dir).values() for path in paths}
    else:
        rows = workspace.store.query(
            "SELECT file_name FROM images WHERE status = 'kept' AND file_name IS NOT NULL ORDER BY post_id, position"
        )
        images = {row["file_name"]: workspace.images_dir / row["file_name"] for row in rows}
        missing = [name for name, path in images.items() if not path.is_file()]
        if missing:
            images = {name: path for name, path in images.items() if name not in set(missing)}
    cache_dir = cache_dir_for(workspace.root / "features", encoder)
    with progress(f"features ({device.type})", len(images)) as advance:
        report = extract_features(
            images, cache_dir, encoder=encoder, device=device, batch_size=batch_size, progress=advance,
            on_start=lambda todo: advance(len(images) - todo, status="cached"),
        )
    workspace.store.log_event("baseline", "features", f"{report.extracted} grids extracted", encoder=encoder,
                              cache=str(cache_dir), failed=len(report.failed))
    summary = {
        "encoder": encoder, "cache_dir": str(cache_dir), "device": report.device, "images": report.images,
        "already_cached": report.already_cached, "extracted": report.extracted, "failed": len(report.failed),
        "feature_dim": report.dim,
    }
    return FeaturesOutcome(summary, missing, [str(failure) for failure in report.failed])


def train_baseline(workspace: Workspace, model: str, *, progress, log: Callable[[str], None], **values: Any):
    """Train and evaluate one baseline on the workspace's export (or `export`); options left None take
    cmner.toml's [baselines] values. With `pretrain` (SRC, TGT, SRC+TGT) the two stages of the cross-lingual
    regime run (crosslingual.run_two_stage); `init_from` names a saved run to start from. Returns the
    (fine-tuned) run's outcome (experiment.RunOutcome). With `gold_so_far=True` it trains on the gold as
    it is now (gold_so_far.train_on_gold_so_far) and records the gold size."""
    from cmner_build.baselines.crosslingual import run_two_stage
    from cmner_build.baselines.experiment import BaselineOptions, run_baseline
    from cmner_build.baselines.runs import resolve_run

    export = values.pop("export") or workspace.exports_dir / "cmner"
    seed = values.pop("seed")
    defaults = baseline_settings(workspace.settings)
    values["device"] = values["device"] or defaults.device
    values["encoder"] = values["encoder"] or defaults.encoder
    init_from = values.pop("init_from", None)
    if model == "umt" and init_from is None:
        values["bert"] = values["bert"] or defaults.bert  # with --init-from: the saved run's BERT
    if init_from is not None:
        init_from = resolve_run(workspace.runs_dir, init_from)
    gold_so_far = values.pop("gold_so_far", False)
    regime = {key: values.pop(key, None) for key in ("pretrain", "source", "translated", "pretrain_epochs")}
    options = BaselineOptions(
        model=model, export_dir=export, seed=workspace.settings.seed if seed is None else seed,
        also_train=list(values.pop("also_train") or []), init_from=init_from, **values,
    )
    where = dict(runs_dir=workspace.runs_dir, features_root=workspace.root / "features", progress=progress, log=log)
    if gold_so_far:  # the gold as it is now, exported with its splits kept; its size is recorded
        from cmner_build.baselines.gold_so_far import train_on_gold_so_far

        if regime["pretrain"] is not None:
            raise CmnerError("--gold-so-far trains on the workspace's gold alone; it does not take --pretrain")
        outcome = train_on_gold_so_far(workspace, options, progress=progress, log=log)
    elif regime["pretrain"] is not None:
        stages = run_two_stage(options, regime["pretrain"], source_export=regime["source"],
                               translated_export=regime["translated"], pretrain_epochs=regime["pretrain_epochs"],
                               **where)
        log(f"pre-training run ({stages.pretrain}): {stages.pretrain_run.run_dir}")
        outcome = stages.finetune_run
    else:
        outcome = run_baseline(options, **where)
    workspace.store.log_event("baseline", "run", f"{outcome.run_id}: {outcome.evaluated_split} F1 "
                              f"{outcome.metrics[outcome.evaluated_split]['f1']}", run_id=outcome.run_id)
    return outcome


def predict_with_run(workspace: Workspace, run: str, *, posts: str = "ready", from_file: Path | None = None,
                     out: Path | None = None, device: str | None = None, threads: int | None = None,
                     progress=None):
    """`predict`: a finished run (id, prefix or folder) labels the workspace's posts or a file's; JSONL to
    `out` (default RUN/suggestions-POSTS.jsonl) and the run's suggestions into the store
    (baselines.predict.PredictReport)."""
    from cmner_build.baselines.predict import predict_run
    from cmner_build.baselines.runs import resolve_run

    run_dir = resolve_run(workspace.runs_dir, run)
    target = out or run_dir / f"suggestions-{'file' if from_file is not None else posts}.jsonl"
    return predict_run(workspace.store, run_dir, posts=posts, from_file=from_file, out=target,
                       device=device or baseline_settings(workspace.settings).device, threads=threads,
                       features_root=workspace.root / "features", progress=progress)


def error_report(runs_dir: Path, names: Sequence[str]) -> dict[str, list[dict]]:
    """Each run's errors by kind, and for every text-only / multimodal pair evaluated on the same split,
    the posts where the image changed the outcome: {"errors": [...], "comparisons": [...]}."""
    from cmner_build.baselines.errors_analysis import count_errors, image_changed_posts
    from cmner_build.baselines.runs import evaluated_split, load_run, resolve_run

    loaded = []
    for name in names:
        run = load_run(resolve_run(runs_dir, name))
        split = evaluated_split(run["metrics"])
        with (run["path"] / "predictions.jsonl").open(encoding="utf-8") as handle:
            rows = [row for row in map(json.loads, handle) if row["split"] == split]
        loaded.append((run, split, rows))
    counts = [{"run": run["run_id"], "split": split, **count_errors(rows)} for run, split, rows in loaded]
    text_runs = [item for item in loaded if item[0]["config"].get("images") == "none"]
    image_runs = [item for item in loaded if item[0]["config"].get("images") != "none"]
    comparisons = []
    for text_run, text_split, text_rows in text_runs:
        for image_run, image_split, image_rows in image_runs:
            if text_split != image_split:
                continue
            changed = image_changed_posts(text_rows, image_rows)
            comparisons.append({
                "text_run": text_run["run_id"], "image_run": image_run["run_id"],
                "helped": sum(row["effect"] == "helped" for row in changed),
                "hurt": sum(row["effect"] == "hurt" for row in changed),
                "posts": changed, "joiner": "" if image_run["config"].get("export_format") == "cmner" else " ",
            })
    return {"errors": counts, "comparisons": comparisons}


def translate_in_workspace(workspace: Workspace, target_language: str, export: Path, *, output: Path | None = None,
                           translator: str | None = None, model: str | None = None, prefix: str | None = None,
                           command: str | None = None, translations: Path | None = None, cache: Path | None = None,
                           batch_size: int | None = None, device: str | None = None,
                           progress=None, log: Callable[[str], None] = lambda message: None):
    """`cmner-build translate`: defaults from the workspace (output under exports/, cache under
    translations/), the translator built, the export translated, the run logged in the store. Returns the
    translate_corpus.TranslationReport."""
    from cmner_build.baselines.data import detect_format, split_files
    from cmner_build.baselines.settings import DEFAULT_TRANSLATOR, LANGUAGE_OF_FORMAT, TRANSLATE_BATCH_SIZE
    from cmner_build.baselines.translate_corpus import direction_of, translate_export
    from cmner_build.baselines.translators import make_translator

    export = Path(export)
    source_language = LANGUAGE_OF_FORMAT[detect_format(split_files(export)["train"])]
    direction = direction_of(source_language, target_language)
    translator = translator or DEFAULT_TRANSLATOR
    engine, key = make_translator(translator, direction, model=model, prefix=prefix, command=command,
                                  translations=translations, device=device or "auto")
    if cache is None and key is not None:
        cache = workspace.root / "translations" / f"{direction}-{translator}-{key}.jsonl"
    output = Path(output) if output is not None else workspace.exports_dir / f"{export.resolve().name}-{target_language}"
    report = translate_export(export, target_language, engine, output, cache_path=cache,
                              batch_size=batch_size or TRANSLATE_BATCH_SIZE, progress=progress, log=log)
    workspace.store.log_event("translate", "run", f"{export} -> {output}: {sum(report.kept.values())} posts kept",
                              direction=direction, translator=engine.name, rejected=report.rejected)
    return report
