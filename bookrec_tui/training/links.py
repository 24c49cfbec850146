"""Book-to-book links from sparse co-counts: the item-to-item part of the ranking.

Each book gets at most ``m`` outgoing links (to the books its readers also read) with a
weight fitted by a small ridge regression per target book: for target ``t`` the candidates
are the ``candidates`` books most often rated together with it (twice ``m`` by default), and
their weights predict the (star-weighted) column of ``t`` from theirs. This is EASE (Steck
2019) restricted to each book's own neighbourhood; a source book then keeps its ``m``
strongest positive links. It needs ``n`` solves of ``candidates x candidates`` systems and
the co-counts they read, from the sparse reader x book matrix X: X^T X's rows are made once,
a block of target books at a time (``X[:, T]^T X``: each block's rows pick its targets'
candidates), and their upper triangles kept as float32 CSR (half of X^T X's non-zeros at
8 bytes: 1.05 GB at 100k synthetic books, where the float64 X^T X is 3.1 GB); each group of
targets then gathers its candidates' Gram matrices from them. Nothing of size books x books
is ever dense, each co-count is the float64 sum over the same readers in the same order as
in X^T X, rounded once to float32, so the table does not depend on the block or the group.
numpy and scipy only (no TensorFlow).

Measured on goodbooks-10k (docs/benchmarks.md): with 200 candidates the table holds 80 % of
full EASE's top-100 links and ranks cold-start validation readers as well as EASE's top 100
does; with 100 candidates, 63 %.
"""

from __future__ import annotations

import bisect
import contextlib

import numpy as np

from bookrec_tui.core.scoring import spread_links
from bookrec_tui.training.interactions import UserItems

#: A group of target books' candidate Gram matrices is gathered at once in about this many
#: bytes (float32): fewer groups means fewer passes over the co-count matrix.
GROUP_BYTES = 256 * 2**20

#: The gather spreads this many bytes of X^T X's rows densely at a time (float32).
SLAB_BYTES = 64 * 2**20


def co_counts(items: UserItems, n_books: int, star_weights=None):
    """X^T X as a sparse CSR matrix (float64): how much each pair of books is read together
    (the whole of it, for tests and benchmarks: :func:`link_table` keeps its upper half)."""
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


class _CoCountRows:
    """X^T X's upper triangle (each row's columns from its own on), made once a block of
    rows at a time and kept as float32 CSR (each float64 sum rounded once, exactly as the
    solves read it): every group's gather reads it, so no co-count is summed twice. 8 bytes
    a kept non-zero (X^T X's 262M non-zeros at 100k synthetic books: 1.05 GB)."""

    def __init__(self, n_books: int) -> None:
        self.n_books = n_books
        self.starts: list[int] = []
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, first: int, rows) -> None:
        """Rows ``first``, ``first + 1``, ... (CSR, sorted columns), after the last block;
        the entries left of the diagonal are dropped (G is symmetric)."""
        self.starts.append(first)
        row = np.repeat(np.arange(first, first + rows.shape[0]), np.diff(rows.indptr))
        upper = rows.indices >= row
        indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(row[upper] - first, minlength=rows.shape[0]))]
        )
        self.blocks.append(
            (indptr, rows.indices[upper].astype(np.int32), rows.data[upper].astype(np.float32))
        )

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes + i.nbytes + d.nbytes for p, i, d in self.blocks)

    def pieces(self, books: np.ndarray, size: int):
        """``books`` (increasing) in runs of at most ``size`` that each lie in one block."""
        bounds = np.searchsorted(books, self.starts[1:])
        for run in np.split(books, bounds):
            for k in range(0, len(run), size):
                yield run[k : k + size]

    def entries(self, books: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored entries of rows ``books`` (increasing, one block): each one's position
        in ``books``, its column and its value."""
        b = bisect.bisect_right(self.starts, int(books[0])) - 1
        indptr, indices, data = self.blocks[b]
        local = books - self.starts[b]
        first, lengths = indptr[local], indptr[local + 1] - indptr[local]
        owner = np.repeat(np.arange(len(books)), lengths)
        at = np.arange(len(owner)) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
        return owner, indices[at], data[at]


def _candidate_grams(
    rows: _CoCountRows, cc: np.ndarray, targets: np.ndarray, slab_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each target t and its candidates ``cc[k]`` (increasing, -1 past the last),
    G[C_t, C_t]'s upper triangle (zeros below it) and G[C_t, t] ((T, c, c) and (T, c);
    entries past a target's last candidate are junk).

    Looking every entry up in a sparse row costs a binary search each (c^2 per target);
    instead the rows some target of the group needs are spread ``slab_rows`` at a time over
    a dense (slab_rows, n) slab, and every request for a row in it is one gather. Only the
    upper triangle is stored, so G[u, t] is read from row u when u < t and from row t
    when t < u: one of the two reads is the value, the other an exact 0."""
    c = cc.shape[1]
    sub = np.zeros((len(targets), c, c), np.float32)
    rhs = np.zeros((len(targets), c), np.float32)
    flat = cc.ravel()
    asked = np.flatnonzero(flat >= 0)
    asked = asked[np.argsort(flat[asked], kind="stable")]  # requests by the row they read
    asked_rows = flat[asked]
    by_target = np.argsort(targets, kind="stable")
    sorted_targets = targets[by_target]
    slab = np.zeros((slab_rows, rows.n_books), np.float32)
    for books in rows.pieces(np.union1d(asked_rows, targets), slab_rows):
        owner, cols, vals = rows.entries(books)
        slab[owner, cols] = vals
        lo, hi = np.searchsorted(asked_rows, [books[0], books[-1] + 1])
        tt, ii = np.divmod(asked[lo:hi], c)
        slot = np.searchsorted(books, asked_rows[lo:hi])
        sub[tt, ii] = slab[slot[:, None], cc[tt]]
        rhs[tt, ii] += slab[slot, targets[tt]]  # G[u, t], u < t
        lo, hi = np.searchsorted(sorted_targets, [books[0], books[-1] + 1])
        inside = by_target[lo:hi]
        rhs[inside] += slab[np.searchsorted(books, targets[inside])[:, None], cc[inside]]
        slab[owner, cols] = 0.0
    return sub, rhs


def _ridge(sub: np.ndarray, rhs: np.ndarray, sizes: np.ndarray, lam: float) -> np.ndarray:
    """(G_CC + lam I)^-1 G_Ct for each target over its first ``sizes[k]`` candidates, by
    Cholesky (LAPACK posv: half the work of the LU in ``np.linalg.solve``), from G_CC's
    upper triangle."""
    from scipy.linalg import lapack  # loaded before _single_threaded_blas: see there

    out = np.zeros(rhs.shape)
    for k, size in enumerate(sizes):
        if size == 0:
            continue
        a = sub[k, :size, :size].astype(np.float64)
        a[np.diag_indices(size)] += lam
        _, x, info = lapack.dposv(a, rhs[k, :size].astype(np.float64))  # reads a's upper half
        if info != 0:
            x = np.linalg.lstsq(a + np.triu(a, 1).T, rhs[k, :size], rcond=None)[0]
        out[k, :size] = x
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
    slab_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each book's ``m`` strongest outgoing links and their weights.

    Returns ids (row + 1, 0 = none) and weights, both (n_books + 1, m); row 0 is padding, so
    the tables index like the model's other per-book tables. Only positive weights are kept.
    Each target is regressed on its ``candidates`` (default ``2 m``) most co-read books.
    X^T X's rows are made ``chunk`` targets at a time (default: as many as a solve group),
    each once; the solves are gathered GROUP_BYTES at a time; ``slab_rows`` rows of X^T X
    are spread densely at once for the gather (default: SLAB_BYTES' worth).
    """
    ids = np.zeros((n_books + 1, m), dtype=np.int32)
    weights = np.zeros((n_books + 1, m), dtype=np.float32)
    if m == 0 or n_books < 2:
        return ids, weights
    x = items.matrix(n_books, star_weights).astype(np.float64)
    readers_of = x.T.tocsr()  # book x reader: row t @ x is t's row of X^T X
    c = min(candidates or 2 * m, n_books - 1)
    group = max(1, GROUP_BYTES // (4 * c * c))
    chunk = chunk or group
    slab_rows = slab_rows or max(16, SLAB_BYTES // (4 * n_books))
    cand = np.full((n_books, c), -1, dtype=np.int32)
    co_counts = _CoCountRows(n_books)
    for start in range(0, n_books, chunk):
        targets = np.arange(start, min(start + chunk, n_books))
        rows = (readers_of[targets] @ x).tocsr()
        rows.sort_indices()  # ties between co-counts are broken as in X^T X's rows
        cand[targets] = _candidates(rows, start, c)
        co_counts.add(start, rows)
        del rows
    del x, readers_of
    solved = np.zeros((n_books, c))
    sizes = (cand >= 0).sum(axis=1)
    with _single_threaded_blas():
        for start in range(0, n_books, group):
            targets = np.arange(start, min(start + group, n_books))
            sub, rhs = _candidate_grams(co_counts, cand[targets], targets, slab_rows)
            solved[targets] = _ridge(sub, rhs, sizes[targets], lam)
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
