"""`cmner-build audit labels`: rank the gold spans most likely to be wrong (consistency + confident learning)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import open_ws, print_json


def register(app: typer.Typer) -> None:
    audit_app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich",
                            help="Audit the gold: the labels most likely to be wrong.")
    audit_app.command(
        "labels",
        epilog="Example: cmner-build -w my-corpus audit labels --signals consistency --top 30   "
               "(then: audit labels --doccano --adjudicator judge; adjudicate pull)",
    )(labels)
    app.add_typer(audit_app, name="audit")


def labels(
    ctx: typer.Context,
    signals: Optional[str] = typer.Option(None, "--signals", help="consistency, confident_learning or both "
                                          "(default from cmner.toml: both)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Cross-validation folds for confident learning (4)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs of each fold's model (6)."),
    model: Optional[str] = typer.Option(None, "--model", help="Baseline of the folds: acn (default) or umt."),
    images: Optional[str] = typer.Option(None, "--images", help="Images for the folds' model: none (default), one, all."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda for the folds' training."),
    bert: Optional[str] = typer.Option(None, "--bert", help="UMT folds: BERT hub name or local folder."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Image folds: which feature cache (see `features`)."),
    top: Optional[int] = typer.Option(None, "--top", help="Rows shown, and items sent with --doccano (50)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder (default: <workspace>/exports/audit)."),
    doccano: bool = typer.Option(False, "--doccano", help="Send the top items to an adjudication project in Doccano."),
    adjudicator: Optional[str] = typer.Option(None, "--adjudicator", help="Doccano username of the reviewer."),
    url: Optional[str] = typer.Option(None, "--url", help="Doccano server URL (default: \\[doccano] url in cmner.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Rank the gold posts and spans most likely to be wrong, each with a reason and a suggested fix.

    Consistency (no model): a string labelled with different types, labelled here but not there, or cut
    through. Confident learning: k-fold cross-validated CRF marginals of a baseline, ranked by cleanlab;
    the folds are trained once and cached under runs/ (an interrupted run resumes). Writes
    label_issues.jsonl and label_issues.html; --doccano sends the top items for review, and
    `adjudicate pull` applies the decisions to the gold with their reasons.
    """
    from cmner_build.stats.audit.run import audit_labels
    from cmner_build.stats.audit.settings import SIGNAL_CHOICES, audit_settings

    from ..console import info, progress_task
    from ..errors import CmnerError
    from ..safety import stage_lock

    workspace = open_ws(ctx)
    settings = audit_settings(workspace.settings)
    chosen = signals or settings.signals
    if chosen not in SIGNAL_CHOICES:
        raise CmnerError(f"--signals must be one of {', '.join(SIGNAL_CHOICES)}, not {chosen!r}")
    shown = top or settings.top
    with stage_lock(workspace.root, "audit"):  # one audit at a time: the folds' cache is shared
        other, signal_info = {}, {}
        if chosen in ("confident_learning", "both"):
            from cmner_build.baselines.confident import CrossValidationOptions, confident_learning_issues

            options = CrossValidationOptions(
                folds=folds or settings.folds, epochs=epochs or settings.epochs, model=model or settings.model,
                images=images or settings.images, seed=workspace.settings.seed, device=device, bert=bert,
                encoder=encoder,
            )
            result = confident_learning_issues(workspace.store, workspace.runs_dir, workspace.root / "features", options,
                                               images_dir=workspace.images_dir, progress=progress_task, log=info)
            other[result.signal] = result.issues
            signal_info[result.signal] = result.info
        outcome = audit_labels(workspace.store, out or workspace.exports_dir / "audit", settings,
                               consistency=chosen in ("consistency", "both"), other_signals=other,
                               signal_info=signal_info)
        extra: dict = {}
        if doccano:
            from cmner_build.annotate.adjudication.audit_review import send_for_review

            extra["doccano"] = send_for_review(workspace, outcome.ranked[:shown], adjudicator, url)
    if as_json:
        print_json({**outcome.summary, **extra})
        return
    from cmner_build.stats.audit.render import render_audit

    render_audit(outcome, shown, extra.get("doccano"))
