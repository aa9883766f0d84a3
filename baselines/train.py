"""The training loop both baselines share: length-bucketed batches, best epoch by dev F1, OOM back-off.

A `Task` bundles a model (with `loss(batch)` and `decode(batch)`), its encoded posts per split, how to
pad them into a batch, and how to build its optimizer. `fit` trains, evaluates dev after every epoch,
keeps the state of the epoch with the strictly highest dev F1 (the UMT reference's rule), then reloads it
and predicts dev and test with it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from cmner_build.baselines.device import autocast, free_cache, is_out_of_memory
from cmner_build.baselines.evaluate import score
from cmner_build.baselines.vocab import decode_tags
from cmner_build.progress import ProgressFactory, no_progress



@dataclass
class Task:
    model: nn.Module
    items: dict[str, list[dict]]  # split -> encoded posts, each with "length" and "tags"
    collate: Callable[[Sequence[dict], torch.device], dict]
    make_optimizer: Callable[[nn.Module, int], tuple[torch.optim.Optimizer, object | None]]
    batch_size: int = 16
    eval_batch_size: int = 64
    max_grad_norm: float | None = 5.0


@dataclass
class FitResult:
    best_epoch: int
    history: list[dict]
    metrics: dict[str, dict]  # split -> score()
    predictions: dict[str, list[list[str]]]
    best_state: dict[str, torch.Tensor]
    micro_batch: int  # the batch that fitted in memory (gradients accumulated up to batch_size)
    notes: list[str] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Batches of similar length (less padding). With rng: posts shuffled, sorted within pools of 50
    batches, batch order shuffled; without: sorted by length (for evaluation)."""
    indices = list(range(len(lengths)))
    if rng is None:
        indices.sort(key=lambda i: lengths[i])
        return [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    rng.shuffle(indices)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(indices), pool):
        chunk = sorted(indices[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches



class Trainer:
    def __init__(self, task: Task, device: torch.device, log: Callable[[str], None] | None = None) -> None:
        self.task = task
        self.device = device
        self.micro_batch = task.batch_size
        self.eval_batch_size = task.eval_batch_size
        self.log = log or (lambda message: None)
        self.notes: list[str] = []

    def _step(self, items: list[dict], optimizer, scheduler) -> float:
        """One optimizer step on items, in micro-batches of at most `micro_batch` posts.

        On CUDA out-of-memory the micro-batch is halved (for the rest of the run) and the step is redone
        with gradient accumulation, so the effective batch size and the learning-rate schedule stay the same.
        """
        model = self.task.model
        while True:
            optimizer.zero_grad(set_to_none=True)
            try:
                total = 0.0
                for start in range(0, len(items), self.micro_batch):
                    chunk = items[start : start + self.micro_batch]
                    batch = self.task.collate(chunk, self.device)
                    with autocast(self.device):
                        loss = model.loss(batch) * (len(chunk) / len(items))
                    loss.backward()
                    total += float(loss.detach())
                break
            except RuntimeError as error:
                if not is_out_of_memory(error) or self.micro_batch == 1:
                    raise
                del error
                optimizer.zero_grad(set_to_none=True)
                free_cache(self.device)
                self.micro_batch = max(1, min(self.micro_batch, len(items)) // 2)
                note = f"out of memory: splitting each batch of {self.task.batch_size} into micro-batches of {self.micro_batch}"
                self.notes.append(note)
                self.log(note)
        if self.task.max_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), self.task.max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return total

    def predict(self, split: str) -> list[list[str]]:
        """Decoded tags of every post of a split; on out-of-memory the evaluation batch is halved."""
        while True:
            try:
                return self._predict(split)
            except RuntimeError as error:
                if not is_out_of_memory(error) or self.eval_batch_size == 1:
                    raise
                del error
                free_cache(self.device)
                self.eval_batch_size //= 2
                self.notes.append(f"out of memory while decoding: evaluation batch size {self.eval_batch_size}")

    @torch.no_grad()
    def _predict(self, split: str) -> list[list[str]]:
        model = self.task.model
        model.eval()
        items = self.task.items[split]
        predicted: list[list[str] | None] = [None] * len(items)
        for batch_indices in bucket_batches([item["length"] for item in items], self.eval_batch_size, None):
            batch_items = [items[i] for i in batch_indices]
            batch = self.task.collate(batch_items, self.device)
            with autocast(self.device):
                paths = model.decode(batch)
            for i, path in zip(batch_indices, paths):
                predicted[i] = decode_tags(path)
        return predicted  # type: ignore[return-value]

    def gold(self, split: str) -> list[list[str]]:
        return [decode_tags(item["tags"]) for item in self.task.items[split]]

    def fit(self, epochs: int, seed: int, progress: ProgressFactory | None = None) -> FitResult:
        if epochs < 1:
            raise ValueError("epochs must be at least 1")
        progress = progress or no_progress
        model = self.task.model.to(self.device)
        train = self.task.items["train"]
        lengths = [item["length"] for item in train]
        steps_per_epoch = -(-len(train) // self.task.batch_size)
        optimizer, scheduler = self.task.make_optimizer(model, steps_per_epoch * epochs)
        rng = random.Random(seed)
        best_f1, best_epoch, best_state = -1.0, 0, None
        history = []
        dev_gold = self.gold("dev")
        for epoch in range(1, epochs + 1):
            model.train()
            batches = bucket_batches(lengths, self.task.batch_size, rng)
            started = time.perf_counter()
            total_loss = 0.0
            with progress(f"epoch {epoch}/{epochs}", len(batches)) as advance:
                for number, batch_indices in enumerate(batches, start=1):
                    total_loss += self._step([train[i] for i in batch_indices], optimizer, scheduler)
                    advance(1, status=f"loss {total_loss / number:.3f}")
                train_seconds = time.perf_counter() - started
                dev_f1 = score(dev_gold, self.predict("dev"))["f1"]
                epoch_seconds = time.perf_counter() - started
                advance(0, status=f"loss {total_loss / len(batches):.3f}  dev F1 {dev_f1:.2f}")
            history.append({
                "epoch": epoch,
                "loss": round(total_loss / len(batches), 4),
                "dev_f1": dev_f1,
                "train_seconds": round(train_seconds, 2),
                "epoch_seconds": round(epoch_seconds, 2),  # training + dev evaluation
                "chars_per_second": round(sum(lengths) / train_seconds, 1),
            })
            if dev_f1 > best_f1:
                best_f1, best_epoch = dev_f1, epoch
                best_state = {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
        model.load_state_dict(best_state)
        predictions: dict[str, list[list[str]]] = {}
        metrics: dict[str, dict] = {}
        for split in ("dev", "test"):
            if self.task.items.get(split):
                predictions[split] = self.predict(split)
                metrics[split] = score(self.gold(split), predictions[split])
        return FitResult(best_epoch, history, metrics, predictions, best_state, self.micro_batch, self.notes)
