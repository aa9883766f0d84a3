"""The audit report: ranked JSONL rows and an HTML page where outside text is always escaped."""

from __future__ import annotations

import json

from cmner_build.importer import import_release
from cmner_build.label_issues import LabelIssue
from cmner_build.model import Span
from cmner_build.stats.audit.report import issue_rows, post_after_fix, write_html

from tests.helpers import run_cli


def test_html_escapes_post_text_and_shows_gold_and_fix_side_by_side(tmp_path):
    text = "<script>alert(1)</script>曼联&利物浦"
    start = text.index("曼联")
    issue = LabelIssue("p<1>", "consistency", "type", start, start + 2, [Span(start, start + 2, "PER")],
                       [Span(start, start + 2, "ORG")], 0.9, "「曼联」 is PER here but ORG in 9 of 10 places <b>")
    path = tmp_path / "report.html"
    write_html(path, [issue], {"p<1>": text}, {"p<1>": [Span(start, start + 2, "PER")]}, "audit <title>")
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "p&lt;1&gt;" in page and "&lt;b&gt;" in page and "<title>audit &lt;title&gt;</title>" in page
    assert 'class="PER"><mark>曼联</mark>' in page and 'class="ORG"><mark>曼联</mark>' in page
    assert "&amp;利物浦" in page
    assert post_after_fix([Span(0, 1, "LOC"), Span(start, start + 2, "PER")], issue) == [
        Span(0, 1, "LOC"), Span(start, start + 2, "ORG")]
    (row,) = issue_rows([issue], {"p<1>": text})
    assert (row["rank"], row["stretch"], row["fix"]) == (1, "曼联", "「曼联」PER → 「曼联」ORG")
    assert LabelIssue.from_json(row).suggestion == issue.suggestion


def test_audit_labels_writes_the_report_and_a_summary(workspace, tmp_path):
    blocks = []
    for i in range(6):
        label = "PER" if i == 0 else "ORG"
        blocks.append(f"WID:P{i}\n曼\tB-{label}\n联\tI-{label}\n赢\tO\n{i}\tO")
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")
    result = run_cli("-w", workspace.root, "audit", "labels", "--signals", "consistency", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["signals"]["consistency"]["by_kind"] == {"type": 1} and summary["posts"] == 6
    rows = [json.loads(line) for line in (workspace.exports_dir / "audit" / "label_issues.jsonl").read_text().splitlines()]
    assert [(r["post_id"], r["suggestion"]) for r in rows] == [("P0", [[0, 2, "ORG"]])]
    table = run_cli("-w", workspace.root, "audit", "labels", "--signals", "consistency")
    assert table.exit_code == 0 and "P0" in table.stdout and "1 issues" in table.stderr.replace("\n", " ")
    bad = run_cli("-w", workspace.root, "audit", "labels", "--signals", "everything")
    assert bad.exit_code == 2 and "--signals" in bad.error
