"""The terminal table of `audit labels` (all outside text escaped for rich)."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from cmner_build.console import info, out
from cmner_build.label_issues import describe

from cmner_build.stats.audit.run import AuditOutcome

CONTEXT = 12


def render_audit(outcome: AuditOutcome, top: int, doccano: dict | None = None) -> None:
    table = Table(box=box.SIMPLE, pad_edge=False, title=f"Likely label issues (top {min(top, len(outcome.ranked))} "
                  f"of {len(outcome.ranked)})", title_justify="left")
    for column in ("#", "post", "signal", "kind", "score", "context", "fix", "reason"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left",
                         overflow="fold")
    for rank, issue in enumerate(outcome.ranked[:top], start=1):
        text = outcome.texts[issue.post_id]
        context = (text[max(0, issue.start - CONTEXT):issue.start] + "[" + text[issue.start:issue.end] + "]"
                   + text[issue.end:issue.end + CONTEXT])
        table.add_row(
            str(rank), escape(issue.post_id), escape("+".join(issue.signals or [issue.signal])), issue.kind,
            f"{issue.score:.3f}", escape(context.replace("\n", " ")),
            escape(f"{describe(text, issue.gold)} → {describe(text, issue.suggestion)}"), escape(issue.reason),
        )
    out.print(table)
    counts = ", ".join(f"{name} {len(issues)}" for name, issues in outcome.by_signal.items())
    info(f"{len(outcome.ranked)} issues ({counts}) in {outcome.summary['posts']} gold posts; "
         f"report: {outcome.html} and {outcome.jsonl}")
    if doccano and doccano.get("project_id") is not None:
        info(f"sent {doccano['posts']} posts to Doccano project {doccano['project_id']} ({doccano['batch_id']}) at "
             f"{doccano['url']}: the reviewer corrects the spans, comments `reason: <code>` and marks each done; "
             "then `cmner-build adjudicate pull`")
    elif doccano and doccano.get("already_out"):
        info(f"{len(doccano['already_out'])} flagged posts are already out for review; `cmner-build adjudicate pull` "
             "brings back what the reviewer finished")
