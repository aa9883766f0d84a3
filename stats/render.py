"""Rich tables for `cmner-build stats`."""

from __future__ import annotations

from cmner_build.console import DataTable, out
from cmner_build.model import LABELS


def render_stats(stats: dict) -> None:
    table = DataTable(title="Table 1: posts and entities per split")
    table.add_column("split")
    for column in ("posts", "images", *LABELS, "entities"):
        table.add_column(column, justify="right")
    for split, row in stats["splits"].items():
        table.add_row(split, f"{row['posts']:,}", f"{row['images']:,}",
                      *(f"{row['entities'][label]:,}" for label in LABELS), f"{row['entities_total']:,}")
    out.print(table)

    total = stats["total"]
    table = DataTable(title=f"All records: {total['posts']:,} posts, {total['images']:,} images")
    table.add_column("posts by status")
    table.add_column("count", justify="right")
    for status, count in total["by_status"].items():
        table.add_row(status, f"{count:,}")
    for reason, count in total["drop_reasons"].items():
        table.add_row(f"  dropped: {reason}", f"{count:,}")
    out.print(table)

    table = DataTable(title="Posts per topic")
    table.add_column("topic")
    table.add_column("all", justify="right")
    for split in stats["splits"]:
        table.add_column(split, justify="right")
    for topic, count in total["by_topic"].items():
        table.add_row(topic, f"{count:,}", *(f"{row['by_topic'].get(topic, 0):,}" for row in stats["splits"].values()))
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
