"""Top-k books by inner product for catalogues too large to score whole: an inverted file.

At a million books, ranking one reader exactly means streaming the whole (n, d) table of
book vectors through the CPU on every request (256 MB at d = 64 in float32, 1 GB at
d = 256): tens to hundreds of milliseconds, memory-bound, whatever the arithmetic. An
inverted file (IVF) reads a few per cent of it instead: the books are grouped once into
``n_lists`` clusters (k-means on the vectors with their bias appended); a query ranks the
clusters' centres by inner product and scores exactly only the books of the ``n_probe``
best clusters. What it can miss is a high-scoring book filed in a low-ranked cluster;
docs/scale.md gives the measured recall against exact scoring.

Below :data:`EXACT_UP_TO` books the recommender scores every book exactly (a 100,000-book
product is a few milliseconds) and this module is not used. numpy only: no faiss or hnswlib
is needed for this size (both install here; they would pay off at tens of millions of books
or with graph indexes' better recall per probe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Catalogues up to this many books are scored exactly (every book, every request).
EXACT_UP_TO = 200_000
#: Clusters scanned per query. At a million books (2,000 clusters) that is 5-9 % of the books,
#: and the top 20 found holds 0.97 of the exact top 20 at d = 64 on the synthetic catalogue
#: (docs/scale.md has the measured trade-off).
N_PROBE = 96
#: Bump when the layout or the clustering changes (indexes are cached per bundle file).
INDEX_VERSION = 2


@dataclass(frozen=True)
class IVFIndex:
    """``rows`` holds every book row grouped by cluster (cluster ``c`` is
    ``rows[starts[c]:starts[c + 1]]``, in row order), ``table`` their vectors with the bias
    as one more column in the same order (a copy, so a cluster is read as one contiguous
    block instead of rows gathered from all over the bundle: at a million books that halves
    a request), ``centres`` each cluster's mean of those."""

    centres: np.ndarray  # (n_lists, d + 1) float32
    starts: np.ndarray  # (n_lists + 1,) int64
    rows: np.ndarray  # (n,) int32
    table: np.ndarray  # (n, d + 1) float32, rows in cluster order

    FILES = ("centres", "starts", "rows", "table")

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        bias: np.ndarray,
        n_lists: int | None = None,
        sample: int = 100_000,
        iterations: int = 8,
        seed: int = 0,
        chunk: int = 32_768,
    ) -> IVFIndex:
        """k-means (Lloyd, ``iterations`` rounds on ``sample`` rows), then every row to its
        nearest centre. About 1 s per million rows per 64 dimensions and 1,000 clusters on
        one core; run once per bundle."""
        from scipy import sparse  # only here: importing it costs the app's start ~0.1 s

        n = len(vectors)
        n_lists = n_lists or max(1, int(2 * np.sqrt(n)))
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(n, min(sample, n), replace=False))
        train = _augmented(vectors[picked], bias[picked])
        centres = train[rng.choice(len(train), min(n_lists, len(train)), replace=False)].copy()
        for _ in range(iterations):
            label = _nearest(train, centres, chunk)
            members = sparse.csr_matrix(
                (np.ones(len(label), np.float32), (label, np.arange(len(label)))),
                shape=(len(centres), len(label)),
            )
            sums = members @ train
            counts = np.bincount(label, minlength=len(centres))
            empty = counts == 0
            centres = np.where(
                empty[:, None], centres, sums / np.maximum(counts, 1)[:, None]
            ).astype(np.float32)
        label = np.concatenate(
            [
                _nearest(
                    _augmented(vectors[lo : lo + chunk], bias[lo : lo + chunk]), centres, chunk
                )
                for lo in range(0, n, chunk)
            ]
        )
        order = np.argsort(label, kind="stable").astype(np.int32)
        starts = np.searchsorted(label[order], np.arange(len(centres) + 1)).astype(np.int64)
        table = np.concatenate(
            [
                _augmented(vectors[order[lo : lo + chunk]], bias[order[lo : lo + chunk]])
                for lo in range(0, n, chunk)
            ]
        )
        return cls(centres, starts, order, table)

    def probe(self, query: np.ndarray, n_probe: int | None = None) -> np.ndarray:
        """The ``n_probe`` (default :data:`N_PROBE`) clusters whose centres score highest
        for ``query``, in cluster order."""
        q = np.append(np.asarray(query, np.float32), np.float32(1.0))
        fit = self.centres @ q
        n_probe = min(n_probe or N_PROBE, len(fit))
        return np.sort(np.argpartition(-fit, n_probe - 1)[:n_probe])

    def top(self, query: np.ndarray, k: int, n_probe: int | None = None) -> np.ndarray:
        """About the ``k`` rows with the highest ``vectors @ query + bias`` (unordered),
        scoring only the probed clusters' rows."""
        q = np.append(np.asarray(query, np.float32), np.float32(1.0))
        clusters = self.probe(query, n_probe)
        spans = [(int(self.starts[c]), int(self.starts[c + 1])) for c in clusters]
        scores = np.concatenate([self.table[lo:hi] @ q for lo, hi in spans])
        rows = np.concatenate([self.rows[lo:hi] for lo, hi in spans])
        if len(rows) <= k:
            return rows.astype(np.int64)
        return rows[np.argpartition(-scores, k - 1)[:k]].astype(np.int64)


def _augmented(vectors: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(vectors, np.float32), np.asarray(bias, np.float32)[:, None]])


def _nearest(x: np.ndarray, centres: np.ndarray, chunk: int) -> np.ndarray:
    """Index of each row's nearest centre (squared distance), in chunks of rows."""
    half_norm = 0.5 * np.einsum("ij,ij->i", centres, centres)
    return np.concatenate(
        [
            (x[lo : lo + chunk] @ centres.T - half_norm).argmax(axis=1)
            for lo in range(0, len(x), chunk)
        ]
        or [np.zeros(0, np.int64)]
    )


#: Up to this many books, every book's nearest books are found exactly (blocks of products
#: against the whole table: 10,000 books at d = 1024 in ~10 s on one core); past it, through
#: an inverted file (each cluster's books against the books of the clusters nearest it).
NEIGHBOURS_EXACT_UP_TO = 20_000
#: Clusters whose books are candidates for one cluster's books, in the approximate search.
NEIGHBOUR_PROBE = 24


def cosine_neighbours(
    vectors: np.ndarray, k: int, exact_up_to: int = NEIGHBOURS_EXACT_UP_TO, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's ``k`` nearest other rows by cosine: (ids, cosines), each (n, k), nearest
    first. Never an n × n matrix: exact by blocks of ``block`` rows up to ``exact_up_to``
    rows, else approximate through an :class:`IVFIndex` (a cluster's rows are compared with
    the rows of the :data:`NEIGHBOUR_PROBE` clusters whose centres are nearest its own)."""
    unit = np.asarray(vectors, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    n = len(unit)
    k = min(k, n - 1)
    ids = np.zeros((n, k), np.int64)
    sims = np.zeros((n, k), np.float32)
    if n <= exact_up_to:
        everyone = np.arange(n)
        for lo in range(0, n, block):
            rows = everyone[lo : lo + block]
            ids[rows], sims[rows] = _best(unit[rows], rows, unit, everyone, k)
        return ids, sims
    index = IVFIndex.build(unit, np.zeros(n, np.float32))
    n_probe = min(NEIGHBOUR_PROBE, len(index.centres))
    for c in range(len(index.centres)):
        rows = index.rows[index.starts[c] : index.starts[c + 1]].astype(np.int64)
        if len(rows) == 0:
            continue
        probed = index.probe(index.centres[c, :-1], n_probe)
        if c not in probed:  # a cluster's own rows are always candidates
            probed = np.append(probed, c)
        spans = [(int(index.starts[p]), int(index.starts[p + 1])) for p in probed]
        candidates = np.concatenate([index.rows[lo:hi] for lo, hi in spans]).astype(np.int64)
        table = np.concatenate([index.table[lo:hi, :-1] for lo, hi in spans])
        for lo in range(0, len(rows), block):
            part = rows[lo : lo + block]
            ids[part], sims[part] = _best(unit[part], part, table, candidates, k)
    return ids, sims


def _best(
    queries: np.ndarray, rows: np.ndarray, table: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``candidates`` (rows of ``table``) for each query row, itself excluded,
    nearest first; a query with fewer than ``k`` candidates pads with its own row at -1."""
    scores = queries @ table.T
    scores[candidates[None, :] == rows[:, None]] = -np.inf
    if scores.shape[1] < k:
        pad = np.full((len(rows), k - scores.shape[1]), -np.inf, np.float32)
        scores = np.hstack([scores, pad])
        candidates = np.concatenate([candidates, np.full(k - len(candidates), -1)])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    best = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-best, axis=1, kind="stable")
    top, best = np.take_along_axis(top, order, axis=1), np.take_along_axis(best, order, axis=1)
    found = candidates[top]
    missing = ~np.isfinite(best)
    return np.where(missing, rows[:, None], found), np.where(missing, -1.0, best)
