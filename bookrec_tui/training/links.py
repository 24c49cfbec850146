"""Book-to-book links from sparse co-counts: the item-to-item part of the ranking.

Each book gets at most ``m`` outgoing links (to the books its readers also read) with a
weight fitted by a small ridge regression per target book: for target ``t`` the candidates
are the ``m`` books most often rated together with it, and their weights predict the
(star-weighted) column of ``t`` from theirs. This is EASE (Steck 2019) restricted to each
book's own neighbourhood, so it needs the sparse co-count matrix and ``n`` solves of
``m x m`` systems: nothing of size books x books is ever dense, and the cost grows with the
catalogue, not its square. numpy and scipy only (no TensorFlow): training and evaluation
both use it.
"""

from __future__ import annotations

import contextlib

import numpy as np

from bookrec_tui.training.interactions import UserItems


def rating_matrix(items: UserItems, n_books: int, star_weights=None):
    """The reader x book matrix as scipy CSR, 1 per rating or ``star_weights[stars]``."""
    from scipy import sparse

    owner = np.repeat(np.arange(items.n_users), items.counts)
    values = (
        np.ones(len(owner), np.float32)
        if star_weights is None
        else np.asarray(star_weights, np.float32)[items.stars]
    )
    return sparse.csr_matrix((values, (owner, items.rows)), shape=(items.n_users, n_books))


def co_counts(items: UserItems, n_books: int, star_weights=None):
    """X^T X as a sparse CSR matrix (float64): how much each pair of books is read together."""
    x = rating_matrix(items, n_books, star_weights).astype(np.float64)
    return (x.T @ x).tocsr()


def _candidates(gram, m: int) -> np.ndarray:
    """For every book, the ``m`` books most read with it (itself excluded), as an (n, m)
    array of rows, -1 where a book has fewer."""
    n = gram.shape[0]
    out = np.full((n, m), -1, dtype=np.int64)
    for t in range(n):
        lo, hi = gram.indptr[t], gram.indptr[t + 1]
        cols, vals = gram.indices[lo:hi], gram.data[lo:hi]
        keep = cols != t
        cols, vals = cols[keep], vals[keep]
        if len(cols) > m:
            cols = cols[np.argpartition(-vals, m - 1)[:m]]
        out[t, : len(cols)] = np.sort(cols)
    return out


class _SparseLookup:
    """Entries of a CSR matrix by (row, col), vectorised: a binary search in its sorted
    (row * n_cols + col) keys. Absent entries read as 0."""

    def __init__(self, matrix) -> None:
        matrix.sort_indices()
        self.n_cols = matrix.shape[1]
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
        self.keys = rows * self.n_cols + matrix.indices
        self.data = matrix.data

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        wanted = np.asarray(rows, np.int64) * self.n_cols + np.asarray(cols, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        return np.where(self.keys[pos] == wanted, self.data[pos], 0.0)


def _single_threaded_blas():
    """Many small solves run ~20x faster on one BLAS thread than on several fighting over
    each 100 x 100 system (measured on the 2-core build machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def link_table(
    items: UserItems, n_books: int, m: int, lam: float, star_weights=None, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Each book's ``m`` strongest outgoing links and their weights.

    Returns ids (row + 1, 0 = none) and weights, both (n_books + 1, m); row 0 is padding, so
    the tables index like the model's other per-book tables. Only positive weights are kept.
    Target books are solved ``chunk`` at a time (``chunk * m * m`` co-counts looked up).
    """
    ids = np.zeros((n_books + 1, m), dtype=np.int32)
    weights = np.zeros((n_books + 1, m), dtype=np.float32)
    if m == 0 or n_books < 2:
        return ids, weights
    gram = co_counts(items, n_books, star_weights)
    m_eff = min(m, n_books - 1)
    cand = _candidates(gram, m_eff)
    lookup = _SparseLookup(gram)
    solved = np.zeros((n_books, m_eff))
    eye = np.eye(m_eff) * lam
    with _single_threaded_blas():
        for start in range(0, n_books, chunk):
            targets = np.arange(start, min(start + chunk, n_books))
            c = cand[targets]  # (T, m)
            valid = c >= 0
            safe = np.where(valid, c, 0)  # a missing candidate: masked out below
            sub = lookup(safe[:, :, None], safe[:, None, :])  # (T, m, m): G[c_i, c_j]
            sub = np.where(valid[:, :, None] & valid[:, None, :], sub, 0.0) + eye[None]
            rhs = np.where(valid, lookup(safe, targets[:, None]), 0.0)  # G[c_i, t]
            solved[targets] = np.linalg.solve(sub, rhs[..., None])[..., 0]
    t_idx = np.repeat(np.arange(n_books), m_eff)
    src, val = cand.ravel(), solved.ravel()
    ok = (src >= 0) & (val > 0)
    src, dst, val = src[ok], t_idx[ok], val[ok]
    # Outgoing view: for every source book, its strongest ``m`` links.
    order = np.lexsort((-val, src))
    src, dst, val = src[order], dst[order], val[order]
    starts = np.searchsorted(src, np.arange(n_books + 1))
    rank = np.arange(len(src)) - starts[src]
    keep = rank < m
    ids[src[keep] + 1, rank[keep]] = dst[keep] + 1
    weights[src[keep] + 1, rank[keep]] = val[keep]
    return ids, weights


def link_scores(
    ids: np.ndarray, weights: np.ndarray, rows: np.ndarray, scale: np.ndarray | None = None
) -> np.ndarray:
    """Sum of the rated books' outgoing link weights onto every book: (n_books,).

    ``ids``/``weights`` are the (n_books + 1, m) tables; ``scale`` multiplies each rated
    book's links (per-star weight), one value per entry of ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    n = ids.shape[0]
    if len(rows) == 0 or ids.shape[1] == 0:
        return np.zeros(n - 1, np.float32)
    w = weights[rows + 1]
    if scale is not None:
        w = w * np.asarray(scale, np.float32)[:, None]
    return np.bincount(ids[rows + 1].ravel(), weights=w.ravel(), minlength=n)[1:].astype(np.float32)
