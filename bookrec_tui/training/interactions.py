"""Per-user rating lists in CSR form, and the reveal/hide sampling used for training.

Rows index the catalogue (0..n_books-1); the model reserves index 0 for padding, so model
item ids are ``row + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bookrec_tui.core.catalogue import Catalogue, Ratings

#: The stars code of a book the reader shelved to read (not read, not rated) in a row: a
#: target of the embedding table (``EmbeddingConfig.to_read_weight``), never an input; only
#: the rows the book table trains on hold it (not the links', not the rating head's).
TO_READ = 6


@dataclass(frozen=True)
class UserItems:
    indptr: np.ndarray  # int64, n_users + 1
    rows: np.ndarray  # int32 catalogue rows, grouped by user
    stars: np.ndarray  # int8
    user_ids: np.ndarray  # original user id of each CSR user

    @property
    def n_users(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def user(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[u], self.indptr[u + 1]
        return self.rows[lo:hi], self.stars[lo:hi]

    def select(self, users: np.ndarray) -> UserItems:
        """The readers ``users`` only (in that order), gathered without a Python loop."""
        lo, hi = self.indptr[users], self.indptr[users + 1]
        counts = hi - lo
        take = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return UserItems(indptr, self.rows[take], self.stars[take], self.user_ids[users])

    def matrix(self, n_books: int, star_weights=None):
        """The reader x book matrix as scipy CSR (float32): 1 per rating, or
        ``star_weights[stars]``."""
        from scipy import sparse

        owner = np.repeat(np.arange(self.n_users), self.counts)
        values = (
            np.ones(len(owner), np.float32)
            if star_weights is None
            else np.asarray(star_weights, np.float32)[self.stars]
        )
        return sparse.csr_matrix((values, (owner, self.rows)), shape=(self.n_users, n_books))

    def with_shelved(self, user_ids: np.ndarray, rows: np.ndarray, code: int) -> UserItems:
        """These readers with more books appended to their rows as stars ``code`` (a book read
        without a rating, or shelved to read): (reader ids, catalogue rows) pairs of readers
        not here, books already in the reader's row and repeats are dropped; readers keep
        their positions."""
        user_ids, rows = np.asarray(user_ids, np.int64), np.asarray(rows, np.int64)
        order = np.argsort(self.user_ids, kind="stable")
        where = np.minimum(np.searchsorted(self.user_ids, user_ids, sorter=order), len(order) - 1)
        known = self.user_ids[order[where]] == user_ids
        owner, rows = order[where[known]], rows[known]
        span = max(int(rows.max(initial=0)), int(self.rows.max(initial=0))) + 1
        owners = np.repeat(np.arange(self.n_users), self.counts)  # each held rating's reader
        pairs = np.unique(owner * span + rows)
        pairs = pairs[~np.isin(pairs, owners * span + self.rows)]
        owner = np.concatenate([owners, pairs // span])
        all_rows = np.concatenate([self.rows, (pairs % span).astype(self.rows.dtype)])
        stars = np.concatenate([self.stars, np.full(len(pairs), code, self.stars.dtype)])
        regroup = np.argsort(owner, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=self.n_users))])
        return UserItems(indptr.astype(np.int64), all_rows[regroup], stars[regroup], self.user_ids)

    @classmethod
    def build(cls, ratings: Ratings, catalogue: Catalogue) -> UserItems:
        order = np.argsort(ratings.user_ids, kind="stable")
        users = ratings.user_ids[order]
        uniq, starts = np.unique(users, return_index=True)
        indptr = np.append(starts, len(users)).astype(np.int64)
        return cls(indptr, catalogue.rows(ratings.book_ids[order]), ratings.stars[order], uniq)


def validation_readers(items: UserItems, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` readers with >= 20 ratings (at most a tenth of them), sorted: held out of
    training to choose settings on. One draw from ``rng``."""
    eligible = np.flatnonzero(items.counts >= 20)
    return np.sort(rng.choice(eligible, min(count, len(eligible) // 10), replace=False))


def reveal_split(
    items: UserItems,
    reveal_counts: np.ndarray,
    rng: np.random.Generator,
    max_len: int,
    max_inputs: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle each user's ratings; the first ``reveal_counts[u]`` are inputs, the rest targets.

    Returns padded arrays: input ids and stars (n_users, ``max_inputs``, default
    ``max_len``), target ids and stars (n_users, max_len), with ids as ``row + 1`` and 0 for
    padding. Fully vectorised (no per-user Python loop).
    """
    max_inputs = max_len if max_inputs is None else max_inputs
    n = items.n_users
    counts = items.counts
    owner = np.repeat(np.arange(n), counts)
    order = np.lexsort((rng.random(len(owner)), owner))
    pos = np.arange(len(owner)) - items.indptr[owner]
    ids = items.rows[order].astype(np.int32) + 1
    stars = items.stars[order].astype(np.int32)
    k = reveal_counts[owner]
    in_ids, in_stars = (np.zeros((n, max_inputs), np.int32) for _ in range(2))
    out_ids, out_stars = (np.zeros((n, max_len), np.int32) for _ in range(2))
    rev = (pos < k) & (pos < max_inputs)
    in_ids[owner[rev], pos[rev]] = ids[rev]
    in_stars[owner[rev], pos[rev]] = stars[rev]
    tpos = pos - k
    hid = (tpos >= 0) & (tpos < max_len)
    out_ids[owner[hid], tpos[hid]] = ids[hid]
    out_stars[owner[hid], tpos[hid]] = stars[hid]
    return in_ids, in_stars, out_ids, out_stars


def sample_reveal_counts(
    counts: np.ndarray, small_reveal_max: int, small_reveal_prob: float, rng
) -> np.ndarray:
    """How many of each reader's ratings to reveal this epoch (at least 1, at most n-1): with
    probability ``small_reveal_prob`` a cold-start handful (1..small_reveal_max), else a
    random 20-90 % of them, so training sees the few-ratings readers the app serves."""
    n = counts.astype(np.int64)
    small = rng.integers(1, small_reveal_max + 1, size=len(n))
    frac = np.rint(rng.uniform(0.2, 0.9, size=len(n)) * n).astype(np.int64)
    k = np.where(rng.random(len(n)) < small_reveal_prob, small, frac)
    return np.clip(k, 1, np.maximum(n - 1, 1))
