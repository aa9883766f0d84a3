"""Identical and near-identical post texts: MinHash LSH over character n-grams, confirmed by exact Jaccard.

Used by export (a group never straddles two splits), by the stats leak audit, and by the clean stage,
which records the groups in the store: character 3-grams, 128 permutations (docs/clean.md).
"""

from __future__ import annotations

import zlib
from typing import Hashable, Iterable, Mapping, TypeVar

Key = TypeVar("Key", bound=Hashable)

NGRAM = 3
NUM_PERM = 128


def char_ngrams(text: str, n: int = NGRAM) -> frozenset[str]:
    """Set of character n-grams; a text shorter than n is its own single gram."""
    if len(text) < n:
        return frozenset([text])
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicate_pairs(
    texts: Mapping[str, str], threshold: float = 0.7, n: int = NGRAM
) -> list[tuple[str, str, float]]:
    """Pairs (id_a, id_b, jaccard) with exact n-gram Jaccard >= threshold, id_a < id_b, sorted.

    Identical texts are paired directly; MinHash LSH proposes candidates among distinct texts and
    every candidate is confirmed with the exact Jaccard, so no false positive survives.
    """
    ids_by_text: dict[str, list[str]] = {}
    for post_id in sorted(texts):
        ids_by_text.setdefault(texts[post_id], []).append(post_id)
    pairs: set[tuple[str, str, float]] = set()
    for ids in ids_by_text.values():
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                pairs.add((first, second, 1.0))

    distinct = list(ids_by_text)
    grams = [char_ngrams(text, n) for text in distinct]
    if len(distinct) > 1:
        # Imported only for a real search: datasketch pulls in scipy (about a second).
        from datasketch import MinHash, MinHashLSH

        # crc32 instead of datasketch's default sha1: deterministic across runs (unlike hash()) and
        # several times faster; candidates are confirmed by exact Jaccard, so hash quality only
        # affects recall, which 128 permutations keep high.
        minhashes = MinHash.bulk(
            [[zlib.crc32(g.encode("utf-8")) for g in gram_set] for gram_set in grams],
            num_perm=NUM_PERM,
            hashfunc=_identity,
        )
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        for index, minhash in enumerate(minhashes):
            lsh.insert(index, minhash)
        for index, minhash in enumerate(minhashes):
            for other in lsh.query(minhash):
                if other <= index:
                    continue
                similarity = jaccard(grams[index], grams[other])
                if similarity >= threshold:
                    for first in ids_by_text[distinct[index]]:
                        for second in ids_by_text[distinct[other]]:
                            a, b = sorted((first, second))
                            pairs.add((a, b, round(similarity, 6)))
    return sorted(pairs)


def _identity(value: int) -> int:
    return value


def group_pairs(ids: Iterable[Key], pairs: Iterable[tuple[Key, Key]]) -> list[list[Key]]:
    """Connected components (union-find) of ids under the pairs; every id appears in exactly one group.

    Ids must be sortable (post ids, image indices). Groups are sorted internally and by their first id,
    so the result is deterministic.
    """
    parent: dict[Key, Key] = {key: key for key in ids}

    def find(x: Key) -> Key:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    groups: dict[Key, list[Key]] = {}
    for key in parent:
        groups.setdefault(find(key), []).append(key)
    return sorted((sorted(members) for members in groups.values()), key=lambda members: members[0])
