"""Rich tables for the agreement report, the pilot gate and the annotator-vs-gold scores."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cmner_build.annotate.agreement.gate import GateResult


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ci(interval: list[float] | None) -> str:
    return "" if not interval else f"{interval[0]:.3f}–{interval[1]:.3f}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_agreement(report: dict[str, Any], console: Console, title: str) -> None:
    console.print(f"[bold]{escape(title)}[/bold]: {report['posts']} posts, {report.get('characters', 0)} characters, "
                  f"annotators {escape(', '.join(report['annotators']))}", highlight=False)
    measures = Table(box=box.SIMPLE, pad_edge=False, title="Span F1, mean over annotator pairs (micro over posts)", title_justify="left")
    for column in ("", "F1", "95 % CI", "mentions / annotator"):
        measures.add_column(column, justify="left" if not column else "right")
    for measure in ("strict", "overlap", "detection"):
        entry = report[f"{measure}_f1"]
        label = f"{measure} (primary)" if measure == "strict" else measure
        measures.add_row(label, _value(entry["value"]), _ci(entry["ci"]), "")
    for label, entry in report["per_label"].items():
        measures.add_row(f"  {label} strict", _value(entry["strict_f1"]), _ci(entry["strict_ci"]),
                         f"{entry['mentions_per_annotator']:.1f}")
        measures.add_row(f"  {label} overlap", _value(entry["overlap_f1"]), _ci(entry["overlap_ci"]), "")
    console.print(measures)

    annotators = report["annotators"]
    by_pair = {(pair["a"], pair["b"]): pair for pair in report["pairs"]}
    matrix = Table(box=box.SIMPLE, pad_edge=False, title="Pairwise strict F1 (posts in common)", title_justify="left")
    matrix.add_column("")
    for name in annotators:
        matrix.add_column(escape(name), justify="right")
    for row in annotators:
        cells = []
        for column in annotators:
            pair = by_pair.get((row, column)) or by_pair.get((column, row))
            cells.append("—" if row == column or pair is None else f"{_value(pair['strict_f1'])} ({pair['posts']})")
        matrix.add_row(escape(row), *cells)
    console.print(matrix)

    pairs = Table(box=box.SIMPLE, pad_edge=False, title="Per pair: span F1 and character-level Cohen κ (all / labelled characters)",
                  title_justify="left")
    for column in ("pair", "posts", "strict", "95 % CI", "overlap", "detect", "κ", "κ lab."):
        pairs.add_column(column, justify="left" if column == "pair" else "right", no_wrap=True)
    for pair in report["pairs"]:
        pairs.add_row(escape(f"{pair['a']} / {pair['b']}"), str(pair["posts"]), _value(pair["strict_f1"]),
                      _ci(pair["strict_ci"]), _value(pair["overlap_f1"]), _value(pair["detection_f1"]),
                      _value(pair["cohen_kappa"]["all"]), _value(pair["cohen_kappa"]["annotated"]))
    console.print(pairs)

    fleiss, alpha = report["fleiss_kappa"], report["krippendorff_alpha"]
    chance = Table(box=box.SIMPLE, pad_edge=False, title=f"Character level, chance corrected (IO labels, nominal; Fleiss over the "
                         f"{fleiss['posts']} posts with {fleiss['raters']} raters)", title_justify="left")
    for column in ("measure", "all chars", "95 % CI", "labelled chars", "95 % CI "):
        chance.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    chance.add_row("Fleiss κ", _value(fleiss["all"]["value"]),
                   _ci(fleiss["all"]["ci"]), _value(fleiss["annotated"]["value"]), _ci(fleiss["annotated"]["ci"]))
    chance.add_row("Krippendorff α", _value(alpha["all"]["value"]), _ci(alpha["all"]["ci"]),
                   _value(alpha["annotated"]["value"]), _ci(alpha["annotated"]["ci"]))
    console.print(chance)

    labels = report["confusion"]["labels"]
    confusion = Table(box=box.SIMPLE, pad_edge=False, title="Label confusion between annotators (aligned spans, every pair both ways)",
                      title_justify="left")
    confusion.add_column("")
    for label in labels:
        confusion.add_column(label, justify="right")
    for label, row in zip(labels, report["confusion"]["pooled_both_directions"]):
        confusion.add_row(label, *(str(count) for count in row))
    console.print(confusion)

    if report["lowest_posts"]:
        lowest = Table(box=box.SIMPLE, pad_edge=False, title="Lowest agreement posts", title_justify="left")
        for column in ("post", "batch", "strict F1", "text"):
            lowest.add_column(column, justify="right" if column == "strict F1" else "left")
        for post in report["lowest_posts"]:
            lowest.add_row(escape(post["post_id"]), escape(post["batch_id"]), _value(post["strict_f1"]),
                           escape(_short(post["text"])))
        console.print(lowest)
    bootstrap = report["bootstrap"]
    console.print(f"intervals: percentile bootstrap over posts, {bootstrap['replicates']} replicates, "
                  f"seed {bootstrap['seed']}", style="dim", highlight=False)
    if report.get("suggestions"):
        render_suggestions(report["suggestions"], console)


def render_suggestions(counts: dict[str, dict[str, int]], console: Console) -> None:
    """What each annotator did with the model's pre-filled spans (confirmed posts only)."""
    table = Table(box=box.SIMPLE, pad_edge=False, title="Model suggestions per annotator (confirmed pre-filled posts): "
                  "kept unchanged, changed (boundary or type), deleted; spans added where nothing was suggested",
                  title_justify="left")
    for column in ("annotator", "posts", "suggested", "kept", "changed", "deleted", "added"):
        table.add_column(column, justify="left" if column == "annotator" else "right")
    for annotator, row in counts.items():
        share = (lambda n: f"{n} ({100 * n / row['suggested']:.0f} %)") if row["suggested"] else str
        table.add_row(escape(annotator), str(row["posts"]), str(row["suggested"]), share(row["kept"]),
                      share(row["changed"]), share(row["deleted"]), str(row["added"]))
    console.print(table)


def render_gate(gate: GateResult, console: Console) -> None:
    table = Table(box=box.SIMPLE, pad_edge=False, title="Pilot gate", title_justify="left")
    for column in ("check", "value", "bar", ""):
        table.add_column(column, justify="left" if column == "check" else "right")
    for check in gate.checks:
        value = check["value"]
        shown = _value(value) if isinstance(value, float) or value is None else str(value)
        bar = f"{check['bar']:.2f}" if isinstance(check["bar"], float) else str(check["bar"])
        table.add_row(escape(check["name"]), shown, bar, "[green]ok[/green]" if check["ok"] else "[red]fail[/red]")
    console.print(table)
    if gate.passed:
        console.print("[bold green]PASS[/bold green]: the pilot agreement reaches every bar; main annotation may start")
    else:
        console.print("[bold red]FAIL[/bold red]: " + escape("; ".join(gate.reasons)))


def render_vs_gold(report: dict[str, Any], console: Console) -> None:
    table = Table(box=box.SIMPLE, pad_edge=False, title=f"Each annotator against the adjudicated gold ({report['posts']} posts)", title_justify="left")
    for column in ("annotator", "posts", "precision", "recall", "strict F1", "95 % CI", "overlap F1"):
        table.add_column(column, justify="left" if column == "annotator" else "right", no_wrap=column != "annotator")
    labels = Table(box=box.SIMPLE, pad_edge=False, title="Strict F1 against the gold, per label", title_justify="left")
    labels.add_column("annotator")
    for entry in report["annotators"]:
        strict = entry["strict"]
        table.add_row(escape(entry["annotator"]), str(entry["posts"]), _value(strict["precision"]),
                      _value(strict["recall"]), _value(strict["f1"]), _ci(strict["ci"]), _value(entry["overlap"]["f1"]))
        if not labels.rows:
            for label in entry["per_label"]:
                labels.add_column(label, justify="right")
        labels.add_row(escape(entry["annotator"]), *(_value(value) for value in entry["per_label"].values()))
    console.print(table)
    console.print(labels)
    console.print(f"mean strict F1 over annotators: {_value(report['strict_f1']['value'])} "
                  f"{_ci(report['strict_f1']['ci'])}", highlight=False)
