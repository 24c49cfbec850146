"""Book-to-book links from sparse co-counts: the item-to-item part of the ranking.

Each book gets at most ``m`` outgoing links (to the books its readers also read) with a
weight fitted by a small ridge regression per target book: for target ``t`` the candidates
are the ``candidates`` books most often rated together with it (twice ``m`` by default), and
their weights predict the (star-weighted) column of ``t`` from theirs. This is EASE (Steck
2019) restricted to each book's own neighbourhood; a source book then keeps its ``m``
strongest positive links. It needs ``n`` solves of ``candidates x candidates`` systems and
the co-counts they read, made a chunk of target books at a time from the sparse reader x
book matrix X: the chunk's rows of X^T X (to pick candidates), then the co-counts among the
chunk's targets and candidates, X[:, U]^T X[:, U]. Past WHOLE_GRAM_BYTES the whole X^T X
is never held (262M non-zeros, ~3 GB, at 100k synthetic books; goodbooks-10k is built in
one chunk), nothing of size books x books is ever dense,
and each entry is the same float64 sum as in X^T X, so the table does not depend on the
chunk. numpy and scipy only (no TensorFlow).

Measured on goodbooks-10k (docs/benchmarks.md): with 200 candidates the table holds 80 % of
full EASE's top-100 links and ranks cold-start validation readers as well as EASE's top 100
does; with 100 candidates, 63 %.
"""

from __future__ import annotations

import contextlib

import numpy as np

from bookrec_tui.core.scoring import spread_links
from bookrec_tui.training.interactions import UserItems

#: A group of target books' candidate Gram matrices is gathered at once in about this many
#: bytes (float32): fewer groups means fewer passes over the co-count matrix.
GROUP_BYTES = 256 * 2**20

#: Up to about this many bytes of co-counts (float64 values and int32 indices) the whole
#: X^T X is made at once: chunking it only costs time (each chunk's candidates span most of
#: the catalogue, so X[:, U]^T X[:, U] is nearly all of X^T X again; goodbooks-10k: at most
#: 55M co-counts, 1.6x slower in 6 chunks). Above it, a chunk of targets at a time.
WHOLE_GRAM_BYTES = 2 * 2**30


def co_counts(items: UserItems, n_books: int, star_weights=None):
    """X^T X as a sparse CSR matrix (float64): how much each pair of books is read together
    (the whole of it, for tests and benchmarks: :func:`link_table` makes it by chunks)."""
    x = items.matrix(n_books, star_weights).astype(np.float64)
    return (x.T @ x).tocsr()


def _candidates(rows, first: int, count: int) -> np.ndarray:
    """For each of ``rows`` (the co-count rows of books ``first``, ``first + 1``, ...), the
    ``count`` books most read with it (itself excluded), as a (len, count) array of rows in
    increasing order, -1 (at the end) where a book has fewer."""
    out = np.full((rows.shape[0], count), -1, dtype=np.int64)
    for k in range(rows.shape[0]):
        lo, hi = rows.indptr[k], rows.indptr[k + 1]
        cols, vals = rows.indices[lo:hi], rows.data[lo:hi]
        keep = cols != first + k
        cols, vals = cols[keep], vals[keep]
        if len(cols) > count:
            cols = cols[np.argpartition(-vals, count - 1)[:count]]
        out[k, : len(cols)] = np.sort(cols)
    return out


def _candidate_grams(
    gram, cc: np.ndarray, targets: np.ndarray, slab_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each target t (a row of ``gram``) and its candidates ``cc[k]`` (rows of ``gram``,
    -1 past the last), G[C_t, C_t] and G[C_t, t] ((T, c, c) and (T, c); entries past a
    target's last candidate are junk).

    Looking every entry up in the sparse matrix costs a binary search each (c^2 per target);
    instead ``slab_rows`` rows of G at a time are spread over a dense (slab_rows, n) slab
    and every candidate row that falls in it is read with one gather."""
    n = gram.shape[0]
    c = cc.shape[1]
    sub = np.zeros((len(targets), c, c), np.float32)
    rhs = np.zeros((len(targets), c), np.float32)
    slab = np.zeros((min(slab_rows, n), n), np.float32)
    for r0 in range(0, n, slab_rows):
        r1 = min(r0 + slab_rows, n)
        lo, hi = gram.indptr[r0], gram.indptr[r1]
        owner = np.repeat(np.arange(r1 - r0), np.diff(gram.indptr[r0 : r1 + 1]))
        cols = gram.indices[lo:hi]
        slab[owner, cols] = gram.data[lo:hi]
        tt, ii = np.nonzero((cc >= r0) & (cc < r1))  # candidate rows in this slab
        sub[tt, ii] = slab[(cc[tt, ii] - r0)[:, None], cc[tt]]
        inside = np.flatnonzero((targets >= r0) & (targets < r1))  # G is symmetric
        rhs[inside] = slab[(targets[inside] - r0)[:, None], cc[inside]]
        slab[owner, cols] = 0.0
    return sub, rhs


def _chunk_grams(x_csc, cand: np.ndarray, targets: np.ndarray):
    """The co-counts a chunk of targets needs without the whole X^T X: those among the
    chunk's books U (its targets and all their candidates), X[:, U]^T X[:, U], each entry
    summed over the same readers in the same order as in X^T X (so the same float64
    value); with the candidates and targets as rows of it, for :func:`_candidate_grams`."""
    union = np.union1d(cand[cand >= 0], targets)
    x_u = x_csc[:, union]
    gram = (x_u.T @ x_u).tocsr()
    local = np.where(cand >= 0, np.searchsorted(union, cand), -1)
    return gram, local, np.searchsorted(union, targets)


def _ridge(sub: np.ndarray, rhs: np.ndarray, sizes: np.ndarray, lam: float) -> np.ndarray:
    """(G_CC + lam I)^-1 G_Ct for each target over its first ``sizes[k]`` candidates, by
    Cholesky (LAPACK posv: half the work of the LU in ``np.linalg.solve``)."""
    from scipy.linalg import lapack  # loaded before _single_threaded_blas: see there

    out = np.zeros(rhs.shape)
    for k, size in enumerate(sizes):
        if size == 0:
            continue
        a = sub[k, :size, :size].astype(np.float64)
        a[np.diag_indices(size)] += lam
        _, x, info = lapack.dposv(a, rhs[k, :size].astype(np.float64), overwrite_a=True)
        out[k, :size] = x if info == 0 else np.linalg.lstsq(a, rhs[k, :size], rcond=None)[0]
    return out


def _single_threaded_blas():
    """Many small solves run ~20x faster on one BLAS thread than on several fighting over
    each 100 x 100 system (measured on the 2-core build machine). threadpoolctl limits the
    BLAS libraries loaded when it is entered, so scipy's LAPACK is imported first (left
    out, the solves of 200 candidates took 154 s instead of 5 under load)."""
    import scipy.linalg.lapack  # noqa: F401  (loads scipy's OpenBLAS)

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def link_table(
    items: UserItems,
    n_books: int,
    m: int,
    lam: float,
    star_weights=None,
    candidates: int | None = None,
    chunk: int | None = None,
    slab_rows: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Each book's ``m`` strongest outgoing links and their weights.

    Returns ids (row + 1, 0 = none) and weights, both (n_books + 1, m); row 0 is padding, so
    the tables index like the model's other per-book tables. Only positive weights are kept.
    Each target is regressed on its ``candidates`` (default ``2 m``) most co-read books;
    ``chunk`` targets are built at a time (default: as many as fit in GROUP_BYTES): memory
    is bounded by a chunk's co-counts and the (n_books, candidates) weights, not X^T X.
    """
    ids = np.zeros((n_books + 1, m), dtype=np.int32)
    weights = np.zeros((n_books + 1, m), dtype=np.float32)
    if m == 0 or n_books < 2:
        return ids, weights
    x = items.matrix(n_books, star_weights).astype(np.float64)
    readers_of = x.T.tocsr()  # book x reader: row t @ x is t's row of X^T X
    x_csc = x.tocsc()
    c = min(candidates or 2 * m, n_books - 1)
    group = max(1, GROUP_BYTES // (4 * c * c))
    # An upper bound on X^T X's non-zeros: one product per pair of books a reader rated.
    whole = int((items.counts.astype(np.int64) ** 2).sum()) * 12 <= WHOLE_GRAM_BYTES
    chunk = chunk or (n_books if whole else group)
    cand = np.full((n_books, c), -1, dtype=np.int64)
    solved = np.zeros((n_books, c))
    with _single_threaded_blas():
        for start in range(0, n_books, chunk):
            targets = np.arange(start, min(start + chunk, n_books))
            rows = (readers_of[targets] @ x).tocsr()
            rows.sort_indices()  # ties between co-counts are broken as in X^T X's rows
            cand[targets] = _candidates(rows, start, c)
            del rows
            gram, local, local_targets = _chunk_grams(x_csc, cand[targets], targets)
            sizes = (cand[targets] >= 0).sum(axis=1)
            for g0 in range(0, len(targets), group):
                g = slice(g0, g0 + group)
                sub, rhs = _candidate_grams(gram, local[g], local_targets[g], slab_rows)
                solved[targets[g]] = _ridge(sub, rhs, sizes[g], lam)
    return _strongest_outgoing(cand, solved, m)


def _strongest_outgoing(cand: np.ndarray, solved: np.ndarray, m: int):
    """The (ids, weights) tables from per-target weights: every source keeps its ``m``
    largest positive links, best first."""
    n = cand.shape[0]
    ids = np.zeros((n + 1, m), dtype=np.int32)
    weights = np.zeros((n + 1, m), dtype=np.float32)
    t_idx = np.repeat(np.arange(n), cand.shape[1])
    src, val = cand.ravel(), solved.ravel()
    ok = (src >= 0) & (val > 0)
    src, dst, val = src[ok], t_idx[ok], val[ok]
    order = np.lexsort((-val, src))
    src, dst, val = src[order], dst[order], val[order]
    starts = np.searchsorted(src, np.arange(n + 1))
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
    rows = np.asarray(rows, dtype=np.int64) + 1
    w = weights[rows] if scale is None else weights[rows] * np.asarray(scale, np.float32)[:, None]
    return spread_links(ids[rows], w, ids.shape[0] - 1)
