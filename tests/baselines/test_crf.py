"""The vectorised CRF against pytorch-crf, and its fp32 / mask rules."""

from __future__ import annotations

import pytest
import torch
import torchcrf

from cmner_build.baselines.crf import CRF


def _pair(num_tags: int, seed: int):
    torch.manual_seed(seed)
    ours = CRF(num_tags)
    reference = torchcrf.CRF(num_tags, batch_first=True)
    reference.load_state_dict(ours.state_dict())
    return ours, reference


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_pytorch_crf_on_ragged_batches(seed):
    ours, reference = _pair(9, seed)
    lengths = torch.tensor([11, 1, 4, 9, 11, 2])
    emissions = torch.randn(len(lengths), 11, 9) * 3
    tags = torch.randint(0, 9, (len(lengths), 11))
    mask = torch.arange(11).unsqueeze(0) < lengths.unsqueeze(1)
    expected = -reference(emissions, tags, mask, reduction="none")
    assert torch.allclose(ours.neg_log_likelihood(emissions, tags, mask, reduction="none"), expected, atol=1e-4)
    assert torch.allclose(ours.neg_log_likelihood(emissions, tags, mask), expected.mean(), atol=1e-4)
    assert ours.decode(emissions, mask) == reference.decode(emissions, mask)
    assert [len(path) for path in ours.decode(emissions, mask)] == lengths.tolist()


def test_gradients_match_pytorch_crf():
    ours, reference = _pair(5, 3)
    emissions = torch.randn(3, 6, 5, requires_grad=True)
    emissions_ref = emissions.detach().clone().requires_grad_(True)
    tags = torch.randint(0, 5, (3, 6))
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], dtype=torch.bool)
    ours.neg_log_likelihood(emissions, tags, mask, reduction="sum").backward()
    (-reference(emissions_ref, tags, mask, reduction="sum")).backward()
    assert torch.allclose(emissions.grad, emissions_ref.grad, atol=1e-5)
    assert torch.allclose(ours.transitions.grad, reference.transitions.grad, atol=1e-5)


def test_runs_in_fp32_under_bf16_autocast():
    crf, _ = _pair(4, 0)
    emissions = torch.randn(2, 5, 4).to(torch.bfloat16)
    tags = torch.randint(0, 4, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = crf.neg_log_likelihood(emissions, tags, mask, reduction="none")
    assert nll.dtype == torch.float32
    expected = crf.neg_log_likelihood(emissions.float(), tags, mask, reduction="none")
    assert torch.allclose(nll, expected)


def test_rejects_byte_masks_and_a_masked_first_position():
    crf, _ = _pair(3, 0)
    emissions = torch.randn(1, 3, 3)
    with pytest.raises(TypeError):
        crf.decode(emissions, torch.ones(1, 3, dtype=torch.uint8))
    with pytest.raises(ValueError):
        crf.decode(emissions, torch.tensor([[False, True, True]]))


def test_decoding_with_tag_names_only_returns_valid_bio():
    from cmner_build.model import BIO_TAGS

    torch.manual_seed(0)
    crf = CRF(len(BIO_TAGS), BIO_TAGS)
    free = CRF(len(BIO_TAGS))
    free.load_state_dict(crf.state_dict())
    emissions = torch.zeros(1, 4, len(BIO_TAGS))
    # I-PER first, then I-LOC after it: the unconstrained decoder follows the emissions.
    for position, tag in enumerate(["I-PER", "I-PER", "I-LOC", "O"]):
        emissions[0, position, BIO_TAGS.index(tag)] = 5.0
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert [BIO_TAGS[i] for i in free.decode(emissions, mask)[0]] == ["I-PER", "I-PER", "I-LOC", "O"]
    constrained = [BIO_TAGS[i] for i in crf.decode(emissions, mask)[0]]
    assert not constrained[0].startswith("I-")
    for previous, tag in zip(["O", *constrained], constrained):
        assert not tag.startswith("I-") or previous[2:] == tag[2:]
    # Training is unconstrained: the likelihood is the same with and without tag names.
    tags = torch.tensor([[2, 2, 4, 0]])
    assert torch.allclose(crf.neg_log_likelihood(emissions, tags, mask), free.neg_log_likelihood(emissions, tags, mask))


def _brute_force_marginals(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int]]:
    """Enumerate every tag sequence of one item: its marginals (T, K) and its best path."""
    import itertools

    start = crf.start_transitions + crf.start_penalty
    transitions = crf.transitions + crf.transition_penalty
    num_tags = crf.num_tags
    scores, paths = [], list(itertools.product(range(num_tags), repeat=length))
    for path in paths:
        score = start[path[0]] + emissions[0, path[0]] + crf.end_transitions[path[-1]]
        for t in range(1, length):
            score = score + transitions[path[t - 1], path[t]] + emissions[t, path[t]]
        scores.append(score)
    probabilities = torch.softmax(torch.stack(scores).double(), dim=0)
    marginals = torch.zeros(length, num_tags, dtype=torch.float64)
    for path, probability in zip(paths, probabilities):
        for t, tag in enumerate(path):
            marginals[t, tag] += probability
    return marginals, list(paths[int(torch.stack(scores).argmax())])


@pytest.mark.parametrize("tags", [None, ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")])
def test_marginals_equal_brute_force_enumeration_on_a_ragged_batch(tags):
    torch.manual_seed(4)
    crf = CRF(5, tags)
    with torch.no_grad():
        crf.transitions.mul_(10)  # transitions that matter
    lengths = [4, 1, 3, 2]
    emissions = torch.randn(len(lengths), 4, 5) * 2
    mask = torch.arange(4).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    marginals = crf.marginals(emissions, mask)
    assert marginals.dtype == torch.float32 and marginals.shape == (4, 4, 5)
    decoded = crf.decode(emissions, mask)
    for row, length in enumerate(lengths):
        expected, best = _brute_force_marginals(crf, emissions[row], length)
        assert torch.allclose(marginals[row, :length].double(), expected, atol=1e-5)
        assert torch.all(marginals[row, length:] == 0)
        assert decoded[row] == best
    if tags is not None:  # an I- tag at the start, or after another type, has no probability at all
        assert float(marginals[:, 0, 2].max()) < 1e-6 and float(marginals[:, 0, 4].max()) < 1e-6


def test_marginals_run_in_fp32_under_bf16_autocast():
    crf, _ = _pair(4, 1)
    emissions = torch.randn(2, 6, 4)
    mask = torch.ones(2, 6, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        marginals = crf.marginals(emissions.to(torch.bfloat16), mask)
    assert marginals.dtype == torch.float32
    assert torch.allclose(marginals.sum(2), torch.ones(2, 6), atol=1e-5)
