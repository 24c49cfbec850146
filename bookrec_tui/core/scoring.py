"""Fold-in and scoring for a reader who is not in the training data, in numpy.

The reader's ratings go through the same user tower the Keras model trained (a star-weighted
bag of book embeddings), so folding in is one small weighted sum and ranking all books is a
single (N, d) @ (d,) product: well under a millisecond.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from bookrec_tui.core.bundle import Bundle

#: Up to this many books a catalogue-long scratch array (a bincount, a row -> column table)
#: is the cheapest way to gather the links' share for a few books; past it, sorting the few
#: books is (at a million books the scratch arrays cost milliseconds per request).
SCRATCH_UP_TO = 200_000


def spread_links(ids: np.ndarray, weights: np.ndarray, n_books: int) -> np.ndarray:
    """Each book's sum of the link weights that point at it: ``ids`` (book row + 1, 0 = no
    link) and ``weights`` of the same shape, e.g. the rated books' rows of a link table.
    Returns (n_books,) float32."""
    return np.bincount(ids.ravel(), weights=weights.ravel(), minlength=n_books + 1)[1:].astype(
        np.float32
    )


@runtime_checkable
class Scorer(Protocol):
    """What `bookrec-tui evaluate` asks of every method it compares (our model, popularity,
    EASE, the tutorial model): given one reader's ratings as catalogue rows and 1..5 stars,
    a ranking score for every book, and predicted stars for ``targets``."""

    def rank_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """One score per catalogue row, higher first (only the order matters)."""
        ...

    def predict_stars(
        self, rows: np.ndarray, stars: np.ndarray, targets: np.ndarray
    ) -> np.ndarray | None:
        """Predicted 1..5 stars for the ``targets`` rows; None for a method that only ranks."""
        ...


class FoldInScorer:
    """Scores every book for one reader given their (row, stars) ratings (a :class:`Scorer`)."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        # Contiguous float32 copies without the padding row, for fast products.
        self.out_emb = np.ascontiguousarray(bundle.out_emb[1:], dtype=np.float32)
        self.out_bias = np.ascontiguousarray(bundle.out_bias[1:], dtype=np.float32)
        self.rate_emb = np.ascontiguousarray(bundle.rate_emb[1:], dtype=np.float32)
        self.item_bias = np.ascontiguousarray(bundle.item_bias[1:], dtype=np.float32)
        self.n_books = self.out_emb.shape[0]
        axis = bundle.pop_axis
        self.pop_axis = (
            None
            if axis is None or not np.any(axis)
            else np.ascontiguousarray(axis[1:], dtype=np.float32)
        )

    def _inputs(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """Per-rating input vectors v_j = in_emb[row+1] * (1 + star_mod[stars])."""
        return self.bundle.in_emb[rows + 1] * (1.0 + self.bundle.star_mod[stars])

    def user_vectors(
        self, rows: np.ndarray, stars: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(ranking vector, rating vector, star bias) for a reader."""
        rows = np.asarray(rows, dtype=np.int64)
        stars = np.asarray(stars, dtype=np.int64)
        n = len(rows)
        d = self.bundle.dim
        if n == 0:  # the rating vector has the rating head's width, not the ranking's
            return np.zeros(d, np.float32), np.zeros(self.rate_emb.shape[1], np.float32), 0.0
        total, u_rank = self._folded(rows, stars)
        resid = stars - self.bundle.mu - self.item_bias[rows]
        b_u = float(resid.sum() / (n + self.bundle.user_bias_reg))
        u_rate = (total / n) @ self.bundle.rate_proj + (
            self.bundle.rate_in[rows + 1] * (resid - b_u)[:, None]
        ).sum(axis=0) / np.sqrt(n)
        return u_rank, u_rate.astype(np.float32), b_u

    def _folded(self, rows: np.ndarray, stars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum of the input vectors, ranking vector = that sum / n**alpha) of a reader's
        non-empty int64 ``rows`` and ``stars``: the rating vector starts from the same sum."""
        total = self._inputs(rows, stars).sum(axis=0)
        return total, (total / len(rows) ** self.bundle.alpha).astype(np.float32)

    def neighbor_weights(
        self, rows: np.ndarray, stars: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Item-to-item head: (target ids, weights), each (n, M), already divided by n**alpha."""
        rows = np.asarray(rows, dtype=np.int64)
        w = (
            self.bundle.nbr_w[rows + 1]
            * self.bundle.star_nbr[np.asarray(stars, dtype=np.int64)][:, None]
        )
        return self.bundle.nbr_ids[rows + 1], w / max(len(rows), 1) ** self.bundle.alpha

    def embedding_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """The embedding part of the ranking: book vectors @ reader vector (+ book bias and
        the reader's popularity lean)."""
        scores = self.vector_scores(rows, stars) + self.out_bias
        if self.pop_axis is not None:
            scores += np.float32(self.popularity_lean(rows, stars)) * self.pop_axis
        return scores

    def popularity_lean(self, rows: np.ndarray, stars: np.ndarray) -> float:
        """The reader's place on the bundle's popularity axis (0 without one): their rated
        books' places weighted by the input star weights (``1 + star_mod``), summed and
        divided by the square root of the summed weights. Every book's score gains its own
        place times this, so a reader of famous books gets famous books lifted and a reader
        of little-known ones gets those, and the term grows with the revealed books as
        sqrt(n) (one book cannot swamp the vectors; a fixed per-book bias would)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.pop_axis is None or len(rows) == 0:
            return 0.0
        weights = 1.0 + self.bundle.star_mod[np.asarray(stars, dtype=np.int64)].mean(axis=1)
        total = float(weights.sum())
        if total <= 0:
            return 0.0
        return float(weights @ self.pop_axis[rows]) / np.sqrt(total)

    def vector_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """Book vectors @ reader vector alone: the embedding part without the per-book bias
        (the embedding model's popularity term), what "the embeddings alone" rank by."""
        return self.out_emb @ self.ranking_query(rows, stars)

    def link_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """The item-to-item part of the ranking: the rated books' links, summed per book."""
        if not (self.bundle.nbr_ids.shape[1] and len(rows)):
            return np.zeros(self.n_books, np.float32)
        return spread_links(*self.neighbor_weights(rows, stars), self.n_books)

    def rank_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """Ranking logits for all books (higher = more likely to be read and liked)."""
        return self.embedding_scores(rows, stars) + self.link_scores(rows, stars)

    # ---- scoring a subset of books (large catalogues; see core/vector_index.py)
    def ranking_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(book vectors, bias): :meth:`rank_scores` is ``vectors @ ranking_query + bias``
        plus the item-to-item links of the rated books (:meth:`linked_rows`) and the
        reader's :meth:`popularity_lean` times :attr:`pop_axis` (when the bundle has one:
        a vector index over this table does not see that term; the exact scores of its
        candidates do)."""
        return self.out_emb, self.out_bias

    def ranking_query(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        """The reader's ranking vector alone (:meth:`user_vectors`' first part, without the
        rating vector)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros(self.bundle.dim, np.float32)
        return self._folded(rows, np.asarray(stars, dtype=np.int64))[1]

    def linked_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows the rated books link to: the only books whose score the links change."""
        ids = self.bundle.nbr_ids[np.asarray(rows, dtype=np.int64) + 1].ravel()
        return np.unique(ids[ids > 0]).astype(np.int64) - 1

    def rank_scores_at(
        self,
        rows: np.ndarray,
        stars: np.ndarray,
        targets: np.ndarray,
        query: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`rank_scores` of ``targets`` only (same float32 arithmetic). ``query`` is
        the reader's :meth:`ranking_query` when the caller already has it."""
        targets = np.asarray(targets, dtype=np.int64)
        u_rank = self.ranking_query(rows, stars) if query is None else query
        scores = self.out_emb[targets] @ u_rank + self.out_bias[targets]
        if self.pop_axis is not None:
            scores += np.float32(self.popularity_lean(rows, stars)) * self.pop_axis[targets]
        if self.bundle.nbr_ids.shape[1] and len(rows):
            ids, w = self.neighbor_weights(rows, stars)
            scores += _sums_at(ids.ravel() - 1, w.ravel(), targets).astype(np.float32)
        return scores

    def predict_stars(
        self, rows: np.ndarray, stars: np.ndarray, targets: np.ndarray | None = None
    ) -> np.ndarray:
        """Predicted 1..5 stars for ``targets`` (all books when None)."""
        _, u_rate, b_u = self.user_vectors(rows, stars)
        emb = self.rate_emb if targets is None else self.rate_emb[targets]
        bias = self.item_bias if targets is None else self.item_bias[targets]
        pred = self.bundle.mu + bias + b_u + emb @ u_rate
        rows = np.asarray(rows, dtype=np.int64)
        if self.bundle.nbr_ids.shape[1] and len(rows):
            surprise = (np.asarray(stars) - self.bundle.mu - self.item_bias[rows] - b_u) / np.sqrt(
                len(rows)
            )
            w = self.bundle.nbr_rate[rows + 1] * surprise[:, None]
            ids = self.bundle.nbr_ids[rows + 1].ravel()
            if targets is None or self.n_books <= SCRATCH_UP_TO:
                carried = np.bincount(ids, weights=w.ravel(), minlength=self.n_books + 1)[1:]
                pred = pred + (carried if targets is None else carried[targets])
            else:
                pred = pred + _sums_at(ids - 1, w.ravel(), np.asarray(targets, dtype=np.int64))
        return np.clip(pred, 1.0, 5.0)

    def contributions(self, rows: np.ndarray, stars: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(n ratings, t targets): how much each rating adds to each target's ranking score
        (the user-tower term plus the item-to-item links; the scores' other parts, the
        per-book bias and the popularity lean, are about the books' fame, not about what
        one rated book shares with a target)."""
        rows = np.asarray(rows, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, len(targets)))
        stars = np.asarray(stars, dtype=np.int64)
        contrib = (self._inputs(rows, stars) @ self.out_emb[targets].T).astype(np.float64)
        contrib /= len(rows) ** self.bundle.alpha
        if self.bundle.nbr_ids.shape[1]:
            ids, w = self.neighbor_weights(rows, stars)
            if self.n_books <= SCRATCH_UP_TO:
                column = np.full(self.n_books + 1, -1, dtype=np.int64)
                column[targets + 1] = np.arange(len(targets))
                cols = column[ids]
            else:
                cols = _columns(ids - 1, targets)
            hit = cols >= 0
            owner = np.broadcast_to(np.arange(len(rows))[:, None], ids.shape)
            np.add.at(contrib, (owner[hit], cols[hit]), w[hit])
        return contrib

    def explain(self, rows: np.ndarray, stars: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """For each target, the index into ``rows`` of the rating that pushed it up most."""
        if len(rows) == 0:
            return np.full(len(targets), -1)
        return self.contributions(rows, stars, targets).argmax(axis=0)


def _columns(where: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each entry of ``where``, its index in ``targets`` (distinct), or -1."""
    if len(targets) == 0:
        return np.full(where.shape, -1, dtype=np.int64)
    order = np.argsort(targets, kind="stable")
    ordered = targets[order]
    at = np.minimum(np.searchsorted(ordered, where), len(ordered) - 1)
    return np.where(ordered[at] == where, order[at], -1)


def _sums_at(where: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``np.bincount(where, weights)[targets]`` without an array as long as the catalogue
    (the float64 sums are added in the same order)."""
    distinct, back = np.unique(targets, return_inverse=True)
    cols = _columns(where, distinct)
    hit = cols >= 0
    return np.bincount(cols[hit], weights=weights[hit], minlength=len(distinct))[back]
