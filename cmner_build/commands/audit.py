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
    from cmner_build.annotate.adjudication.audit_review import send_for_review
    from cmner_build.baselines.confident import workspace_confident_learning
    from cmner_build.stats.audit.entry import AuditRequest, audit_workspace

    from ..console import info, progress_task

    request = AuditRequest(signals=signals, folds=folds, epochs=epochs, model=model, images=images, device=device,
                           bert=bert, encoder=encoder, top=top, out=out, doccano=doccano, adjudicator=adjudicator,
                           url=url)
    result = audit_workspace(open_ws(ctx), request, confident_learning=workspace_confident_learning,
                             review=send_for_review, progress=progress_task, log=info)
    if as_json:
        print_json({**result.outcome.summary, **({"doccano": result.review} if result.review is not None else {})})
        return
    from cmner_build.stats.audit.render import render_audit

    render_audit(result.outcome, result.top, result.review)
