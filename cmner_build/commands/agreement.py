"""Commands of the agreement stage: `agreement` (with the pilot gate) and `adjudicate` (+ `pull`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import open_ws, print_json


def register(app: typer.Typer) -> None:
    app.command(
        "agreement",
        epilog="Example: cmner-build -w my-corpus agreement --round pilot   (exit status 1 when the gate fails)",
    )(agreement)
    adjudicate_app = typer.Typer(no_args_is_help=False, rich_markup_mode=None)
    adjudicate_app.callback(
        invoke_without_command=True,
        epilog="Example: cmner-build -w my-corpus adjudicate --doccano --adjudicator judge   "
               "(or --interactive, --jsonl adjudication.jsonl, --auto majority)",
    )(adjudicate)
    adjudicate_app.command(
        "pull",
        epilog="Example: cmner-build -w my-corpus adjudicate pull   "
               "(or: adjudicate pull --from-export adjudication.zip --adjudicator judge)",
    )(adjudicate_pull)
    app.add_typer(adjudicate_app, name="adjudicate")


def agreement(
    ctx: typer.Context,
    round_name: str = typer.Option("all", "--round", help="pilot (and the gate) or all (pilot and main batches)."),
    batch: Optional[str] = typer.Option(None, "--batch", help="Only this batch."),
    vs_gold: bool = typer.Option(False, "--vs-gold", help="Score each annotator against the adjudicated gold."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
    replicates: Optional[int] = typer.Option(None, "--bootstrap", help="Bootstrap replicates (default from cmner.toml)."),
) -> None:
    """Inter-annotator agreement on the posts all their annotators confirmed; `--round pilot` is the gate.

    Span F1 (strict = primary, overlap, detection) per label and pair, label confusion, Cohen/Fleiss κ, Krippendorff α.
    Bootstrap 95 % intervals over posts and the lowest-agreement posts; every run is stored in the workspace.
    With --round pilot it prints PASS or FAIL with the reasons and exits with status 1 on FAIL.
    """
    from cmner_build.annotate.agreement.gate import GATE_FAILED_EXIT_CODE
    from cmner_build.annotate.agreement.report import render_agreement, render_gate, render_vs_gold
    from cmner_build.annotate.agreement.run import measure_agreement

    from ..console import info, out
    from ..errors import CmnerError

    workspace = open_ws(ctx)
    outcome = measure_agreement(workspace.store, workspace.settings, round_name, batch, vs_gold, replicates)
    report = outcome.report
    if outcome.nothing_to_measure:
        if as_json:
            print_json(report)
        if not outcome.gate_applies:
            raise CmnerError(outcome.nothing_to_measure)  # nothing measured is not a success
        info(outcome.nothing_to_measure)
        info("FAIL: the pilot has not been measured")
    elif as_json:
        print_json(report)
    elif outcome.kind == "vs-gold":
        render_vs_gold(report, out)
    else:
        waiting = f"; {outcome.incomplete} posts not yet confirmed by all their annotators" if outcome.incomplete else ""
        render_agreement(report, out, f"Agreement, round {round_name}" + (f", batch {batch}" if batch else "") + waiting)
        if outcome.gate is not None:
            render_gate(outcome.gate, out)
    if outcome.gate_failed:
        raise typer.Exit(GATE_FAILED_EXIT_CODE)


def adjudicate(
    ctx: typer.Context,
    batch: Optional[str] = typer.Option(None, "--batch", help="Only posts of this batch."),
    min_votes: Optional[int] = typer.Option(None, "--min-votes", help="Exact votes that accept a span (default 2)."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Review the open conflicts here, one by one."),
    auto: Optional[str] = typer.Option(None, "--auto", help="Decide open conflicts by a policy: majority."),
    jsonl: Optional[Path] = typer.Option(None, "--jsonl", help="Write the Doccano import file for the adjudicator."),
    doccano: bool = typer.Option(False, "--doccano", help="Create the adjudication project on the Doccano server."),
    adjudicator: Optional[str] = typer.Option(None, "--adjudicator", help="Doccano username of the adjudicator."),
    url: Optional[str] = typer.Option(None, "--url", help="Doccano server URL for --doccano "
                                      "(default: [doccano] url in cmner.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Merge each post's versions: majority spans become gold, conflicts go to the adjudicator.

    Spans with at least min_votes exact votes are accepted; the rest form conflict clusters (boundary, type, ...).
    Posts without an open conflict are settled at once: status gold, or dropped (no_entities) when nothing is left.
    Open conflicts: --interactive, --doccano (or --jsonl FILE) then `adjudicate pull`, or --auto majority.
    """
    if ctx.invoked_subcommand is not None:
        return
    from cmner_build.annotate.adjudication.entry import adjudicate as run_adjudication

    from ..console import info, warn

    outcome = run_adjudication(
        open_ws(ctx), batch=batch, min_votes=min_votes, interactive=interactive, auto=auto, jsonl=jsonl,
        doccano=doccano, adjudicator=adjudicator, url=url, ask=_ask, say=_say,
    )
    summary, extra = outcome.summary, outcome.extra
    if outcome.accounts_note:
        info(outcome.accounts_note)
    if as_json:
        print_json({**summary.to_dict(), **extra})
        return
    if summary.posts:
        _print_summary(summary, extra, outcome.reviewed)
    for post_id in summary.sync.changed_after_settling:
        warn(f"post {post_id} was re-annotated after it was settled; its gold is kept")


def _ask(prompt: str) -> Optional[str]:
    try:
        # prompts and cluster views go to stderr, so stdout stays clean for --json
        return typer.prompt(prompt, default="", show_default=False, prompt_suffix="> ", err=True)
    except (typer.Abort, EOFError):  # typer.Abort: typer 0.25+ carries its own click
        return None


def _say(line: str) -> None:
    from ..console import err

    err.print(line, markup=False, highlight=False)


def _print_summary(summary, extra: dict, reviewed: int) -> None:
    from rich import box
    
    from ..console import DataTable, info, out

    table = DataTable(box=box.SIMPLE, pad_edge=False, title="Conflict clusters", title_justify="left")
    for column in ("type", "found", "still open"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, count in summary.clusters_by_type.items():
        table.add_row(kind, str(count), str(summary.open_by_type[kind]))
    out.print(table)
    dropped = sum(1 for status in summary.settled_now.values() if status == "dropped")
    auto = f", {summary.auto_decided} conflicts decided by the majority policy" if summary.auto_decided else ""
    review = f", {reviewed} by your review" if "interactive" in extra else ""
    info(f"{summary.posts} posts merged ({summary.sync.added} new); settled now: {len(summary.settled_now)} "
         f"({dropped} dropped: no entities){auto}{review}; settled in all: {summary.settled_total}; "
         f"open: {summary.open_posts} posts")
    if "jsonl" in extra:
        info(f"wrote {extra['jsonl']['records']} posts to {extra['jsonl']['path']}: import it in Doccano as the "
             "adjudicator, then `cmner-build adjudicate pull --from-export ZIP`")
    pushed = extra.get("doccano", {})
    for batch_id in pushed.get("resumed", []):
        info(f"{batch_id}: finished the upload an earlier run left unfinished")
    if pushed.get("project_id") is not None:
        info(f"Doccano project {pushed['project_id']} ({pushed['batch_id']}) at {pushed['url']}: {pushed['posts']} "
             "posts for the adjudicator, who corrects the spans, comments `reason: <code>` and marks each done; "
             "then `cmner-build adjudicate pull`")
    elif "doccano" in extra and pushed.get("already_out"):
        info(f"{len(pushed['already_out'])} open posts are already in an adjudication project; "
             "`cmner-build adjudicate pull` brings back what the adjudicator finished")
    if summary.open_posts and not extra:
        info("open conflicts wait for the adjudicator: `adjudicate --interactive`, `adjudicate --doccano`, "
             "`adjudicate --jsonl FILE`, or `adjudicate --auto majority`")


def adjudicate_pull(
    ctx: typer.Context,
    from_export: Optional[Path] = typer.Option(None, "--from-export", help="The adjudication project's export zip "
                                               "(or the adjudicator's .jsonl) instead of the server."),
    adjudicator: Optional[str] = typer.Option(None, "--adjudicator", help="Whose <username>.jsonl in the zip."),
    url: Optional[str] = typer.Option(None, "--url", help="Doccano server URL "
                                      "(default: [doccano] url in cmner.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply the adjudicator's decisions: each confirmed example with a `reason: <code>` comment settles its post."""
    from cmner_build.annotate.adjudication.entry import adjudicate_pull as run_adjudicate_pull

    from ..console import info, warn

    report = run_adjudicate_pull(open_ws(ctx), from_export=from_export, adjudicator=adjudicator, url=url)
    if as_json:
        print_json(report.to_dict())
        return
    dropped = sum(1 for status in report.settled.values() if status == "dropped")
    info(f"settled {len(report.settled)} posts ({dropped} dropped: no entities); "
         f"{len(report.undecided)} without a reason code for every conflict are left open")
    for problem in report.problems:
        warn(problem)
    if report.unknown_reasons:
        warn(f"reason codes not in [agreement] reason_codes (kept as given): {', '.join(report.unknown_reasons)}")
    if report.unknown_posts:
        warn(f"{len(report.unknown_posts)} posts in the export are not waiting for adjudication "
             f"(e.g. {report.unknown_posts[0]})")
    if report.already_settled:
        info(f"{len(report.already_settled)} posts were already settled and are kept as they are")
