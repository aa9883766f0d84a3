"""The Doccano leg of adjudication, without the network: the import payload and the export parser.

Payload: one JSONL record per post that still has an open conflict, in Doccano's sequence-labelling
import format (notes/doccano.md §2.6): `text`, `label` = [[start, end, LABEL]] in UTF-16 code units
(what Doccano's editor uses, §5.1), and every other key becomes the example's meta. The pre-filled
labels are the majority spans plus, for each conflict, its suggestion (or the decision already made);
each annotator's whole version is in the meta as `version_A`, `version_B`, ... and each conflict as
`conflict_1`, ... The file is written ASCII-escaped, which Doccano's encoding detection reads exactly.

Decisions come back in the adjudicator's `<username>.jsonl` of the project export (one line per
example: meta flattened to the top level, `label` in UTF-16 offsets, `Comments` = the adjudicator's
comment texts). A line is a decision when its comments carry a reason code:

    reason: <code> [note]        applies to every conflict of the post
    reason 2: <code> [note]      applies to conflict 2 (numbers as in the meta's conflict_N keys)

A full-width colon (：) works too. Lines without a reason for every open conflict are left open.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from cmner_build.errors import CmnerError, FormatError
from cmner_build.model import Span

from .adjudication_store import StoredPost

REASON_PATTERN = re.compile(r"^\s*reason(?:\s*#?\s*(\d+))?\s*[:：=]\s*([A-Za-z][\w-]*)\s*(.*?)\s*$", re.IGNORECASE)


# -- offsets -----------------------------------------------------------------------------------------

def utf16_offsets(text: str) -> list[int]:
    """UTF-16 offset of every code point index 0..len(text) (astral characters take two units)."""
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


def spans_to_utf16(text: str, spans: Iterable[Span]) -> list[list[Any]]:
    offsets = utf16_offsets(text)
    return [[offsets[span.start], offsets[span.end], span.label] for span in sorted(spans)]


def spans_from_utf16(text: str, triples: Iterable[Sequence[Any]]) -> list[Span]:
    """[[start, end, label]] in UTF-16 units -> code point spans; ValueError for an offset inside a character."""
    index = {unit: point for point, unit in enumerate(utf16_offsets(text))}
    spans = []
    for start, end, label in triples:
        if start not in index or end not in index:
            raise ValueError(f"[{start}, {end}, {label}] does not fall on character boundaries of the text")
        spans.append(Span(index[start], index[end], str(label)))
    return spans


# -- payload -----------------------------------------------------------------------------------------

def _describe(text: str, spans: Iterable[Span]) -> str:
    return ", ".join(f"{span.text_of(text)}/{span.label} [{span.start},{span.end})" for span in sorted(spans)) or "—"


def prefilled_spans(post: StoredPost) -> list[Span]:
    """Majority spans, and per conflict the decision already made or else the suggestion."""
    spans = list(post.merged.accepted)
    for cluster in post.merged.clusters:
        decision = post.decisions.get(cluster.number)
        spans.extend(decision.spans if decision else cluster.suggestion)
    return sorted(set(spans))


def adjudication_record(post: StoredPost, reason_codes: Sequence[str]) -> dict[str, Any]:
    """One Doccano import line for a post with open conflicts (offsets in UTF-16 units)."""
    merged = post.merged
    record: dict[str, Any] = {
        "text": merged.text,
        "label": spans_to_utf16(merged.text, prefilled_spans(post)),
        "post_id": merged.post_id,
        "source_batch": merged.batch_id,
    }
    for cluster in post.open_clusters:
        options = [f"{c.span.text_of(merged.text)}/{c.span.label} [{c.span.start},{c.span.end}) ← {' '.join(c.voters)}"
                   for c in cluster.candidates]
        if cluster.silent:
            options.append(f"nothing ← {' '.join(cluster.silent)}")
        record[f"conflict_{cluster.number}"] = f"{cluster.conflict_type}: " + " | ".join(options)
    for alias, spans in merged.versions.items():
        record[f"version_{alias}"] = _describe(merged.text, spans)
    record["how_to"] = (
        "Correct the spans (pre-filled: the majority and a suggestion per conflict), add a comment "
        "'reason: <code>' (or 'reason 2: <code>' for conflict 2 only), then mark the example as done. "
        f"Codes: {', '.join(reason_codes)}."
    )
    return record


def write_payload(posts: Iterable[StoredPost], path: Path, reason_codes: Sequence[str]) -> int:
    """Write the import JSONL of every post with an open conflict; returns the number of records."""
    records = [adjudication_record(post, reason_codes) for post in posts if post.state == "open" and post.open_clusters]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record, ensure_ascii=True) + "\n" for record in records), encoding="ascii")
    return len(records)


# -- export ------------------------------------------------------------------------------------------

@dataclass
class ExportLine:
    """One example of the adjudicator's export."""

    source: str  # "file.zip:user.jsonl" and the line, for messages
    line: int
    post_id: str
    text: str
    spans: list[Span]  # code points
    general_reason: tuple[str, str] | None  # (code, note) from "reason: code note"
    cluster_reasons: dict[int, tuple[str, str]] = field(default_factory=dict)


def parse_reasons(comments: Iterable[Any]) -> tuple[tuple[str, str] | None, dict[int, tuple[str, str]]]:
    """Reason codes in comment texts: the general one (the last given wins) and per conflict number."""
    general: tuple[str, str] | None = None
    per_cluster: dict[int, tuple[str, str]] = {}
    for comment in comments:
        text = comment.get("text", comment.get("comment", "")) if isinstance(comment, dict) else str(comment)
        for line in text.splitlines():
            match = REASON_PATTERN.match(line)
            if not match:
                continue
            number, code, note = match.groups()
            if number is None:
                general = (code.lower(), note)
            else:
                per_cluster[int(number)] = (code.lower(), note)
    return general, per_cluster


def _label_triples(record: dict[str, Any]) -> list[list[Any]]:
    """`label` as [[s, e, L]] or [{start_offset, end_offset, label}], or `entities` (use_relation export)."""
    raw = record.get("label", record.get("entities", []))
    triples = []
    for item in raw:
        if isinstance(item, dict):
            triples.append([item["start_offset"], item["end_offset"], item["label"]])
        else:
            start, end, label = item
            triples.append([start, end, label])
    return triples


def parse_export_lines(data: bytes, source: str) -> list[ExportLine]:
    lines = []
    for number, raw in enumerate(data.decode("utf-8-sig").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            post_id = str(record["post_id"])
            text = record["text"]
            spans = spans_from_utf16(text, _label_triples(record))
        except (ValueError, KeyError, TypeError) as error:
            problem = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise FormatError(f"not an adjudication export line ({problem})", source, number) from None
        general, per_cluster = parse_reasons(record.get("Comments", []))
        lines.append(ExportLine(source, number, post_id, text, spans, general, per_cluster))
    return lines


def read_adjudicator_export(path: Path, adjudicator: str | None) -> list[ExportLine]:
    """The adjudicator's lines from an export zip (`<adjudicator>.jsonl` inside) or from a bare .jsonl file."""
    path = Path(path)
    if not path.exists():
        raise CmnerError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        return parse_export_lines(path.read_bytes(), str(path))
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if name.endswith(".jsonl")]
        if adjudicator is not None:
            wanted = [name for name in names if Path(name).name == f"{adjudicator}.jsonl"]
            if not wanted:
                raise CmnerError(f"{path}: no {adjudicator}.jsonl inside (it holds {', '.join(names) or 'no jsonl'})")
        else:
            wanted = [name for name in names if Path(name).name != "admin.jsonl"]
            if len(wanted) != 1:
                raise CmnerError(f"{path}: holds {', '.join(names) or 'no jsonl file'}; "
                                 "name the adjudicator's file with --adjudicator USERNAME")
        name = wanted[0]
        return parse_export_lines(archive.read(name), f"{path}:{name}")

