"""`baseline acn|umt --gold-so-far`: train on the gold the workspace holds now, and record its size.

Between annotation batches, the gold grows; retraining on it shows how much each batch buys. The gold is
exported (release format, to `exports/gold-so-far`) keeping the splits posts already have, so dev and test
only ever gain posts and earlier scores stay comparable. The run records the gold size in `config.json`
(`gold_posts`) and in the store (`gold_runs`), which `annotate status` reads to show dev F1 against it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from cmner_build.errors import CmnerError
from cmner_build.store import utc_now
from cmner_build.workspace import Workspace

from cmner_build.baselines.experiment import BaselineOptions, RunOutcome, run_baseline
from cmner_build.progress import ProgressFactory


def train_on_gold_so_far(workspace: Workspace, options: BaselineOptions, *,
                         progress: ProgressFactory | None = None,
                         log: Callable[[str], None] = lambda message: None) -> RunOutcome:
    """Export the gold as it is now to `exports/gold-so-far` (stored splits kept, cmner.toml's split,
    near-duplicate and privacy settings), train on it, and record the gold size with the run."""
    from cmner_build.export import export_workspace

    store = workspace.store
    gold = store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'gold'")
    if not gold:
        raise CmnerError("no gold posts yet: adjudicate a batch (or import a release) before --gold-so-far")
    words = store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'gold' AND tokenization = 'whitespace'")
    export_dir = workspace.exports_dir / "gold-so-far"
    report = export_workspace(workspace, fmt="twitter2015" if words else "cmner", out=export_dir)
    if not report.posts_by_split.get("train") or not report.posts_by_split.get("dev"):
        raise CmnerError(f"the gold so far has {report.posts_by_split.get('train', 0)} train and "
                         f"{report.posts_by_split.get('dev', 0)} dev posts (splits already assigned are kept): "
                         "training needs both; add gold, or reassign the splits with `export --resplit`")
    log(f"gold so far: {gold} posts exported to {export_dir} "
        f"({', '.join(f'{name} {count}' for name, count in report.posts_by_split.items())})")
    outcome = run_baseline(replace(options, export_dir=export_dir, gold_posts=gold), runs_dir=workspace.runs_dir,
                           features_root=workspace.root / "features", progress=progress, log=log)
    with store.transaction():
        store.execute(
            "INSERT INTO gold_runs (run_id, model, images, gold_posts, train_posts, dev_f1, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (outcome.run_id, options.model, options.images, gold, report.posts_by_split.get("train", 0),
             outcome.metrics["dev"]["f1"], utc_now()))
    return outcome
