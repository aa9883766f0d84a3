"""Rich tables for `cmner-build stats`."""

from __future__ import annotations

from rich import box

from cmner_build.console import DataTable, out
from cmner_build.model import LABELS


def render_stats(stats: dict) -> None:
    splits = stats["splits"]
    if any(row["posts"] for row in splits.values()):
        out.print(_table_1(splits))
    else:
        out.print("Table 1: no gold post has a split yet (import a release, or adjudicate and "
                  "`cmner-build export --split 3:1:1`).")

    total = stats["total"]
    table = DataTable(title=f"All records: {total['posts']:,} posts, {total['images']:,} images")
    table.add_column("posts by status")
    table.add_column("count", justify="right")
    for status, count in total["by_status"].items():
        table.add_row(status, f"{count:,}")
    for reason, count in total["drop_reasons"].items():
        table.add_row(f"  dropped: {reason}", f"{count:,}")
    out.print(table)

    if not total["by_topic"]:
        out.print("Posts per topic: no posts yet.")
    table = DataTable(title="Posts per topic")
    table.add_column("topic")
    table.add_column("all", justify="right")
    for split in stats["splits"]:
        table.add_column(split, justify="right")
    for topic, count in total["by_topic"].items():
        table.add_row(topic, f"{count:,}", *(f"{row['by_topic'].get(topic, 0):,}" for row in stats["splits"].values()))
    if total["by_topic"]:
        out.print(table)

    table = DataTable(title="Per gold post")
    table.add_column("measure")
    for column in ("mean", "median", "min", "max"):
        table.add_column(column, justify="right")
    for name, key in (("images", "images_per_post"), ("entities", "entities_per_post"), ("characters", "text_length")):
        row = stats[key]
        table.add_row(name, f"{row['mean']:.2f}", str(row["median"]), str(row["min"]), str(row["max"]))
    out.print(table)
    distribution = stats["images_per_post"]["distribution"]
    out.print("images per post: " + ", ".join(f"{k}: {v}" for k, v in distribution.items()))

    audit = stats["leak_audit"]
    table = DataTable(title=f"Split-leak audit (near-identical: 3-gram Jaccard ≥ {audit['threshold']}, every pair checked)")
    table.add_column("finding")
    table.add_column("count", justify="right")
    table.add_row("identical-text groups spread over splits", str(audit["identical_groups_across_splits"]))
    table.add_row("identical-text pairs across splits", str(audit["identical_pairs_across_splits"]))
    table.add_row("near-identical pairs across splits", str(audit["near_identical_pairs_across_splits"]))
    out.print(table)
    for example in audit["examples"][:5]:
        out.print(f"  {' / '.join(example['post_ids'])} ({' / '.join(example['splits'])}, "
                  f"J={example['jaccard']:.2f}): {example['text']}", markup=False)
    private = stats["private_data"]
    table = DataTable(title="Private data still in the corpus (posts not dropped; what the privacy rules would mask)")
    table.add_column("kind")
    table.add_column("hits", justify="right")
    for kind, count in private["hits_by_kind"].items():
        table.add_row(kind, f"{count:,}")
    table.add_row("posts holding some", f"{private['posts']:,}")
    table.add_row("  of which gold (export refuses them)", f"{private['gold_posts']:,}")
    out.print(table)
    if private["gold_post_ids"]:
        out.print(f"  gold posts: {', '.join(private['gold_post_ids'])} (mask with `clean --gold`)", markup=False)
    for path in stats.get("plots", []):
        out.print(f"plot: {path}", markup=False)


def _table_1(splits: dict) -> DataTable:
    """The paper's Table 1. Every column is as wide as its widest cell and never wraps, so a narrow
    terminal (under 80 columns) gets no borders rather than cut numbers."""
    columns = ("split", "posts", "images", *LABELS, "entities")
    rows = [[split, f"{row['posts']:,}", f"{row['images']:,}", *(f"{row['entities'][label]:,}" for label in LABELS),
             f"{row['entities_total']:,}"] for split, row in splits.items()]
    narrow = out.width < 80
    table = DataTable(title="Table 1: posts and entities per split", box=None if narrow else box.HEAVY_HEAD,
                  pad_edge=not narrow, collapse_padding=narrow)
    for index, column in enumerate(columns):
        width = max(len(column), *(len(row[index]) for row in rows))
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    return table
