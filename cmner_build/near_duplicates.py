"""Identical and near-identical post texts: character 3-gram Jaccard, exact at the configured threshold.

Used by export (a group never straddles two splits), by the stats leak audit, and by the clean stage,
which records the groups in the store. See docs/near_duplicates.md.

The default search is exact: texts become rows of a sparse binary n-gram matrix (scipy CSR); a
prefix filter, itself a sparse matrix product computed in row blocks so memory stays bounded, leaves
out only pairs that provably cannot reach the threshold; every other pair's intersection is counted
and tested in integers. No pair at or above the threshold is missed, none below it is reported.
MinHash LSH (datasketch) remains as an opt-in (`method="minhash"`) for corpora far larger than a
Weibo NER corpus; it misses pairs near the threshold.
"""

from __future__ import annotations

import zlib
from fractions import Fraction
from typing import TYPE_CHECKING, Hashable, Iterable, Mapping, Sequence, TypeVar

if TYPE_CHECKING:  # heavy imports stay inside the functions (the CLI must start fast)
    import numpy as np
    from scipy import sparse

Key = TypeVar("Key", bound=Hashable)

NGRAM = 3
SEARCH_METHODS: tuple[str, ...] = ("exact", "minhash")
NUM_PERM = 128
# Rows of the prefix matrix multiplied at once: bounds the memory of one block's candidate pairs.
BLOCK_ROWS = 1024


def char_ngrams(text: str, n: int = NGRAM) -> frozenset[str]:
    """Set of character n-grams; a text shorter than n is its own single gram."""
    if len(text) < n:
        return frozenset([text])
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def threshold_fraction(threshold: float) -> Fraction:
    """The threshold as the decimal it was written: 0.7 -> 7/10, not the binary float just below 0.7.

    A pair is near-identical when intersection / union >= this fraction, tested as
    intersection * denominator >= union * numerator in integers, so a pair exactly at the threshold
    (e.g. 7 shared grams of 10) is never lost to rounding.
    """
    fraction = Fraction(repr(float(threshold)))
    if not 0 < fraction <= 1:
        raise ValueError(f"a Jaccard threshold must be in (0, 1], found {threshold}")
    return fraction


def meets_threshold(intersection: "np.ndarray", union: "np.ndarray", threshold: Fraction) -> "np.ndarray":
    """Boolean array: intersection / union >= threshold, compared exactly in integers."""
    import numpy as np

    intersection = np.asarray(intersection)
    union = np.asarray(union)
    largest = int(union.max(initial=0))
    if largest * max(threshold.numerator, threshold.denominator) < 2**62:
        dtype: type | str = np.int64
    else:  # a threshold written with very many digits: Python integers cannot overflow
        dtype = object
    return intersection.astype(dtype) * threshold.denominator >= union.astype(dtype) * threshold.numerator


def ngram_matrix(texts: Sequence[str], n: int = NGRAM) -> "sparse.csr_matrix":
    """Binary CSR matrix, one row per text, one column per distinct n-gram, rarest columns first.

    Built from the texts' code points with numpy (no Python loop over grams). Columns are ordered by
    how many texts hold the gram, ascending, so each row's sorted indices list its rarest grams first
    (what the prefix filter of `near_duplicate_pairs` needs). A text shorter than n is its own single
    gram: it gets a column of its own, as no n-gram can equal it.
    """
    import numpy as np
    from scipy import sparse

    if not 1 <= n <= 3:
        raise ValueError(f"n-grams of 1 to 3 characters are supported, not {n}")
    count = len(texts)
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=count)
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    gram_counts = np.where(lengths >= n, lengths - n + 1, 0)
    rows = np.repeat(np.arange(count, dtype=np.int64), gram_counts)
    # Position of each gram's first character: its text's start plus its index within the text.
    first_gram = np.cumsum(gram_counts) - gram_counts
    positions = np.repeat(starts - first_gram, gram_counts) + np.arange(int(gram_counts.sum()), dtype=np.int64)
    # Code points are below 2**21, so up to three of them pack into one 63-bit key.
    keys = np.zeros(len(positions), dtype=np.uint64)
    for k in range(n):
        keys = (keys << np.uint64(21)) | codes[positions + k]
    # Sort by gram; a stable sort keeps each gram's rows ascending, so repeats within a text are adjacent.
    # (Sorting is much faster here than numpy's hash-based unique.)
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    new_gram = np.ones(len(keys), dtype=bool)
    new_gram[1:] = keys[1:] != keys[:-1]
    first_in_text = new_gram.copy()
    first_in_text[1:] |= rows[1:] != rows[:-1]
    gram_ids = np.cumsum(new_gram)[first_in_text] - 1
    rows = rows[first_in_text]
    short = np.flatnonzero(lengths < n)
    frequency = np.concatenate([np.bincount(gram_ids, minlength=int(new_gram.sum())), np.ones(len(short), dtype=np.int64)])
    gram_ids = np.concatenate([gram_ids, int(new_gram.sum()) + np.arange(len(short), dtype=np.int64)])
    rows = np.concatenate([rows, short])
    rank = np.empty(len(frequency), dtype=np.int64)
    rank[np.argsort(frequency, kind="stable")] = np.arange(len(frequency), dtype=np.int64)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, rank[gram_ids])), shape=(count, len(frequency))
    )
    matrix.sort_indices()
    return matrix


def required_overlap(sizes: "np.ndarray", threshold: Fraction) -> "np.ndarray":
    """Least intersection a set of each size needs with any set to reach the threshold: ceil(t * size).

    Jaccard(x, y) >= t implies |x & y| >= t * |x| (as |x & y| >= t * |x | y| and |x | y| >= |x|).
    """
    import numpy as np

    sizes = np.asarray(sizes).astype(object)
    return np.asarray(-((-threshold.numerator * sizes) // threshold.denominator), dtype=np.int64)


def exact_self_pairs(
    matrix: "sparse.csr_matrix", threshold: Fraction, *, block_rows: int = BLOCK_ROWS
) -> tuple["np.ndarray", "np.ndarray", "np.ndarray", "np.ndarray"]:
    """All (i < j) with Jaccard(row i, row j) >= threshold: rows i, j, intersections, unions. Exact.

    Prefix filter (Chaudhuri et al., ICDE 2006; Bayardo et al., WWW 2007): with columns ordered rarest
    first, two rows that share o grams share at least one of their first |row| - o + 1 grams. Each row
    keeps its first |row| - ceil(t * |row|) + 1 grams; pairs sharing none of those cannot reach the
    threshold, so only the pairs a sparse product of these prefixes proposes are counted, with the
    full rows, and tested exactly. Grams held by one text only are left out of the prefixes: they
    pair nothing.
    """
    import numpy as np
    from scipy import sparse

    empty = np.zeros(0, dtype=np.int64)
    rows_total = matrix.shape[0]
    sizes = np.diff(matrix.indptr).astype(np.int64)
    prefix_lengths = sizes - required_overlap(sizes, threshold) + 1
    row_of_cell = np.repeat(np.arange(rows_total, dtype=np.int64), sizes)
    rank_in_row = np.arange(matrix.nnz, dtype=np.int64) - np.repeat(matrix.indptr[:-1].astype(np.int64), sizes)
    frequency = np.bincount(matrix.indices, minlength=matrix.shape[1])
    in_prefix = (rank_in_row < prefix_lengths[row_of_cell]) & (frequency[matrix.indices] > 1)
    prefixes = sparse.csr_matrix(
        (matrix.data[in_prefix], (row_of_cell[in_prefix], matrix.indices[in_prefix])), shape=matrix.shape
    )
    prefixes_t = prefixes.T.tocsr()
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(0, rows_total, block_rows):
        candidates = (prefixes[start : start + block_rows] @ prefixes_t).tocoo()
        i = candidates.row.astype(np.int64) + start
        j = candidates.col.astype(np.int64)
        # Only i < j, and only pairs whose sizes allow the threshold (min / max >= t).
        keep = j > i
        i, j = i[keep], j[keep]
        smaller, larger = np.minimum(sizes[i], sizes[j]), np.maximum(sizes[i], sizes[j])
        keep = meets_threshold(smaller, larger, threshold)
        i, j = i[keep], j[keep]
        if len(i) == 0:
            continue
        intersection = _intersections(matrix, i, j)
        union = sizes[i] + sizes[j] - intersection
        keep = meets_threshold(intersection, union, threshold)
        found.append((i[keep], j[keep], intersection[keep], union[keep]))
    if not found:
        return empty, empty, empty, empty
    return tuple(np.concatenate(parts) for parts in zip(*found))  # type: ignore[return-value]


def _intersections(matrix: "sparse.csr_matrix", i: "np.ndarray", j: "np.ndarray", chunk: int = 65_536) -> "np.ndarray":
    """|row i & row j| for each pair, a chunk of pairs at a time (a low threshold proposes many)."""
    import numpy as np

    counts = [
        np.asarray(matrix[i[k : k + chunk]].multiply(matrix[j[k : k + chunk]]).sum(axis=1)).ravel()
        for k in range(0, len(i), chunk)
    ]
    return np.concatenate(counts).astype(np.int64)


def near_duplicate_pairs(
    texts: Mapping[str, str], threshold: float = 0.7, n: int = NGRAM, method: str = "exact"
) -> list[tuple[str, str, float]]:
    """Pairs (id_a, id_b, jaccard) with n-gram Jaccard >= threshold, id_a < id_b, sorted.

    Identical texts are paired directly (jaccard 1.0). method "exact" (the default) finds every pair
    at or above the threshold; "minhash" proposes candidates with MinHash LSH and confirms each with
    the exact Jaccard: no false positive, but pairs near the threshold can be missed.
    """
    if method not in SEARCH_METHODS:
        raise ValueError(f"unknown near-duplicate search {method!r}; choose one of {', '.join(SEARCH_METHODS)}")
    fraction = threshold_fraction(threshold)
    ids_by_text: dict[str, list[str]] = {}
    for post_id in sorted(texts):
        ids_by_text.setdefault(texts[post_id], []).append(post_id)
    pairs: set[tuple[str, str, float]] = set()
    for ids in ids_by_text.values():
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                pairs.add((first, second, 1.0))

    distinct = list(ids_by_text)
    if len(distinct) > 1:
        search = _exact_text_pairs if method == "exact" else _minhash_text_pairs
        for index, other, similarity in search(distinct, fraction, n):
            for first in ids_by_text[distinct[index]]:
                for second in ids_by_text[distinct[other]]:
                    a, b = sorted((first, second))
                    pairs.add((a, b, similarity))
    return sorted(pairs)


def _exact_text_pairs(distinct: list[str], threshold: Fraction, n: int) -> Iterable[tuple[int, int, float]]:
    rows, columns, intersections, unions = exact_self_pairs(ngram_matrix(distinct, n), threshold)
    for i, j, intersection, union in zip(rows.tolist(), columns.tolist(), intersections.tolist(), unions.tolist()):
        yield i, j, round(intersection / union, 6)


def _minhash_text_pairs(distinct: list[str], threshold: Fraction, n: int) -> Iterable[tuple[int, int, float]]:
    from datasketch import MinHash, MinHashLSH

    grams = [char_ngrams(text, n) for text in distinct]
    # crc32 instead of datasketch's default sha1: deterministic across runs (unlike hash()) and
    # several times faster; candidates are confirmed by exact Jaccard, so hash quality only
    # affects recall.
    minhashes = MinHash.bulk(
        [[zlib.crc32(g.encode("utf-8")) for g in gram_set] for gram_set in grams],
        num_perm=NUM_PERM,
        hashfunc=_identity,
    )
    lsh = MinHashLSH(threshold=float(threshold), num_perm=NUM_PERM)
    for index, minhash in enumerate(minhashes):
        lsh.insert(index, minhash)
    for index, minhash in enumerate(minhashes):
        for other in lsh.query(minhash):
            if other <= index:
                continue
            intersection = len(grams[index] & grams[other])
            union = len(grams[index]) + len(grams[other]) - intersection
            if intersection * threshold.denominator >= union * threshold.numerator:
                yield index, other, round(intersection / union, 6)


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
