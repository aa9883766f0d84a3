"""The Doccano leg of adjudication, without the network: the import records and reading the decisions.

Records: one per post that still has an open conflict, built with the adapter's `example_record`
(which converts the code-point spans to Doccano's UTF-16 offsets; nothing here touches offsets). The
pre-filled labels are the majority spans plus, for each conflict, its suggestion (or the decision
already made); each annotator's whole version is in the meta as `version_A`, `version_B`, ... and each
conflict as `conflict_1`, ...; `round: adjudication` marks the example as a decision, so that
`annotate pull` never takes it for an annotator's work.

Decisions come back in the adjudicator's `<username>.jsonl` of the project export, read by the
adapter's `read_export_zip` (spans in code points, `comments` = the adjudicator's comment texts, which
Doccano exports sorted alphabetically, not in the order written). A line is a decision when its
comments carry a reason code:

    reason: <code> [note]        applies to every conflict of the post
    reason 2: <code> [note]      applies to conflict 2 (numbers as in the meta's conflict_N keys)

A full-width colon (：) works too. Lines without a reason for every open conflict are left open; so are
lines whose comments give two different codes for the same conflict (the export's order cannot say
which one came last).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from cmner_build.errors import CmnerError, FormatError
from cmner_build.model import Span

from cmner_build.annotate.adjudication.store import StoredPost
from cmner_build.annotate.doccano.api import jsonl_import_bytes
from cmner_build.annotate.doccano.examples import META_ROUND, ExportedExample, example_record, read_export_file
from cmner_build.annotate.rounds import ADJUDICATION

REASON_PATTERN = re.compile(r"^\s*reason(?:\s*#?\s*(\d+))?\s*[:：=]\s*([A-Za-z][\w-]*)\s*(.*?)\s*$", re.IGNORECASE)


# -- records -----------------------------------------------------------------------------------------

def _describe(text: str, spans: Iterable[Span]) -> str:
    return ", ".join(f"{span.text_of(text)}/{span.label} [{span.start},{span.end})" for span in sorted(spans)) or "—"


def prefilled_spans(post: StoredPost) -> list[Span]:
    """Majority spans, and per conflict the decision already made or else the suggestion."""
    spans = list(post.merged.accepted)
    for cluster in post.merged.clusters:
        decision = post.decisions.get(cluster.number)
        spans.extend(decision.spans if decision else cluster.suggestion)
    return sorted(set(spans))


def adjudication_record(post: StoredPost, reason_codes: Sequence[str], batch_id: str | None = None) -> dict[str, Any]:
    """One Doccano import line for a post with open conflicts (`batch_id`: the adjudication batch, if any)."""
    merged = post.merged
    meta: dict[str, Any] = {"source_batch": merged.batch_id, META_ROUND: ADJUDICATION}
    for cluster in post.open_clusters:
        options = [f"{c.span.text_of(merged.text)}/{c.span.label} [{c.span.start},{c.span.end}) ← {' '.join(c.voters)}"
                   for c in cluster.candidates]
        if cluster.silent:
            options.append(f"nothing ← {' '.join(cluster.silent)}")
        meta[f"conflict_{cluster.number}"] = f"{cluster.conflict_type}: " + " | ".join(options)
    for alias, spans in merged.versions.items():
        meta[f"version_{alias}"] = _describe(merged.text, spans)
    meta["how_to"] = (
        "Correct the spans (pre-filled: the majority and a suggestion per conflict), add a comment "
        "'reason: <code>' (or 'reason 2: <code>' for conflict 2 only), then mark the example as done. "
        f"Codes: {', '.join(reason_codes)}."
    )
    return example_record(merged.post_id, merged.text, batch_id=batch_id, spans=prefilled_spans(post), meta=meta)


def write_payload(posts: Iterable[StoredPost], path: Path, reason_codes: Sequence[str]) -> int:
    """Write the import JSONL of every post with an open conflict; returns the number of records."""
    records = [adjudication_record(post, reason_codes) for post in posts if post.state == "open" and post.open_clusters]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl_import_bytes(records))
    return len(records)


# -- decisions ---------------------------------------------------------------------------------------

@dataclass
class ExportLine:
    """One example of the adjudicator's export."""

    source: str  # "file.zip!user.jsonl" and the line, for messages
    line: int
    post_id: str
    text: str
    spans: list[Span]  # code points
    general_reason: tuple[str, str] | None  # (code, note) from "reason: code note"
    cluster_reasons: dict[int, tuple[str, str]] = field(default_factory=dict)
    problem: str | None = None  # the comments cannot be read as one decision (two codes for one conflict)


def _add_reason(found: dict[Any, tuple[str, str]], key: Any, code: str, note: str) -> None:
    if key not in found:
        found[key] = (code, note)
        return
    known, known_note = found[key]
    if known != code:
        what = "the post" if key is None else f"conflict {key}"
        raise ValueError(f"the comments give two reason codes for {what} ({known}, {code}); delete one")
    found[key] = (code, "; ".join(part for part in (known_note, note) if part))


def parse_reasons(comments: Iterable[Any]) -> tuple[tuple[str, str] | None, dict[int, tuple[str, str]]]:
    """Reason codes in comment texts: the general one and one per conflict number. Raises ValueError
    when two comments give different codes for the same thing (Doccano exports comments sorted, so
    which came last is unknown); the same code twice joins the notes."""
    found: dict[Any, tuple[str, str]] = {}
    for comment in comments:
        text = comment.get("text", comment.get("comment", "")) if isinstance(comment, dict) else str(comment)
        for line in text.splitlines():
            match = REASON_PATTERN.match(line)
            if match:
                number, code, note = match.groups()
                _add_reason(found, None if number is None else int(number), code.lower(), note)
    general = found.pop(None, None)
    return general, found


def adjudicator_lines(examples: Sequence[ExportedExample], source: str) -> list[ExportLine]:
    """Export examples (from the adapter's reader) as decisions; FormatError for a line that is not one."""
    lines = []
    for example in examples:
        if example.post_id is None or example.text is None:
            missing = "post_id" if example.post_id is None else "text"
            raise FormatError(f"not an adjudication export line (missing {missing!r})", source, example.line)
        if example.problems:
            raise FormatError(f"not an adjudication export line ({example.problems[0]})", source, example.line)
        line = ExportLine(source, example.line, example.post_id, example.text, list(example.spans), None)
        try:
            line.general_reason, line.cluster_reasons = parse_reasons(example.comments)
        except ValueError as error:
            line.problem = str(error)
        lines.append(line)
    return lines


def adjudicator_file(files: dict[str, list[ExportedExample]], adjudicator: str | None, where: str,
                     ignore: Sequence[str] = ("admin",)) -> tuple[str, list[ExportedExample]]:
    """The adjudicator's file of a per-user export: `<adjudicator>.jsonl`, or the only one besides the admin's."""
    names = ", ".join(f"{name}.jsonl" for name in files) or "no jsonl file"
    if adjudicator is not None:
        if adjudicator not in files:
            raise CmnerError(f"{where}: no {adjudicator}.jsonl inside (it holds {names})")
        return adjudicator, files[adjudicator]
    candidates = [name for name in files if name not in ignore]
    if len(candidates) != 1:
        raise CmnerError(f"{where}: holds {names}; name the adjudicator's file with --adjudicator USERNAME")
    return candidates[0], files[candidates[0]]


def read_adjudicator_export(path: Path, adjudicator: str | None) -> list[ExportLine]:
    """The adjudicator's lines from an export zip (`<adjudicator>.jsonl` inside) or from a bare .jsonl file."""
    path = Path(path)
    if not path.exists():
        raise CmnerError(f"{path}: no such file")
    files = read_export_file(path, accept_entities=True)
    if not zipfile.is_zipfile(path):  # one member's file taken out of the zip: whoever exported it
        (examples,) = files.values()
        return adjudicator_lines(examples, str(path))
    name, examples = adjudicator_file(files, adjudicator, str(path))
    return adjudicator_lines(examples, f"{path}!{name}.jsonl")
