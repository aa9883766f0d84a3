"""The gold audit's report: JSONL (one ranked issue per line) and an HTML page with the post, the gold and
the suggestion side by side. Every piece of post text is HTML-escaped; the page loads nothing from outside."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping, Sequence

from cmner_build.label_issues import LabelIssue, describe
from cmner_build.model import Span
from cmner_build.safety import atomic_write_text

CONTEXT = 40  # characters shown on each side of the stretch in the HTML page

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
.PER { background: #fde2e2; } .LOC { background: #dff5df; } .ORG { background: #dde8fb; } .MISC { background: #fff3c4; }
mark { border-bottom: 2px solid #c00; background: none; }
.label { font-size: 70%; color: #555; vertical-align: super; }
.reason { color: #333; font-size: 90%; }
"""


def post_after_fix(gold: Sequence[Span], issue: LabelIssue) -> list[Span]:
    """The post's gold with the issue's stretch holding the suggestion instead."""
    replaced = set(issue.gold)
    return sorted([span for span in gold if span not in replaced] + list(issue.suggestion))


def issue_rows(issues: Sequence[LabelIssue], texts: Mapping[str, str]) -> list[dict]:
    """The JSON rows of the ranked issues, with rank, the stretch and the fix in words."""
    return [{"rank": rank, **issue.to_json(texts[issue.post_id])} for rank, issue in enumerate(issues, start=1)]


def write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _highlight(text: str, spans: Sequence[Span], start: int, end: int) -> str:
    """HTML of text[start-CONTEXT : end+CONTEXT] with the spans coloured and the stretch underlined."""
    lo, hi = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
    label_at: dict[int, Span] = {}
    for span in spans:
        for position in range(span.start, span.end):
            label_at[position] = span
    pieces = ["…" if lo > 0 else ""]
    position = lo
    while position < hi:
        span = label_at.get(position)
        if span is None:
            stop = position + 1
            while stop < hi and stop not in label_at:
                stop += 1
            pieces.append(_marked(text, position, stop, start, end))
        else:
            stop = min(span.end, hi)
            inner = _marked(text, position, stop, start, end)
            tail = f'<span class="label">{span.label}</span>' if stop == span.end else ""
            pieces.append(f'<span class="{span.label}">{inner}{tail}</span>')
        position = stop
    pieces.append("…" if hi < len(text) else "")
    return "".join(pieces)


def _marked(text: str, lo: int, hi: int, start: int, end: int) -> str:
    """Escaped text[lo:hi] with the part inside [start, end) underlined."""
    out = []
    for a, b, inside in ((lo, min(hi, start), False), (max(lo, start), min(hi, end), True), (max(lo, end), hi, False)):
        if a < b:
            piece = html.escape(text[a:b])
            out.append(f"<mark>{piece}</mark>" if inside else piece)
    return "".join(out)


def write_html(path: Path, issues: Sequence[LabelIssue], texts: Mapping[str, str],
               gold: Mapping[str, Sequence[Span]], title: str) -> None:
    rows = []
    for rank, issue in enumerate(issues, start=1):
        text = texts[issue.post_id]
        post_gold = list(gold.get(issue.post_id, []))
        rows.append(
            "<tr>"
            f"<td>{rank}</td><td>{html.escape(issue.post_id)}</td>"
            f"<td>{html.escape(', '.join(issue.signals or [issue.signal]))}<br>{html.escape(issue.kind)}"
            f"<br>{issue.score:.3f}</td>"
            f"<td>{_highlight(text, post_gold, issue.start, issue.end)}</td>"
            f"<td>{_highlight(text, post_after_fix(post_gold, issue), issue.start, issue.end)}</td>"
            f"<td>{html.escape(describe(text, issue.gold))} → {html.escape(describe(text, issue.suggestion))}"
            f"<div class=\"reason\">{html.escape(issue.reason)}</div></td>"
            "</tr>"
        )
    page = (
        "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<p>Each row: the post around the stretch (underlined) with its gold spans, the same with the suggested "
        "fix applied, and why it was flagged.</p>"
        "<table><tr><th>#</th><th>post</th><th>signal / kind / score</th><th>gold</th><th>suggestion</th>"
        "<th>fix and reason</th></tr>\n" + "\n".join(rows) + "\n</table></body></html>\n"
    )
    atomic_write_text(path, page)
