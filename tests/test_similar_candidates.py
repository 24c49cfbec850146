"""How "more like this" from candidates (a large catalogue's path) lists what scoring every book
lists, on the tiny world with the large-catalogue path forced on."""

from __future__ import annotations

import pytest

from bookrec_tui.core import recommender as recommender_module
from bookrec_tui.core.recommender import Recommender


@pytest.fixture
def full_rec(tiny_world) -> Recommender:
    """The tiny world's recommender scoring every book, as a small catalogue does."""
    rec = Recommender(tiny_world.bundle(), tiny_world.catalogue())
    assert rec.similar_index is None
    return rec


@pytest.fixture
def candidate_rec(tiny_world, monkeypatch) -> Recommender:
    """The tiny world's recommender taking the large-catalogue path, with only a handful of
    books from the index so the links, the author's books and the bound carry the list."""
    monkeypatch.setattr(recommender_module, "EXACT_UP_TO", 0)
    monkeypatch.setattr(recommender_module, "SIMILAR_CANDIDATES", 12)
    return Recommender(tiny_world.bundle(), tiny_world.catalogue())


def test_candidates_list_the_same_books_as_scoring_every_book(full_rec, candidate_rec):
    assert candidate_rec.similar_index is not None
    full_passes = []
    scores = candidate_rec.similar_scores

    def counted(row, rows=None, *link):
        if rows is None:
            full_passes.append(row)
        return scores(row, rows, *link)

    candidate_rec.similar_scores = counted
    seeds = [int(b) for b in full_rec.catalogue.book_ids]
    for seed in seeds:
        for n in (5, 10):
            fast, full = candidate_rec.similar(seed, n), full_rec.similar(seed, n)
            # The same books and notes; the scores agree to float32 rounding (a product
            # over a few rows need not round as one over every row).
            assert [(s.book_id, s.note) for s in fast] == [(s.book_id, s.note) for s in full]
            assert [s.score for s in fast] == pytest.approx([s.score for s in full], abs=1e-6)
    # The candidates vouch for most lists by themselves (else this tests the fallback only).
    assert len(full_passes) < len(seeds) // 2, len(full_passes)


def test_candidates_hold_the_linked_books_and_the_authors_books(candidate_rec):
    c = candidate_rec.catalogue
    hobbit = c.row(int(candidate_rec.resolve("The Hobbit")))
    rows = candidate_rec.similar_candidates(hobbit, link_floor=0.0).rows
    assert set(candidate_rec.linked_rows(hobbit)) <= set(rows)
    tolkien = {r for r in range(len(c)) if c.first_authors[r] == c.first_authors[hobbit]}
    assert len(tolkien) == 4 and tolkien <= set(rows)


def test_the_candidate_scores_are_the_full_scores_of_those_books(full_rec, candidate_rec):
    for row in range(0, len(full_rec.catalogue), 7):
        rows = candidate_rec.similar_candidates(row).rows
        full = full_rec.similar_scores(row)
        assert candidate_rec.similar_scores(row, rows) == pytest.approx(full[rows], abs=1e-6)


def test_weak_links_left_out_keep_the_lists_exact(full_rec, tiny_world, monkeypatch):
    """A bestseller's tens of thousands of incoming links are not all scored: with only
    the 2 most strongly linked books scored at first, every list is still the full pass's,
    most stand on that first try, and a second try adds the linked books that could enter."""
    monkeypatch.setattr(recommender_module, "EXACT_UP_TO", 0)
    monkeypatch.setattr(recommender_module, "SIMILAR_CANDIDATES", 12)
    monkeypatch.setattr(recommender_module, "SIMILAR_LINKED", 2)
    rec = Recommender(tiny_world.bundle(), tiny_world.catalogue())
    floors, full_passes = [], []
    candidates, scores = rec.similar_candidates, rec.similar_scores

    def recorded(row, link_floor=None, link=None):
        got = candidates(row, link_floor, link)
        floors.append((link_floor, len(got.rows), len(rec.linked_rows(row))))
        return got

    def counted(row, rows=None, link=None):
        if rows is None:
            full_passes.append(row)
        return scores(row, rows, link)

    rec.similar_candidates, rec.similar_scores = recorded, counted
    seeds = [int(b) for b in full_rec.catalogue.book_ids]
    tries = []
    for seed in seeds:
        floors.clear()
        passes = len(full_passes)
        fast, full = rec.similar(seed, 10), full_rec.similar(seed, 10)
        assert [(s.book_id, s.note) for s in fast] == [(s.book_id, s.note) for s in full]
        if len(full_passes) == passes:
            tries.append(len(floors))
    assert len(full_passes) < len(seeds) // 2, len(full_passes)
    # Lists stood on the first try (the weak links left out) and on the second.
    assert 1 in tries and 2 in tries, tries
