"""Ranking never hands back what it was told to leave out."""

from __future__ import annotations

import numpy as np

from bookrec_tui.core.metrics import top_n


def test_top_n_never_returns_an_excluded_index_even_when_n_is_larger():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    top = top_n(scores, np.array([0, 2, 4]), 10)
    assert top.tolist() == [1, 3]
    assert top_n(scores, np.arange(5), 3).tolist() == []


def test_recommend_with_n_above_the_unrated_count_skips_rated_books(tiny_rec):
    rec = tiny_rec
    ids = rec.catalogue.book_ids
    rated = {int(b): int(b) % 5 + 1 for b in ids[:-3]}  # every book but three
    recs = rec.recommend(rated, n=50)
    # At most those three (one may be read by implication: an earlier series entry, or a
    # book inside a rated omnibus), never a rated one.
    assert recs and {r.book_id for r in recs} <= {int(b) for b in ids[-3:]}
