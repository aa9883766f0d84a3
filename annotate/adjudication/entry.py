"""The entry points of `cmner-build adjudicate` and `adjudicate pull`: plain values in, a summary out.

The CLI parses the options, calls one of these and prints what comes back. The terminal review needs
a way to ask and to show (`ask`, `say`): the CLI passes its prompt, a notebook its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cmner_build.errors import CmnerError
from cmner_build.workspace import Workspace

from cmner_build.annotate.adjudication.run import (
    AUTO_POLICIES,
    AdjudicationSummary,
    PullReport,
    apply_adjudicator_lines,
    fill_counts,
    merge_and_settle,
)
from cmner_build.annotate.adjudication.store import load_posts
from cmner_build.annotate.settings import agreement_settings


@dataclass
class AdjudicateOutcome:
    summary: AdjudicationSummary
    extra: dict[str, Any] = field(default_factory=dict)  # what each mode did: interactive, jsonl, doccano
    reviewed: int = 0  # posts settled by the terminal review
    accounts_note: str | None = None  # a Doccano account was created: where its password is


def connect_server(workspace: Workspace, url: Optional[str], offline: str):  # -> AdjudicationServer
    """The adjudication server, or an error that also names the way without a server."""
    from cmner_build.annotate.adjudication.server import connect_adjudication_server

    try:
        return connect_adjudication_server(workspace, url)
    except CmnerError as error:
        raise CmnerError(f"{error}; or, without a server, {offline}") from None


def adjudicate(
    workspace: Workspace,
    *,
    batch: str | None = None,
    min_votes: int | None = None,
    interactive: bool = False,
    auto: str | None = None,
    jsonl: Path | None = None,
    doccano: bool = False,
    adjudicator: str | None = None,
    url: str | None = None,
    ask: Callable[[str], Optional[str]] | None = None,
    say: Callable[[str], None] | None = None,
) -> AdjudicateOutcome:
    """Merge each post's versions, settle what the majority decides, and hand the open conflicts on by
    one mode: the terminal review (`interactive`, with `ask`/`say`), a Doccano project, a JSONL file,
    or the `auto` policy."""
    from cmner_build.annotate.adjudication.doccano import write_payload
    from cmner_build.annotate.adjudication.review import review

    modes = [name for name, on in (("--interactive", interactive), ("--auto", auto is not None),
                                   ("--jsonl", jsonl is not None), ("--doccano", doccano)) if on]
    if len(modes) > 1:
        raise CmnerError(f"choose one of {', '.join(modes)}")
    if auto is not None and auto not in AUTO_POLICIES:
        raise CmnerError(f"--auto must be one of {', '.join(AUTO_POLICIES)}, not {auto!r}")
    store, settings = workspace.store, agreement_settings(workspace.settings)
    votes = settings.min_votes if min_votes is None else min_votes
    if votes < 1:
        raise CmnerError("--min-votes must be at least 1")
    summary = merge_and_settle(store, votes, batch, auto)
    outcome = AdjudicateOutcome(summary)
    settled_before_review = dict(summary.settled_now)
    extra = outcome.extra
    if summary.posts == 0:  # nothing merged is not a success
        raise CmnerError(f"no annotations to adjudicate: no post is confirmed by all its annotators yet "
                         f"({summary.incomplete} waiting); run `cmner-build annotate pull`")
    if interactive and summary.open_posts:
        if ask is None or say is None:
            raise CmnerError("the terminal review needs a way to ask and to show (ask, say)")
        done = review(store, load_posts(store, state="open", post_ids=summary.post_ids), ask, say,
                      settings.reason_codes)
        summary.settled_now.update(done.settled)
        extra["interactive"] = {"decided": done.decided, "stopped": done.stopped, "remaining": done.remaining}
    if jsonl is not None:
        written = write_payload(load_posts(store, state="open", post_ids=summary.post_ids), jsonl,
                                settings.reason_codes)
        extra["jsonl"] = {"path": str(jsonl), "records": written}
    if doccano:
        from cmner_build.annotate.adjudication.server import push_to_server
        from cmner_build.annotate.settings import annotate_settings

        name = adjudicator or settings.adjudicator
        if not name:
            raise CmnerError("name the adjudicator: --adjudicator USERNAME or [agreement] adjudicator in cmner.toml")
        with connect_server(workspace, url, "write the project file with `adjudicate --jsonl FILE` and import it in "
                            "Doccano as the adjudicator") as server:
            pushed = push_to_server(store, server, load_posts(store, state="open", post_ids=summary.post_ids), name,
                                    settings.reason_codes, annotate_settings(workspace).project_prefix)
        extra["doccano"] = pushed.__dict__
        if pushed.accounts_created:
            outcome.accounts_note = (
                f"created the Doccano account {', '.join(pushed.accounts_created)} on {pushed.url}; the password is "
                f"in {annotate_settings(workspace).password_file} (mode 0600): hand it over privately")
    fill_counts(summary, load_posts(store, post_ids=summary.post_ids))  # after the review, if any
    outcome.reviewed = len(summary.settled_now) - len(settled_before_review)
    return outcome


def adjudicate_pull(workspace: Workspace, *, from_export: Path | None = None, adjudicator: str | None = None,
                    url: str | None = None) -> PullReport:
    """Apply the adjudicator's decisions, from the server's project or from an export zip / JSONL."""
    from cmner_build.annotate.adjudication.doccano import read_adjudicator_export

    store, settings = workspace.store, agreement_settings(workspace.settings)
    if from_export is not None:
        lines = read_adjudicator_export(from_export, adjudicator or settings.adjudicator or None)
        return apply_adjudicator_lines(store, lines, settings.reason_codes)
    from cmner_build.annotate.adjudication.server import pull_from_server

    with connect_server(workspace, url, "apply the adjudicator's export zip with `adjudicate pull --from-export ZIP`") \
            as server:
        return pull_from_server(store, server, settings.reason_codes)
