"""A linear-chain CRF, vectorised over the batch, always computed in fp32.

Same parameters and initialisation as pytorch-crf (`start_transitions`, `end_transitions`,
`transitions`, U(-0.1, 0.1)), so results match it (tests compare the two), but:

* Viterbi back-tracking is done with tensor gathers for the whole batch at once (pytorch-crf does one
  Python step with `.item()` per position per sequence, which stalls a GPU);
* emissions are cast with `.float()` and the recursion runs under `autocast(enabled=False)`: in bf16 the
  NLL is off by several percent and a third of the Viterbi tags change (docs/baselines.md, GPU);
* masks are bool, left-aligned (every sequence starts at position 0, which must be unmasked).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class CRF(nn.Module):
    """tags: the tag names, when given, make `decode` return only valid BIO sequences (no I-X after O or
    after another type, none at the start), so an orphan I- tag cannot become an entity of its own in
    seqeval's lenient scoring. Training is unconstrained, as in pytorch-crf."""

    def __init__(self, num_tags: int, tags: Sequence[str] | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        start_penalty, transition_penalty = bio_penalties(tags) if tags is not None else (
            torch.zeros(num_tags), torch.zeros(num_tags, num_tags))
        self.register_buffer("start_penalty", start_penalty, persistent=False)
        self.register_buffer("transition_penalty", transition_penalty, persistent=False)

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """-log p(tags | emissions); emissions (B, T, K), tags (B, T) long, mask (B, T) bool.

        reduction: 'mean' over sequences (UMT's choice), 'sum', or 'none' (one value per sequence).
        """
        _check(emissions, mask)
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions = emissions.float()
            nll = self._log_partition(emissions, mask) - self._gold_score(emissions, tags, mask)
        if reduction == "mean":
            return nll.mean()
        if reduction == "sum":
            return nll.sum()
        if reduction == "none":
            return nll
        raise ValueError(f"unknown reduction {reduction!r}")

    def _gold_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        maskf = mask.float()
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        score = self.start_transitions[tags[:, 0]] + (emitted * maskf).sum(1)
        transition = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        score = score + (transition * maskf[:, 1:]).sum(1)
        last_index = mask.long().sum(1) - 1
        last_tags = tags.gather(1, last_index.unsqueeze(1)).squeeze(1)
        return score + self.end_transitions[last_tags]

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        alpha = self.start_transitions + emissions[:, 0]  # (B, K)
        transitions = self.transitions.unsqueeze(0)  # (1, K, K): from i to j
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end_transitions, dim=1)

    @torch.no_grad()
    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """p(tag_t = k | emissions) for every position, (B, T, K) fp32, zero on padding (forward-backward).

        The distribution is the one `decode` maximises: with tag names, invalid BIO sequences get the same
        penalty, so their probability is (numerically) zero and the Viterbi path is its mode.
        """
        _check(emissions, mask)
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions = emissions.float()
            length = emissions.size(1)
            transitions = (self.transitions + self.transition_penalty).unsqueeze(0)  # (1, from, to)
            alpha = self.start_transitions + self.start_penalty + emissions[:, 0]
            alphas = [alpha]
            for t in range(1, length):
                step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
                alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
                alphas.append(alpha)
            log_partition = torch.logsumexp(alpha + self.end_transitions, dim=1)  # (B,)
            # beta_t: log-sum of the scores from position t (exclusive) to the end; at a sequence's last
            # position it is the end transition.
            end = self.end_transitions.expand_as(alpha)
            beta = end
            betas = [beta]
            for t in range(length - 2, -1, -1):
                step = torch.logsumexp(transitions + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
                beta = torch.where(mask[:, t + 1].unsqueeze(1), step, end)
                betas.append(beta)
            betas.reverse()
            log_marginals = torch.stack(alphas, 1) + torch.stack(betas, 1) - log_partition.view(-1, 1, 1)
            return log_marginals.exp() * mask.unsqueeze(2)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag sequence of each item, cut to its length."""
        _check(emissions, mask)
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions = emissions.float()
            batch, length, _ = emissions.shape
            score = self.start_transitions + self.start_penalty + emissions[:, 0]
            transitions = (self.transitions + self.transition_penalty).unsqueeze(0)
            history = []
            for t in range(1, length):
                candidates = score.unsqueeze(2) + transitions  # (B, from, to)
                best, best_from = candidates.max(dim=1)
                history.append(best_from)
                score = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], score)
            score = score + self.end_transitions
            lengths = mask.long().sum(1)
            current = score.argmax(dim=1)  # the tag at each sequence's last position
            path = torch.zeros(batch, length, dtype=torch.long, device=emissions.device)
            for t in range(length - 1, -1, -1):
                inside = t < lengths
                path[:, t] = torch.where(inside, current, path[:, t])
                if t > 0:
                    previous = history[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
                    current = torch.where(inside, previous, current)
        rows = path.tolist()
        return [row[:n] for row, n in zip(rows, lengths.tolist())]


def bio_penalties(tags: Sequence[str], penalty: float = -10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(start, transition) additive penalties forbidding I-X at the start and I-X after anything but B-X / I-X.
    Tags are 'O', 'B-X', 'I-X' or bare 'O' / 'B' / 'I' (the span-detection head)."""
    start = torch.zeros(len(tags))
    transition = torch.zeros(len(tags), len(tags))
    for to, tag in enumerate(tags):
        if not tag.startswith("I"):
            continue
        start[to] = penalty
        for source, previous in enumerate(tags):
            if previous == "O" or previous[2:] != tag[2:]:
                transition[source, to] = penalty
    return start, transition


def _check(emissions: torch.Tensor, mask: torch.Tensor) -> None:
    if mask.dtype != torch.bool:
        raise TypeError("the CRF mask must be a bool tensor")
    if emissions.dim() != 3 or mask.shape != emissions.shape[:2]:
        raise ValueError(f"emissions {tuple(emissions.shape)} and mask {tuple(mask.shape)} do not match")
    if not bool(mask[:, 0].all()):
        raise ValueError("the first position of every sequence must be unmasked")
