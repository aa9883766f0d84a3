"""The training loop: batching, the out-of-memory back-off, and both models overfitting a dozen posts
(the whole path from data to CRF decode to seqeval must be wired right to reach F1 100)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from cmner_build.baselines.errors_analysis import spans_of
from cmner_build.baselines.experiment import BaselineOptions, run_baseline
from cmner_build.baselines.train import Task, Trainer, bucket_batches

from tests.baselines_helpers import make_posts, tiny_bert, write_export


def test_bucket_batches_cover_every_post_once_and_group_similar_lengths():
    import random

    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 11]
    batches = bucket_batches(lengths, 3, random.Random(0))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len(batch) <= 3 for batch in batches)
    ordered = bucket_batches(lengths, 4, None)
    assert ordered[0] == [1, 5, 3] + [7]  # lengths 1, 2, 3, 4
    assert bucket_batches(lengths, 3, random.Random(0)) == batches


class _OutOfMemoryAboveTwo(nn.Module):
    """Raises CUDA's out-of-memory message for batches above two posts, like a GPU that is too small."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.sizes: list[int] = []

    def loss(self, batch):
        self.sizes.append(batch["size"])
        if batch["size"] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ((self.weight - 1) ** 2).sum()

    def decode(self, batch):
        return [[0] for _ in range(batch["size"])]


def test_out_of_memory_splits_batches_without_changing_the_number_of_optimizer_steps():
    model = _OutOfMemoryAboveTwo()
    items = [{"length": 1, "tags": [0]} for _ in range(8)]
    steps = []

    def make_optimizer(module, total_steps):
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: steps.append(step) or 1.0)
        return optimizer, scheduler

    task = Task(model=model, items={"train": items, "dev": items[:2]}, make_optimizer=make_optimizer,
                collate=lambda batch_items, device: {"size": len(batch_items)}, batch_size=8, eval_batch_size=2)
    trainer = Trainer(task, torch.device("cpu"))
    result = trainer.fit(epochs=2, seed=0)
    assert result.micro_batch == 2 and "micro-batches of 2" in result.notes[-1] and len(result.notes) == 2
    assert len(steps) == 1 + 2  # LambdaLR calls once at creation, then once per step: one step per epoch
    assert model.sizes[:5] == [8, 4, 2, 2, 2]
    with pytest.raises(RuntimeError, match="something else"):
        task.model.loss = lambda batch: (_ for _ in ()).throw(RuntimeError("something else"))
        Trainer(task, torch.device("cpu")).fit(epochs=1, seed=0)


@pytest.fixture(scope="module")
def dozen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dozen")
    posts = make_posts(12, 7)
    export = write_export(folder / "export", {"train": posts, "dev": posts, "test": posts})
    return folder, export, posts


def _check_run(outcome):
    assert outcome.metrics["test"]["f1"] == 100.0 and outcome.metrics["dev"]["f1"] == 100.0
    rows = [json.loads(line) for line in (outcome.run_dir / "predictions.jsonl").read_text().splitlines()]
    # Same entities (seqeval's lenient reading: a leading I- tag starts an entity like B- does).
    assert all(spans_of(row["gold"]) == spans_of(row["predicted"]) for row in rows) and len(rows) == 24


def test_acn_overfits_a_dozen_posts(dozen):
    folder, export, _ = dozen
    options = BaselineOptions(model="acn", export_dir=export, epochs=20, lr=0.02, batch_size=4, hidden=32,
                              embedding_dim=16, dropout=0.0, device="cpu", seed=3)
    _check_run(run_baseline(options, runs_dir=folder / "runs", features_root=folder / "features"))


def test_umt_overfits_a_dozen_posts(dozen):
    folder, export, posts = dozen
    bert = str(tiny_bert(folder / "bert", posts))
    options = BaselineOptions(model="umt", export_dir=export, epochs=20, lr=5e-3, batch_size=2, bert=bert,
                              device="cpu", seed=3)
    _check_run(run_baseline(options, runs_dir=folder / "runs", features_root=folder / "features"))
