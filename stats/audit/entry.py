"""`cmner-build audit labels`, the one call the command makes.

The audit spans three stages: the consistency signal and the report are this stage's; confident learning
(baselines) and the review in Doccano (annotate) are passed in by the caller as functions, so this stage
imports neither (stages meet in the core type `LabelIssue` and in the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace

from cmner_build.stats.audit.run import AuditOutcome, audit_labels
from cmner_build.stats.audit.settings import SIGNAL_CHOICES, audit_settings


@dataclass
class AuditRequest:
    signals: Optional[str] = None  # None: [audit] signals
    folds: Optional[int] = None
    epochs: Optional[int] = None
    model: Optional[str] = None
    images: Optional[str] = None
    device: str = "auto"
    bert: Optional[str] = None
    encoder: Optional[str] = None
    top: Optional[int] = None
    out: Optional[Path] = None
    doccano: bool = False
    adjudicator: Optional[str] = None
    url: Optional[str] = None


@dataclass
class AuditResult:
    outcome: AuditOutcome
    top: int
    review: dict[str, Any] | None = None  # what --doccano sent
    extra: dict[str, Any] = field(default_factory=dict)


# (workspace, cross-validation settings as plain values, progress, log) -> an object with .signal, .issues, .info
ConfidentLearning = Callable[..., Any]
# (workspace, issues, adjudicator, url) -> dict (the push result)
Review = Callable[..., dict]


def audit_workspace(workspace: Workspace, request: AuditRequest, *, confident_learning: ConfidentLearning | None = None,
                    review: Review | None = None, progress=None, log: Callable[[str], None] = lambda m: None) -> AuditResult:
    """Run the chosen signals over the workspace's gold, write the report; with `request.doccano`, send
    the top items for review. One audit per workspace at a time (the folds' cache is shared)."""
    from cmner_build.safety import stage_lock

    settings = audit_settings(workspace.settings)
    chosen = request.signals or settings.signals
    if chosen not in SIGNAL_CHOICES:
        raise CmnerError(f"--signals must be one of {', '.join(SIGNAL_CHOICES)}, not {chosen!r}")
    top = request.top or settings.top
    if top < 1:
        raise CmnerError("--top must be at least 1")
    with stage_lock(workspace.root, "audit"):
        other, signal_info = {}, {}
        if chosen in ("confident_learning", "both"):
            if confident_learning is None:
                raise CmnerError("confident learning is not available here (no baseline stage was passed in)")
            result = confident_learning(
                workspace,
                {"folds": request.folds or settings.folds, "epochs": request.epochs or settings.epochs,
                 "model": request.model or settings.model, "images": request.images or settings.images,
                 "seed": workspace.settings.seed, "device": request.device, "bert": request.bert,
                 "encoder": request.encoder},
                progress=progress, log=log,
            )
            other[result.signal] = result.issues
            signal_info[result.signal] = result.info
        outcome = audit_labels(workspace.store, request.out or workspace.exports_dir / "audit", settings,
                               consistency=chosen in ("consistency", "both"), other_signals=other,
                               signal_info=signal_info)
        sent = None
        if request.doccano:
            if review is None:
                raise CmnerError("the review in Doccano is not available here (no annotate stage was passed in)")
            sent = review(workspace, outcome.ranked[:top], request.adjudicator, request.url)
    return AuditResult(outcome, top, sent)
