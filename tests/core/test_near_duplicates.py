import random
import subprocess
import sys
from fractions import Fraction

import pytest

from cmner_build.near_duplicates import (
    char_ngrams,
    near_duplicate_pairs,
    ngram_matrix,
    threshold_fraction,
)

from tests.helpers import AT_069, AT_070, AT_071, AT_075, HUREN_A, HUREN_B


def exact_jaccard(a: str, b: str) -> Fraction:
    grams_a, grams_b = char_ngrams(a), char_ngrams(b)
    return Fraction(len(grams_a & grams_b), len(grams_a | grams_b))


def test_the_constructed_pairs_have_exactly_the_intended_jaccard():
    assert exact_jaccard(HUREN_A, HUREN_B) == Fraction(7, 10)
    assert exact_jaccard(*AT_070) == Fraction(7, 10)
    assert exact_jaccard(*AT_071) == Fraction(71, 100)
    assert exact_jaccard(*AT_075) == Fraction(3, 4)
    assert exact_jaccard(*AT_069) == Fraction(69, 100)


def test_pairs_at_and_just_above_the_threshold_are_all_found_and_below_it_none():
    texts = {"h1": HUREN_A, "h2": HUREN_B}
    for name, (a, b) in {"p70": AT_070, "p71": AT_071, "p75": AT_075, "p69": AT_069}.items():
        texts[f"{name}a"], texts[f"{name}b"] = a, b
    pairs = near_duplicate_pairs(texts, 0.7)
    assert pairs == [("h1", "h2", 0.7), ("p70a", "p70b", 0.7), ("p71a", "p71b", 0.71), ("p75a", "p75b", 0.75)]
    assert [(a, b) for a, b, _ in near_duplicate_pairs(texts, 0.69)] == [
        ("h1", "h2"), ("p69a", "p69b"), ("p70a", "p70b"), ("p71a", "p71b"), ("p75a", "p75b")]
    assert [(a, b) for a, b, _ in near_duplicate_pairs(texts, 0.71)] == [("p71a", "p71b"), ("p75a", "p75b")]
    assert near_duplicate_pairs(texts, 0.751) == []


def test_the_threshold_is_the_decimal_as_written():
    assert threshold_fraction(0.7) == Fraction(7, 10)
    assert threshold_fraction(1) == 1
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError):
            threshold_fraction(bad)
    # A threshold with many digits falls back to Python integers and still decides exactly.
    a, b = AT_071
    assert near_duplicate_pairs({"a": a, "b": b}, 0.71) and not near_duplicate_pairs({"a": a, "b": b}, 0.7100000000000001)


def test_short_empty_and_repetitive_texts():
    texts = {"e1": "", "e2": "", "s1": "好", "s2": "好", "s3": "好的", "s4": "好的啊", "r1": "哈哈哈哈哈", "r2": "哈哈哈",
             "r3": "哈哈哈哈哈哈哈哈哈哈哈哈"}
    pairs = near_duplicate_pairs(texts, 0.7)
    # Identical texts pair whatever their length; distinct ones shorter than 3 characters pair nothing;
    # a text that repeats one gram has that single gram (r1, r2, r3 share the set {哈哈哈}).
    assert pairs == [("e1", "e2", 1.0), ("r1", "r2", 1.0), ("r1", "r3", 1.0), ("r2", "r3", 1.0), ("s1", "s2", 1.0)]
    matrix = ngram_matrix(["", "好", "好的啊", "哈哈哈哈"])
    assert matrix.shape[0] == 4 and list(matrix.getnnz(axis=1)) == [1, 1, 1, 1]


def perturbed_corpus(seed: int, count: int = 300) -> dict[str, str]:
    """Random texts over a small alphabet (many shared grams) plus edited copies near any threshold."""
    rng = random.Random(seed)
    alphabet = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
    texts = {}
    for index in range(count):
        if index >= 10 and rng.random() < 0.5:
            base = list(texts[f"t{rng.randrange(index):04d}"])
            for _ in range(rng.randint(0, 6)):
                position = rng.randrange(len(base) + 1)
                choice = rng.random()
                if choice < 0.5 or position == len(base):
                    base.insert(position, rng.choice(alphabet))
                elif choice < 0.8:
                    base[position] = rng.choice(alphabet)
                else:
                    del base[position]
            text = "".join(base)
        else:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        texts[f"t{index:04d}"] = text
    return texts


def brute_force(texts: dict[str, str]) -> list[tuple[str, str, int, int]]:
    """Every pair's gram intersection and union from Python sets: the definition, no filter of any kind."""
    ids = sorted(texts)
    grams = {post_id: char_ngrams(texts[post_id]) for post_id in ids}
    return [
        (a, b, len(grams[a] & grams[b]), len(grams[a] | grams[b]))
        for index, a in enumerate(ids)
        for b in ids[index + 1 :]
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_exact_search_equals_brute_force_at_every_threshold(seed):
    texts = perturbed_corpus(seed)
    every_pair = brute_force(texts)
    similarity_of = {(a, b): shared / union for a, b, shared, union in every_pair}
    for threshold in (0.3, 0.5, 0.7, 0.71, 0.75, 0.9, 1.0):
        fraction = threshold_fraction(threshold)
        expected = {(a, b) for a, b, shared, union in every_pair
                    if shared * fraction.denominator >= union * fraction.numerator or texts[a] == texts[b]}
        found = near_duplicate_pairs(texts, threshold)
        assert {(a, b) for a, b, _ in found} == expected, threshold
        assert len(expected) > 20 or threshold == 1.0
        assert all(texts[a] == texts[b] or abs(similarity - similarity_of[a, b]) < 1e-6 for a, b, similarity in found)


def test_the_minhash_opt_in_confirms_every_candidate():
    texts = perturbed_corpus(3)
    exact = set(near_duplicate_pairs(texts, 0.7))
    approximate = set(near_duplicate_pairs(texts, 0.7, method="minhash"))
    assert approximate <= exact and len(approximate) >= len(exact) // 2
    with pytest.raises(ValueError, match="choose one of exact, minhash"):
        near_duplicate_pairs(texts, 0.7, method="simhash")


def test_importing_the_stats_and_export_modules_does_not_load_scipy():
    code = ("import sys, cmner_build.stats.corpus_stats, cmner_build.export, cmner_build.config; "
            "print('scipy' in sys.modules, 'datasketch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
