"""PNG plots of the statistics: entity mix per split, text lengths, images per post."""

from __future__ import annotations

from pathlib import Path

from cmner_build.model import LABELS


def write_plots(stats: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    figure, axes = plt.subplots(figsize=(6, 4))
    split_names = list(stats["splits"])
    bottoms = [0] * len(split_names)
    for label in LABELS:
        values = [stats["splits"][split]["entities"][label] for split in split_names]
        axes.bar(split_names, values, bottom=bottoms, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    axes.set_ylabel("entities")
    axes.set_title("Entity mix per split")
    axes.legend()
    written.append(_save(figure, out_dir / "stats_entities_per_split.png"))

    figure, axes = plt.subplots(figsize=(6, 4))
    histogram = stats["text_length"]["histogram"]
    axes.bar([f"{b['from']}" for b in histogram], [b["posts"] for b in histogram])
    axes.set_xlabel("characters (bin start)")
    axes.set_ylabel("posts")
    axes.set_title("Text length")
    axes.tick_params(axis="x", labelrotation=45)
    written.append(_save(figure, out_dir / "stats_text_length.png"))

    figure, axes = plt.subplots(figsize=(6, 4))
    distribution = stats["images_per_post"]["distribution"]
    axes.bar(list(distribution), list(distribution.values()))
    axes.set_xlabel("images per post")
    axes.set_ylabel("posts")
    axes.set_title("Images per post")
    written.append(_save(figure, out_dir / "stats_images_per_post.png"))
    return written


def _save(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    # No Software tag: the same figures give the same bytes whatever the matplotlib version.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path
