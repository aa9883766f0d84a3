"""Commands of the agreement stage (issue 6): `agreement` (with the pilot gate) and `adjudicate` (+ `pull`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import open_ws, print_json

ROUNDS = ("pilot", "all")


def register(app: typer.Typer) -> None:
    app.command(
        "agreement",
        epilog="Example: cmner-build -w my-corpus agreement --round pilot   (exit status 1 when the gate fails)",
    )(agreement)
    adjudicate_app = typer.Typer(no_args_is_help=False, rich_markup_mode="rich")
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
    from cmner_build.annotate.agreement.measures import AgreementOptions, compute_agreement, compute_vs_gold
    from cmner_build.annotate.agreement.data import load_annotated_posts
    from cmner_build.annotate.agreement.gate import GATE_FAILED_EXIT_CODE, GateSettings, evaluate_gate
    from cmner_build.annotate.agreement.report import render_agreement, render_gate, render_vs_gold
    from cmner_build.annotate.agreement.runs import save_run
    from cmner_build.annotate.agreement.settings import agreement_settings
    from cmner_build.annotate.suggestions import suggestion_counts
    from cmner_build.annotate.adjudication.store import settled_versions

    from ..console import info, out
    from ..errors import CmnerError

    if round_name not in ROUNDS:
        raise CmnerError(f"--round must be one of {', '.join(ROUNDS)}, not {round_name!r}")
    workspace = open_ws(ctx)
    store, settings = workspace.store, agreement_settings(workspace.settings)
    if replicates is not None and replicates < 0:
        raise CmnerError("--bootstrap must not be negative")
    options = AgreementOptions(replicates=settings.replicates if replicates is None else replicates,
                               seed=settings.seed, lowest=settings.lowest)
    if vs_gold:
        posts, gold = settled_versions(store, batch)
        if not posts:
            info("no adjudicated posts yet: run `cmner-build adjudicate` first")
            if as_json:
                print_json({"posts": 0})
            return
        report = compute_vs_gold(posts, gold, options)
        report["run_id"] = save_run(store, "vs-gold", batch, report, None)
        if as_json:
            print_json(report)
        else:
            render_vs_gold(report, out)
        return

    data = load_annotated_posts(store, round_name, batch)
    gate_settings = GateSettings.from_settings(workspace.settings) if round_name == "pilot" else None
    if not data.posts:
        what = "pilot " if round_name == "pilot" else ""
        message = (f"no {what}annotations to measure: no {what}post is confirmed by all its annotators yet "
                   f"({len(data.batches)} batches, {data.incomplete} posts waiting); run `cmner-build annotate pull`")
        info(message)
        if as_json:
            print_json({"posts": 0, "incomplete": data.incomplete, "gate": None if gate_settings is None else
                        {"passed": False, "reasons": [message]}})
        if gate_settings is not None:
            info("FAIL: the pilot has not been measured")
            raise typer.Exit(GATE_FAILED_EXIT_CODE)
        return
    report = compute_agreement(data.posts, options)
    report.update(round=round_name, batch_id=batch, incomplete=data.incomplete)
    report["suggestions"] = suggestion_counts(store, data.batches)  # model suggestions kept / changed / deleted
    gate = None
    if gate_settings is not None:
        gate = evaluate_gate(report, gate_settings)
        report["gate"] = {**gate.to_dict(), "settings": gate_settings.__dict__}
    report["run_id"] = save_run(store, round_name, batch, report, None if gate is None else gate.passed)
    if as_json:
        print_json(report)
    else:
        waiting = f"; {data.incomplete} posts not yet confirmed by all their annotators" if data.incomplete else ""
        render_agreement(report, out, f"Agreement, round {round_name}" + (f", batch {batch}" if batch else "") + waiting)
        if gate is not None:
            render_gate(gate, out)
    if gate is not None and not gate.passed:
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
                                      "(default: \\[doccano] url in cmner.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Merge each post's versions: majority spans become gold, conflicts go to the adjudicator.

    Spans with at least min_votes exact votes are accepted; the rest form conflict clusters (boundary, type, ...).
    Posts without an open conflict are settled at once: status gold, or dropped (no_entities) when nothing is left.
    Open conflicts: --interactive, --doccano (or --jsonl FILE) then `adjudicate pull`, or --auto majority.
    """
    if ctx.invoked_subcommand is not None:
        return
    from cmner_build.annotate.adjudication.run import AUTO_POLICIES, fill_counts, merge_and_settle
    from cmner_build.annotate.adjudication.doccano import write_payload
    from cmner_build.annotate.adjudication.review import review
    from cmner_build.annotate.adjudication.store import load_posts
    from cmner_build.annotate.agreement.settings import agreement_settings

    from ..console import info, warn
    from ..errors import CmnerError

    modes = [name for name, on in (("--interactive", interactive), ("--auto", auto is not None),
                                   ("--jsonl", jsonl is not None), ("--doccano", doccano)) if on]
    if len(modes) > 1:
        raise CmnerError(f"choose one of {', '.join(modes)}")
    if auto is not None and auto not in AUTO_POLICIES:
        raise CmnerError(f"--auto must be one of {', '.join(AUTO_POLICIES)}, not {auto!r}")
    workspace = open_ws(ctx)
    store, settings = workspace.store, agreement_settings(workspace.settings)
    votes = settings.min_votes if min_votes is None else min_votes
    if votes < 1:
        raise CmnerError("--min-votes must be at least 1")
    summary = merge_and_settle(store, votes, batch, auto)
    settled_before_review = dict(summary.settled_now)
    extra: dict = {}
    if summary.posts == 0:
        info(f"no annotations to adjudicate: no post is confirmed by all its annotators yet "
             f"({summary.incomplete} waiting); run `cmner-build annotate pull`")
    if interactive and summary.open_posts:
        done = review(store, load_posts(store, state="open", post_ids=summary.post_ids), _ask, _say,
                      settings.reason_codes)
        summary.settled_now.update(done.settled)
        extra["interactive"] = {"decided": done.decided, "stopped": done.stopped, "remaining": done.remaining}
    if jsonl is not None:
        written = write_payload(load_posts(store, state="open", post_ids=summary.post_ids), jsonl,
                                settings.reason_codes)
        extra["jsonl"] = {"path": str(jsonl), "records": written}
    if doccano:
        from cmner_build.annotate.adjudication.server import push_to_server
        from cmner_build.annotate.doccano.connect import annotate_settings

        name = adjudicator or settings.adjudicator
        if not name:
            raise CmnerError("name the adjudicator: --adjudicator USERNAME or [agreement] adjudicator in cmner.toml")
        with _connect(workspace, url, "write the project file with `adjudicate --jsonl FILE` and import it in "
                      "Doccano as the adjudicator") as server:
            pushed = push_to_server(store, server, load_posts(store, state="open", post_ids=summary.post_ids), name,
                                    settings.reason_codes, annotate_settings(workspace).project_prefix)
        extra["doccano"] = pushed.__dict__
        if pushed.accounts_created:
            info(f"created the Doccano account {', '.join(pushed.accounts_created)} on {pushed.url}; the password is "
                 f"in {annotate_settings(workspace).password_file} (mode 0600): hand it over privately")
    fill_counts(summary, load_posts(store, post_ids=summary.post_ids))  # after the review, if any
    if as_json:
        print_json({**summary.to_dict(), **extra})
        return
    if summary.posts:
        _print_summary(summary, extra, len(summary.settled_now) - len(settled_before_review))
    for post_id in summary.sync.changed_after_settling:
        warn(f"post {post_id} was re-annotated after it was settled; its gold is kept")


def _connect(workspace, url: Optional[str], offline: str):
    """The adjudication server, or an error that also names the way without a server."""
    from cmner_build.annotate.adjudication.server import connect_adjudication_server

    from ..errors import CmnerError

    try:
        return connect_adjudication_server(workspace, url)
    except CmnerError as error:
        raise CmnerError(f"{error}; or, without a server, {offline}") from None


def _ask(prompt: str) -> Optional[str]:
    import click

    try:
        # prompts and cluster views go to stderr, so stdout stays clean for --json
        return typer.prompt(prompt, default="", show_default=False, prompt_suffix="> ", err=True)
    except (click.exceptions.Abort, EOFError):
        return None


def _say(line: str) -> None:
    from ..console import err

    err.print(line, markup=False, highlight=False)


def _print_summary(summary, extra: dict, reviewed: int) -> None:
    from rich import box
    from rich.table import Table

    from ..console import info, out

    table = Table(box=box.SIMPLE, pad_edge=False, title="Conflict clusters", title_justify="left")
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
                                      "(default: \\[doccano] url in cmner.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply the adjudicator's decisions: each confirmed example with a `reason: <code>` comment settles its post."""
    from cmner_build.annotate.adjudication.run import apply_adjudicator_lines
    from cmner_build.annotate.adjudication.doccano import read_adjudicator_export
    from cmner_build.annotate.agreement.schema import ensure_schema
    from cmner_build.annotate.agreement.settings import agreement_settings

    from ..console import info, warn

    workspace = open_ws(ctx)
    store, settings = workspace.store, agreement_settings(workspace.settings)
    ensure_schema(store)
    if from_export is not None:
        lines = read_adjudicator_export(from_export, adjudicator or settings.adjudicator or None)
        report = apply_adjudicator_lines(store, lines, settings.reason_codes)
    else:
        from cmner_build.annotate.adjudication.server import pull_from_server

        with _connect(workspace, url, "apply the adjudicator's export zip with `adjudicate pull --from-export ZIP`") \
                as server:
            report = pull_from_server(store, server, settings.reason_codes)
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
