"""Benchmark: text-only ACN on the shared CMNER train split, selected on dev, on this CPU.

Prints dev F1, seconds per epoch and characters per second, and the ratio to the targets:
dev F1 >= 77.5 within 15 minutes of CPU training (text-only), >= 81.9 with --bigrams.
Calibration: a plain character BiLSTM-CRF (100-d random embeddings, BiLSTM 200 per direction,
dropout 0.5, Adam 1e-3, batch 16, 12 epochs) reached dev 77.5 at ~48 s/epoch on 2 quiet cores; with
100-d bigram embeddings 81.9 at ~62 s/epoch.

    python benchmarks/bench_acn.py [--bigrams] [--epochs 20] [--data ../shared/data/cmner]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUDGET_SECONDS = 15 * 60
TARGETS = {False: 77.5, True: 81.9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bigrams", action="store_true")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CMNER_SHARED_DIR", REPO.parent / "shared")) / "data" / "cmner")
    args = parser.parse_args()
    if not (args.data / "train.txt").is_file():
        print(f"skipped: {args.data}/train.txt is absent")
        return 0

    from cmner_build.baselines.experiment import BaselineOptions, run_baseline
    from cmner_build.console import progress_task

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        outcome = run_baseline(
            BaselineOptions(model="acn", export_dir=args.data, images="none", epochs=args.epochs, seed=args.seed,
                            device="cpu", bigrams=args.bigrams),
            runs_dir=Path(scratch) / "runs", features_root=Path(scratch) / "features", progress=progress_task,
            log=print,
        )
    total = time.perf_counter() - started
    history = outcome.history
    elapsed = 0.0
    best_in_budget, epoch_in_budget, first_at_target = 0.0, 0, None
    target = TARGETS[args.bigrams]
    for record in history:
        elapsed += record["epoch_seconds"]
        if elapsed <= BUDGET_SECONDS and record["dev_f1"] > best_in_budget:
            best_in_budget, epoch_in_budget = record["dev_f1"], record["epoch"]
        if first_at_target is None and record["dev_f1"] >= target:
            first_at_target = elapsed
    train_seconds = [record["train_seconds"] for record in history]
    name = "ACN text-only" + (" + bigrams" if args.bigrams else "")
    import torch

    print(f"== {name}: {len(history)} epochs, {total:.0f} s in all (torch threads: {torch.get_num_threads()} of {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f})")
    for record in history:
        print(f"   epoch {record['epoch']:2d}  loss {record['loss']:8.3f}  dev F1 {record['dev_f1']:6.2f}  "
              f"train {record['train_seconds']:6.1f} s  with dev {record['epoch_seconds']:6.1f} s  "
              f"{record['chars_per_second']:8.0f} chars/s")
    print(f"best dev F1 {outcome.metrics['dev']['f1']:.2f} (epoch {outcome.best_epoch}); "
          f"per type {outcome.metrics['dev']['per_type']}")
    print(f"best dev F1 within 15 min of training: {best_in_budget:.2f} (epoch {epoch_in_budget}); "
          f"target {target} -> ratio {best_in_budget / target:.3f}")
    print(f"time to reach the target: {'not reached' if first_at_target is None else f'{first_at_target:.0f} s'}")
    print(f"seconds per training epoch: mean {sum(train_seconds) / len(train_seconds):.1f}, "
          f"min {min(train_seconds):.1f}; characters per second: "
          f"{max(record['chars_per_second'] for record in history):.0f} (best epoch of speed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
