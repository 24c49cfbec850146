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
from scipy import sparse

#: Catalogues up to this many books are scored exactly (every book, every request).
EXACT_UP_TO = 200_000
#: Clusters scanned per query; with ~sqrt(n) clusters about N_PROBE / sqrt(n) of the books.
N_PROBE = 48
#: Bump when the layout or the clustering changes (indexes are cached per bundle file).
INDEX_VERSION = 1


@dataclass(frozen=True)
class IVFIndex:
    """``rows`` holds every book row grouped by cluster (cluster ``c`` is
    ``rows[starts[c]:starts[c + 1]]``, in row order), ``centres`` each cluster's mean of
    the vectors with the bias as one more column."""

    centres: np.ndarray  # (n_lists, d + 1) float32
    starts: np.ndarray  # (n_lists + 1,) int64
    rows: np.ndarray  # (n,) int32

    FILES = ("centres", "starts", "rows")

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
        return cls(centres, starts, order)

    def probe(self, query: np.ndarray, n_probe: int | None = None) -> np.ndarray:
        """Rows of the ``n_probe`` (default :data:`N_PROBE`) clusters whose centres score
        highest for ``query``."""
        q = np.append(np.asarray(query, np.float32), np.float32(1.0))
        fit = self.centres @ q
        n_probe = min(n_probe or N_PROBE, len(fit))
        best = np.argpartition(-fit, n_probe - 1)[:n_probe]
        return np.concatenate([self.rows[self.starts[c] : self.starts[c + 1]] for c in best])

    def top(
        self,
        vectors: np.ndarray,
        bias: np.ndarray,
        query: np.ndarray,
        k: int,
        n_probe: int | None = None,
    ) -> np.ndarray:
        """About the ``k`` rows with the highest ``vectors @ query + bias`` (unordered),
        scoring only the probed clusters' rows."""
        rows = np.sort(self.probe(query, n_probe))  # ascending rows: fewer pages touched
        scores = vectors[rows] @ np.asarray(query, np.float32) + bias[rows]
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
