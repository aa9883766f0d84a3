"""Benchmark: does annotating the posts the model is least sure of first give a better model sooner?

A simulation on the shared CMNER train + dev. The train split plays the pool of posts waiting for
annotation (its gold stands for what the annotators would give); dev is held out. Start from `--start`
gold posts drawn at random with the seed, then add `--step` posts at a time, either in uncertainty order
(the last model's lowest mean margin between its two most probable tags, `annotate push --order
uncertainty`) or in random order, retraining text-only ACN from scratch at each size. Prints dev F1 (best
epoch, the epoch being selected on dev, as in `baseline acn` without a test split) against gold size for
both orders, as a table, and saves a PNG plot and the figures as JSON under benchmarks/out/.
`--orders` and `--tag` split the two orders over two processes (two cores); `--merge A.json B.json` then
prints and plots them together.

The first model (at `--start` posts) is shared by both orders. Training length: small gold sets get more
epochs so that every model sees about `--passes` post presentations: epochs = clamp(ceil(passes / size),
--min-epochs, --max-epochs). One seed: the curves carry the noise of one draw.

    python benchmarks/bench_active_learning.py [--start 300 --step 300 --max-size 3000] [--passes 3000]
        [--min-epochs 3 --max-epochs 10] [--seed 42] [--threads N] [--data ../shared/data/cmner]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "out"
LOG_LINE = re.compile(r"^(?P<order>\w+) +gold +(?P<gold>\d+) +dev F1 +(?P<f1>[\d.]+) +epochs +(?P<epochs>\d+)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=int, default=300)
    parser.add_argument("--step", type=int, default=300)
    parser.add_argument("--max-size", type=int, default=3000)
    parser.add_argument("--passes", type=int, default=3000, help="post presentations per model (sets the epochs)")
    parser.add_argument("--min-epochs", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--orders", default="uncertainty,random",
                        help="which orders to run (comma-separated); run them as two processes to use two cores")
    parser.add_argument("--tag", default="", help="suffix of the output files (for runs split over processes)")
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("CMNER_SHARED_DIR", REPO.parent / "shared")) / "data" / "cmner")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="print and plot the curves of these JSON outputs (or logs of unfinished runs)")
    args = parser.parse_args()
    if args.merge:
        curves: dict[str, list[dict]] = {}
        for path in args.merge:
            if path.suffix == ".json":
                curves.update(json.loads(path.read_text())["curves"])
                continue
            for line in path.read_text().splitlines():  # the progress lines of a log, for an unfinished run
                match = LOG_LINE.match(line)
                if match:
                    curves.setdefault(match["order"], []).append(
                        {"gold": int(match["gold"]), "dev_f1": float(match["f1"]), "epochs": int(match["epochs"])})
        _report(curves, args, None)
        return 0
    if not (args.data / "train.txt").is_file():
        print(f"skipped: {args.data}/train.txt is absent")
        return 0

    from cmner_build.annotate.batching import uncertainty_order
    from cmner_build.baselines.data import load_export
    from cmner_build.baselines.experiment import BaselineOptions, run_baseline
    from cmner_build.baselines.inference import load_run, predict_posts
    from cmner_build.formats import format_tagged

    data = load_export(args.data)
    pool = {post.post_id: post for post in data.splits["train"]}
    max_size = min(args.max_size, len(pool))
    dev_text = (args.data / "dev.txt").read_bytes()
    started = time.perf_counter()
    print(f"pool {len(pool)} train posts, dev {len(data.splits['dev'])} posts; start {args.start}, step {args.step}, "
          f"up to {max_size}; epochs = clamp(ceil({args.passes} / size), {args.min_epochs}, {args.max_epochs}); "
          f"seed {args.seed} (one seed)", flush=True)
    initial = random.Random(args.seed).sample(sorted(pool), args.start)
    trained: dict[frozenset, dict] = {}

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)

        def train(gold: list[str]) -> dict:
            key = frozenset(gold)
            if key in trained:
                return trained[key]
            export = scratch / f"export-{len(trained):03d}"
            export.mkdir()
            posts = [pool[post_id] for post_id in sorted(gold)]
            (export / "train.txt").write_bytes(format_tagged(((p.post_id, p.tokens, p.tags) for p in posts),
                                                             "cmner").encode("utf-8"))
            (export / "dev.txt").write_bytes(dev_text)
            epochs = min(args.max_epochs, max(args.min_epochs, math.ceil(args.passes / len(gold))))
            run_started = time.perf_counter()
            outcome = run_baseline(
                BaselineOptions(model="acn", export_dir=export, images="none", epochs=epochs, seed=args.seed,
                                device="cpu", threads=args.threads),
                runs_dir=scratch / "runs", features_root=scratch / "features",
            )
            trained[key] = {"run_dir": outcome.run_dir, "dev_f1": outcome.metrics["dev"]["f1"], "epochs": epochs,
                            "best_epoch": outcome.best_epoch, "seconds": round(time.perf_counter() - run_started, 1)}
            return trained[key]

        curves: dict[str, list[dict]] = {}
        for order in args.orders.split(","):
            gold = list(initial)
            draw = random.Random(f"{args.seed}:random-order")
            curve = []
            while True:
                result = train(gold)
                curve.append({"gold": len(gold), **{k: v for k, v in result.items() if k != "run_dir"}})
                print(f"{order:11s} gold {len(gold):5d}  dev F1 {result['dev_f1']:6.2f}  epochs {result['epochs']:2d} "
                      f"(best {result['best_epoch']})  {result['seconds']:6.1f} s  "
                      f"[{time.perf_counter() - started:7.1f} s total]", flush=True)
                if len(gold) + args.step > max_size:
                    break
                taken = set(gold)
                remaining = sorted(post_id for post_id in pool if post_id not in taken)
                if order == "uncertainty":
                    loaded = load_run(result["run_dir"], device="cpu", threads=args.threads)
                    predictions = predict_posts(loaded, [pool[post_id] for post_id in remaining])
                    margins = {p.post_id: p.margin for p in predictions}
                    chosen = uncertainty_order(margins, {}, args.seed)[: args.step]
                else:
                    chosen = draw.sample(remaining, args.step)
                gold += chosen
            curves[order] = curve

    _report(curves, args, time.perf_counter() - started, len(trained))
    return 0


def _report(curves: dict[str, list[dict]], args, total: float | None, models: int = 0) -> None:
    sizes = sorted({point["gold"] for curve in curves.values() for point in curve})
    by = {order: {point["gold"]: point for point in curve} for order, curve in curves.items()}
    print()
    print("| gold posts | epochs | " + " | ".join(f"dev F1, {order} order" for order in curves) + " |")
    print("|---:|---:|" + "---:|" * len(curves))
    for size in sizes:
        points = [by[order].get(size) for order in curves]
        epochs = next(point["epochs"] for point in points if point)
        cells = [f"{point['dev_f1']:.2f}" if point else "" for point in points]
        print(f"| {size} | {epochs} | " + " | ".join(cells) + " |")
    if total is not None:
        print(f"\ntotal {total / 60:.1f} min on this machine, {models} models trained, one seed ({args.seed})")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"active_learning{args.tag}.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "curves": curves,
         "seconds": None if total is None else round(total, 1)}, indent=2))
    _plot(curves, OUT / f"active_learning{args.tag}.png", args.seed)
    print(f"plot: {OUT / f'active_learning{args.tag}.png'}")


def _plot(curves: dict[str, list[dict]], path: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for order, curve in curves.items():
        axes.plot([p["gold"] for p in curve], [p["dev_f1"] for p in curve], marker="o", label=f"{order} order")
    axes.set_xlabel("gold posts")
    axes.set_ylabel("dev F1 (%)")
    axes.set_title(f"Text-only ACN on CMNER dev, one seed ({seed})")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
