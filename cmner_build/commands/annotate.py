"""Commands of the annotate stage: `annotate users add|push|pull|status|images`, `doccano serve|stop`.

Only typer and the standard library are imported here; the work is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import open_ws, print_json

URL_HELP = "Doccano server URL (default: [doccano] url in cmner.toml)."


def register(app: typer.Typer) -> None:
    annotate_app = typer.Typer(help="Annotate in Doccano: annotators, pilot, batches of three, pull, progress.",
                               no_args_is_help=True)
    users_app = typer.Typer(help="Annotator accounts.", no_args_is_help=True)
    users_app.command("add", epilog="Example: cmner-build annotate users add ann_a ann_b ann_c")(users_add)
    annotate_app.add_typer(users_app, name="users")
    annotate_app.command("push", epilog="Example: cmner-build annotate push --pilot 100   "
                         "(then, after the pilot passed: cmner-build annotate push --batch-size 100)")(push)
    annotate_app.command("pull", epilog="Example: cmner-build annotate pull   "
                         "(or: cmner-build annotate pull --from-export batch-0001.zip)")(pull)
    annotate_app.command("status", epilog="Example: cmner-build annotate status --live")(status)
    annotate_app.command("images", epilog="Example: cmner-build annotate images   "
                         "(then `cmner-build annotate pull` applies the choices)")(images)
    app.add_typer(annotate_app, name="annotate")

    doccano_app = typer.Typer(help="A local Doccano 1.8.4 server for labs without one.", no_args_is_help=True)
    doccano_app.command("serve", epilog="Example: DOCCANO_PASSWORD=... cmner-build doccano serve --port 8000")(serve)
    doccano_app.command("stop", epilog="Example: cmner-build doccano stop")(stop)
    doccano_app.command("install", epilog="Example: cmner-build doccano install --venv .venv-doccano")(install)
    app.add_typer(doccano_app, name="doccano")


# -- annotate -------------------------------------------------------------------------------------


def users_add(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="User names to create (letters, digits and @ . + - _)."),
    url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
    password_file: Optional[Path] = typer.Option(
        None, "--password-file", help="Where new passwords are appended, mode 0600 "
        "(default: [annotate] password_file, annotator-passwords.tsv in the workspace)."),
) -> None:
    """Create annotator accounts in Doccano with generated passwords, written once to an owner-only file."""
    from cmner_build.annotate.entry import add_users
    from cmner_build.console import info

    outcome = add_users(open_ws(ctx), names, url=url, password_file=password_file)
    accounts, target = outcome.accounts, outcome.password_file
    created = [account.username for account in accounts if account.created]
    existing = [account.username for account in accounts if not account.created]
    if created:
        info(f"created {', '.join(created)} on {outcome.url}; their passwords are in {target} (mode 0600): "
             "hand each one over privately, then delete the file")
    if existing:
        info(f"{', '.join(existing)} already had accounts (passwords unchanged); added to the annotator list")


def push(
    ctx: typer.Context,
    pilot: Optional[int] = typer.Option(None, "--pilot", help="Push a pilot of N random ready posts to every "
                                        "annotator of the pool (one project) instead of the main batches."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Posts per batch (default: [annotate] batch_size, 100)."),
    force: bool = typer.Option(False, "--force", help="Push main batches even though no pilot has passed."),
    url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
    suggest: Optional[str] = typer.Option(None, "--suggest", help="Pre-fill each annotator's copy of the new "
                                          "main batches with this run's spans (after `predict RUN`); never the pilot."),
    min_confidence: Optional[float] = typer.Option(None, "--min-confidence", help="With --suggest: only spans "
                                                   "with at least this confidence (0-1, default 0.5)."),
    order: str = typer.Option("random", "--order", help="random (seeded shuffle) or uncertainty: the posts RUN "
                              "is least sure of first, topic-balanced."),
    run: Optional[str] = typer.Argument(None, help="With --order uncertainty: the run whose predictions order "
                                        "the posts (default: the --suggest run)."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="Annotator passwords for "
                                                 "--suggest (default: [annotate] password_file)."),
) -> None:
    """Push ready posts to Doccano: a pilot for everyone, or batches of posts for rotating triples.

    Idempotent: a second run, or a run after a crash or outage, creates no duplicate project or example.
    Model in the loop: `--suggest RUN` pre-fills annotators' copies, `--order uncertainty RUN` sends the
    posts the run is least sure of first."""
    from cmner_build.annotate.entry import push_to_doccano
    from cmner_build.console import info, make_progress, warn

    with make_progress() as bar:
        tasks: dict[str, int] = {}

        def progress(batch_id: str, done: int, total: int) -> None:
            if batch_id not in tasks:
                tasks[batch_id] = bar.add_task(f"pushing {batch_id}", total=total, status="")
            bar.update(tasks[batch_id], completed=done)

        report = push_to_doccano(open_ws(ctx), pilot=pilot, batch_size=batch_size, force=force, url=url, warn=warn,
                                 suggest=suggest, min_confidence=min_confidence, order=order, run=run,
                                 password_file=password_file, progress=progress)
    if not report.batches:
        info("nothing to push: every planned batch is in Doccano and no ready post is left"
             if pilot is None else "the pilot is already in Doccano; pull it with `cmner-build annotate pull`")
    for batch in report.batches:
        extra = f", {batch.duplicates_removed} duplicates removed" if batch.duplicates_removed else ""
        info(f"{batch.batch_id} ({batch.round}): project {batch.project_id} {batch.project_name!r}, "
             f"{batch.posts} posts ({batch.uploaded} uploaded now, {batch.already_there} already there{extra}), "
             f"annotators {', '.join(batch.annotators)}"
             + (f"; {batch.suggestions_sent} suggested spans pre-filled" if batch.suggestions_sent else ""))
    if report.batches:
        info(f"annotators work at {report.url}; then run `cmner-build annotate pull`")


def pull(
    ctx: typer.Context,
    batch: Optional[List[str]] = typer.Option(None, "--batch", help="Only this batch (repeatable); with "
                                              "--from-export, the batch the zip belongs to (created if new)."),
    from_export: Optional[Path] = typer.Option(None, "--from-export", help="A Doccano per-user JSONL export zip "
                                               "handed over, instead of the server (works offline)."),
    round_: Optional[str] = typer.Option(None, "--round", help="pilot or main: the round of a batch "
                                         "--from-export creates (default: pilot for batch 'pilot', else main)."),
    url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Pull each annotator's spans (converted to code points, validated) and confirmations into the store."""
    from cmner_build.annotate.entry import pull_annotations
    from cmner_build.console import info, warn

    outcome = pull_annotations(open_ws(ctx), batches=batch or [], from_export=from_export, round_=round_, url=url)
    report, images = outcome.report, outcome.images
    for note in report.notes[:10]:
        warn(note)
    if as_json:
        from dataclasses import asdict

        print_json({"batches": [asdict(summary) for summary in report.batches],
                    "posts_annotated": report.posts_annotated, "posts_reopened": report.posts_reopened,
                    "images": None if images is None else asdict(images)})
        return
    for summary in report.batches:
        done = ", ".join(f"{name} {count}/{summary.posts}" for name, count in summary.confirmed.items())
        info(f"{summary.batch_id}: confirmed {done}; {summary.annotated}/{summary.posts} posts complete")
        if summary.missing_annotators:
            warn(f"{summary.batch_id}: no export file for {', '.join(summary.missing_annotators)} (not a member?)")
    info(f"{report.posts_annotated} posts became 'annotated'"
         + (f", {report.posts_reopened} went back to 'annotating' (un-confirmed)" if report.posts_reopened else ""))
    if images is not None and images.batches:
        info(f"images: {images.votes} choices pulled, {images.dropped} images dropped as unrelated_to_text")


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of a table."),
    live: bool = typer.Option(False, "--live", help="Also ask Doccano how many examples each annotator has done now."),
    url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Progress per batch and annotator: posts pushed, confirmed per annotator, posts complete."""
    from cmner_build.annotate.doccano.connect import connect_admin
    from cmner_build.annotate.progress import batch_progress, gold_so_far_curve

    workspace = open_ws(ctx)
    if live:
        with connect_admin(workspace, url) as api:
            batches = batch_progress(workspace.store, api)
    else:
        batches = batch_progress(workspace.store)
    if as_json:
        print_json([batch.as_dict() for batch in batches])
        return
    from cmner_build.console import DataTable, info, out

    if not batches and not gold_so_far_curve(workspace.store):
        info("no batch yet: start with `cmner-build annotate push --pilot 100`")
        return
    table = DataTable(title="annotation progress")
    for column in ("batch", "round", "project", "posts", "pushed", "annotator", "confirmed", "spans", "complete"):
        table.add_column(column, justify="right" if column in ("posts", "pushed", "confirmed", "spans", "complete") else "left")
    if live:
        table.add_column("done now", justify="right")
    for batch in batches:
        for index, annotator in enumerate(batch.annotators or [None]):
            first = index == 0
            row = [
                batch.batch_id if first else "", batch.round if first else "",
                (str(batch.project_id) if batch.project_id is not None else "-") if first else "",
                str(batch.posts) if first else "", str(batch.pushed) if first else "",
                annotator.username if annotator else "-",
                f"{annotator.confirmed}/{batch.posts}" if annotator else "", str(annotator.spans) if annotator else "",
                f"{batch.annotated}/{batch.posts}" if first else "",
            ]
            if live:
                row.append(batch.live_error or "" if annotator is None or annotator.done_live is None
                           else str(annotator.done_live))
            table.add_row(*row, end_section=index == len(batch.annotators or [None]) - 1)
    if batches:
        out.print(table)
    curve = gold_so_far_curve(workspace.store)
    if curve:
        learning = DataTable(title="model on the gold so far (baseline ... --gold-so-far): dev F1 as gold grows")
        for column in ("run", "model", "images", "gold posts", "train posts", "dev F1"):
            learning.add_column(column, justify="right" if column in ("gold posts", "train posts", "dev F1") else "left")
        for point in curve:
            learning.add_row(point.run_id, point.model.upper(), point.images, str(point.gold_posts),
                             str(point.train_posts), f"{point.dev_f1:.2f}")
        out.print(learning)


def images(
    ctx: typer.Context,
    url: Optional[str] = typer.Option(None, "--url", help=URL_HELP),
    annotators: Optional[str] = typer.Option(None, "--annotators", help="Comma-separated annotators "
                                             "(default: the whole pool)."),
) -> None:
    """Push the kept images of pushed posts to an image-classification project: annotators mark the ones
    unrelated to the text; `annotate pull` then drops those images (reason unrelated_to_text)."""
    from cmner_build.annotate.entry import push_image_round
    from cmner_build.console import info

    report = push_image_round(open_ws(ctx), url=url, annotators=annotators.split(",") if annotators else ())
    if report is None:
        info("no kept image of a pushed post is waiting for a relevance check")
        return
    info(f"{report.batch_id}: project {report.project_id}, {report.images} images "
         f"({report.uploaded} uploaded now), annotators {', '.join(report.annotators)}")


# -- doccano --------------------------------------------------------------------------------------


def serve(
    ctx: typer.Context,
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: the port of [doccano] url, else 8000)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes it to the network."),
    venv: Optional[Path] = typer.Option(None, "--venv", help="The server's virtual environment (built on first "
                                        "use; default: $CMNER_DOCCANO_VENV, [doccano] server_venv, the checkout's "
                                        ".venv-doccano, else ~/.cache/cmner-build/doccano-1.8.4)."),
    python: Optional[str] = typer.Option(None, "--python", help="Python 3.8-3.11 to build that venv with."),
    workers: Optional[int] = typer.Option(None, "--workers", help="gunicorn workers (default: [doccano] workers, 1)."),
) -> None:
    """Start a local Doccano 1.8.4 (own venv, SQLite in the workspace, 127.0.0.1) in the background."""
    from cmner_build.annotate.entry import serve_doccano
    from cmner_build.console import info, warn

    outcome = serve_doccano(open_ws(ctx), port=port, host=host, venv=venv, python=python, workers=workers, log=info)
    record, settings, generated = outcome.record, outcome.settings, outcome.generated_password
    info(f"Doccano {record.url} is running (pid {record.pid}; data {settings.server_dir}; log "
         f"{settings.server_dir / 'server.log'}); stop it with `cmner-build doccano stop`")
    if host != "127.0.0.1":
        warn(f"bound to {host}: anyone who can reach this machine can reach the server")
    if generated:
        # Shown once, on purpose: it is stored nowhere (only Doccano holds its hash).
        info(f"admin {settings.admin_user!r} password (shown once): {generated}")
        info(f"export {settings.password_env}='{generated}' for the other commands")
    if record.url != settings.url:
        info(f"[doccano] url in cmner.toml is {settings.url}: pass --url {record.url} or edit it")


def stop(ctx: typer.Context) -> None:
    """Stop the Doccano server that `doccano serve` started, by its recorded process id."""
    from cmner_build.annotate.settings import doccano_settings
    from cmner_build.annotate.doccano.server import stop_server
    from cmner_build.console import info

    workspace = open_ws(ctx)
    record = stop_server(doccano_settings(workspace).server_dir)
    if record is None:
        info("no Doccano server started by `cmner-build doccano serve` is recorded here")
    else:
        info(f"stopped the Doccano server at {record.url} (pid {record.pid})")


def install(
    venv: Optional[Path] = typer.Option(None, "--venv", help="Where to build it (default: as for `serve`)."),
    python: Optional[str] = typer.Option(None, "--python", help="Python 3.8-3.11 to build it with."),
) -> None:
    """Build the Doccano 1.8.4 server venv (doccano==1.8.4, marshmallow<4, numpy<2) without starting it.

    `serve` does this on first use; `make test` calls it for the tests' server. Needs no workspace."""
    from cmner_build.annotate.doccano.server import default_venv_path, ensure_server_venv, venv_is_ready
    from cmner_build.console import info

    target = venv or default_venv_path()
    if venv_is_ready(target):
        info(f"the Doccano server venv {target} is ready")
        return
    ensure_server_venv(target, python, log=info)
    info(f"built the Doccano server venv {target}")
