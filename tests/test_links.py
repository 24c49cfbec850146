"""Book-to-book links from sparse co-counts (links.py), on small data the tests make."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_world import BOOKS, make_ratings

from bookrec_tui.training import links
from bookrec_tui.training.baselines import EASE, gram_matrix
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.links import co_counts, link_scores, link_table

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


@pytest.mark.parametrize("slab_rows", [512, 4])
def test_with_every_book_as_a_candidate_the_links_are_ease(slab_rows):
    """Each target's links are a ridge regression on its candidates: with all books as
    candidates that is exactly EASE's column, solved without the books x books inverse
    (whether the co-counts are gathered from one slab of rows or several)."""
    items = random_items(200, 30)
    ids, weights = link_table(items, 30, 29, 10.0, STARS, chunk=7, slab_rows=slab_rows)
    ease = EASE(gram_matrix(items, 30, STARS), 10.0).B
    np.testing.assert_allclose(as_dense(ids, weights), np.maximum(ease, 0.0), atol=1e-6)


def test_a_book_keeps_the_strongest_of_its_links_to_all_candidates():
    """Solved over every book but kept to 5 links a book: each book's 5 largest positive
    EASE weights, the rest dropped."""
    items = random_items(300, 30, seed=2)
    ids, weights = link_table(items, 30, 5, 10.0, STARS, candidates=29)
    ease = np.maximum(EASE(gram_matrix(items, 30, STARS), 10.0).B, 0.0)
    top5 = np.where(ease >= -np.sort(-ease, axis=1)[:, 4:5], ease, 0.0)
    np.testing.assert_allclose(as_dense(ids, weights), top5, atol=1e-6)


def test_more_candidates_find_more_of_eases_links():
    """A target regressed on its few most co-read books only misses links EASE finds
    through the rest: twice the candidates recover more of EASE's top links."""
    items = random_items(2000, 60, seed=3)  # every pair of books read together
    ease = np.maximum(EASE(gram_matrix(items, 60, STARS), 10.0).B, 0.0)
    top = [{int(t) for t in np.argsort(-row)[:8] if row[t] > 0} for row in ease]
    found = []
    for candidates in (8, 16, 59):
        ids, _ = link_table(items, 60, 8, 10.0, STARS, candidates=candidates)
        found.append(sum(len(top[b] & set(ids[b + 1] - 1)) for b in range(60)))
    assert found[0] < found[1] < found[2] == sum(map(len, top)), found


def test_each_book_keeps_its_strongest_links_and_scores_add_up():
    items = random_items(300, 40, seed=1)
    ids, weights = link_table(items, 40, 5, 10.0, STARS)
    assert ids.shape == (41, 5) and (ids[0] == 0).all()  # row 0: padding
    assert (weights >= 0).all() and (np.diff(weights[1:], axis=1) <= 0).all()  # best first
    rows, scale = np.array([3, 7]), np.array([1.0, 0.5])
    expected = as_dense(ids, weights)[rows].T @ scale
    np.testing.assert_allclose(link_scores(ids, weights, rows, scale), expected, rtol=1e-5)
    assert not link_scores(ids, weights, np.array([], np.int64)).any()


def items_of(ratings: np.ndarray) -> UserItems:
    """UserItems from (user_id, book_id, stars) rows, book ids 1-based."""
    order = np.lexsort((ratings[:, 1], ratings[:, 0]))
    users, books, stars = ratings[order].T
    uniq, starts = np.unique(users, return_index=True)
    indptr = np.append(starts, len(users))
    return UserItems(indptr, (books - 1).astype(np.int32), stars.astype(np.int8), uniq)


@pytest.mark.parametrize(
    ("name", "chunks"), [("tiny world", (1, 7, 64)), ("synthetic", (1, 13, 250))]
)
def test_the_table_is_the_same_whatever_block_group_or_slab_the_co_counts_are_read_by(
    name, chunks, monkeypatch
):
    """X^T X's rows are made a block of target books at a time and each group of targets
    gathers its candidates' co-counts from their upper triangles, a slab of rows at a time:
    the table is the same, to the last bit, whatever the block, the group or the slab (one
    block of every book is the whole X^T X). The candidates are each book's most co-read
    books by the whole co-count matrix."""
    if name == "tiny world":
        ratings = make_ratings()
        n, m = len(BOOKS), 6
    else:
        ratings = synthetic_ratings(800, 250)
        n, m = 250, 10
    items = items_of(ratings)
    whole = link_table(items, n, m, 10.0, STARS, chunk=n)
    for chunk in chunks:
        ids, weights = link_table(items, n, m, 10.0, STARS, chunk=chunk, slab_rows=16)
        np.testing.assert_array_equal(ids, whole[0])
        np.testing.assert_array_equal(weights, whole[1])
    # Solving a few targets at a time (candidate Gram matrices gathered in small groups)
    # gives the same table.
    monkeypatch.setattr(links, "GROUP_BYTES", 3 * 4 * min(2 * m, n - 1) ** 2)
    ids, weights = link_table(items, n, m, 10.0, STARS, slab_rows=5)
    np.testing.assert_array_equal(ids, whole[0])
    np.testing.assert_array_equal(weights, whole[1])
    gram = co_counts(items, n, STARS).toarray()
    np.fill_diagonal(gram, -1.0)
    for book in range(n):
        sources = np.flatnonzero((whole[0][1:] == book + 1).any(axis=1))  # link to it
        # a target only links from its 2m candidates: books at least as co-read as its 2m-th
        floor = np.sort(gram[book])[::-1][min(2 * m, n - 1) - 1]
        assert (gram[book, sources] >= floor).all()
        assert (gram[book, sources] > 0).all()


def synthetic_ratings(n_readers: int, n_books: int, seed: int = 4) -> np.ndarray:
    """Readers who favour popular books (Zipf-like), 1-5 stars: many books share readers."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.arange(n_books)) ** 0.8
    rows = []
    for user in range(1, n_readers + 1):
        books = rng.choice(n_books, rng.integers(5, 40), replace=False, p=p / p.sum())
        rows += [(user, int(b) + 1, int(rng.integers(1, 6))) for b in books]
    return np.array(rows, dtype=np.int64)
