"""Book-to-book links from sparse co-counts (links.py), on small data the tests make."""

from __future__ import annotations

import numpy as np

from bookrec_tui.training.baselines import EASE, gram_matrix
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.links import link_scores, link_table

STARS = (0.0, 0.1, 0.3, 0.6, 1.0, 1.1)


def random_items(n_users: int, n_books: int, seed: int = 0) -> UserItems:
    rng = np.random.default_rng(seed)
    lists = [
        np.sort(rng.choice(n_books, rng.integers(3, 12), replace=False)) for _ in range(n_users)
    ]
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    rows = np.concatenate(lists).astype(np.int32)
    stars = rng.integers(1, 6, len(rows)).astype(np.int8)
    return UserItems(indptr, rows, stars, np.arange(n_users))


def as_dense(ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    n = ids.shape[0] - 1
    dense = np.zeros((n, n))
    for source in range(n):
        for target, w in zip(ids[source + 1], weights[source + 1], strict=True):
            if target:
                dense[source, target - 1] = w
    return dense


def test_with_every_book_as_a_candidate_the_links_are_ease():
    """Each target's links are a ridge regression on its candidates: with all books as
    candidates that is exactly EASE's column, solved without the books x books inverse."""
    items = random_items(200, 30)
    ids, weights = link_table(items, 30, 29, 10.0, STARS, chunk=7)
    ease = EASE(gram_matrix(items, 30, STARS), 10.0).B
    np.testing.assert_allclose(as_dense(ids, weights), np.maximum(ease, 0.0), atol=1e-6)


def test_each_book_keeps_its_strongest_links_and_scores_add_up():
    items = random_items(300, 40, seed=1)
    ids, weights = link_table(items, 40, 5, 10.0, STARS)
    assert ids.shape == (41, 5) and (ids[0] == 0).all()  # row 0: padding
    assert (weights >= 0).all() and (np.diff(weights[1:], axis=1) <= 0).all()  # best first
    rows, scale = np.array([3, 7]), np.array([1.0, 0.5])
    expected = as_dense(ids, weights)[rows].T @ scale
    np.testing.assert_allclose(link_scores(ids, weights, rows, scale), expected, rtol=1e-5)
    assert not link_scores(ids, weights, np.array([], np.int64)).any()
