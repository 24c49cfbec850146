"""Integration tests on the real goodbooks-10k data and the shipped model (run in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.store.goodbooks import load_dataset


def test_v1_ratings_load_with_duplicates_dropped(real_data_dir):
    ds = load_dataset(real_data_dir)
    assert ds.ratings.schema == "v1"
    assert len(ds.ratings) + ds.ratings.duplicates_dropped == 981_756
    assert ds.ratings.duplicates_dropped == 2_278
    assert ds.ratings.n_users == 53_424 and len(ds.catalogue) == 10_000


def test_shipped_bundle_matches_this_data(rec, real_data_dir):
    assert rec.bundle.meta["books_sha256"] == rec.catalogue.sha256
    assert rec.bundle.meta["n_ratings"] == 979_478


@pytest.mark.parametrize(
    "query, expected",
    [
        ("hary poter", "Harry Potter and the Sorcerer's Stone"),
        ("lord of the rngs", "The Fellowship of the Ring"),  # a series name: its first book
        ("the two towers", "The Two Towers"),
        ("percy jackson lightning", "The Lightning Thief"),
        ("hitchikers guide", "The Hitchhiker's Guide to the Galaxy"),
        ("the hobit", "The Hobbit"),
        ("pride and prejudise", "Pride and Prejudice"),
        ("to kill a mokingbird", "To Kill a Mockingbird"),
        ("game of throns", "A Game of Thrones"),
    ],
)
def test_typo_search_finds_the_book_first(rec, query, expected):
    hits = rec.search(query, 5)
    assert hits[0].title.startswith(expected), [h.title for h in hits]


def test_recommendations_exclude_rated_books_and_explain_themselves(rec):
    hobbit = rec.search("the hobbit", 1)[0].book_id
    hp = rec.search("harry potter sorcerer's stone", 1)[0].book_id
    ratings = {hobbit: 5, hp: 5}
    recs = rec.recommend(ratings, n=20)
    assert len(recs) == 20
    assert not {r.book_id for r in recs} & set(ratings)
    assert all(r.because is None or r.because in ratings for r in recs)
    assert all(1.0 <= r.predicted_rating <= 5.0 for r in recs)
    # A Harry Potter reader is offered the rest of the series.
    assert any("Harry Potter" in r.title for r in recs[:10])


def test_cold_start_with_no_ratings_is_popular_and_well_rated(rec):
    recs = rec.recommend({}, n=10)
    rows = [rec.catalogue.row(r.book_id) for r in recs]
    assert np.median(rec.catalogue.ratings_counts[rows]) > 200_000
    assert np.mean(rec.catalogue.average_ratings[rows]) > 4.0


def test_predicted_stars_follow_the_readers_ratings(rec):
    twilight = rec.search("twilight meyer", 1)[0].book_id
    new_moon = rec.search("new moon", 1)[0].book_id
    fan = rec.predict_ratings({twilight: 5}, [new_moon])[0]
    hater = rec.predict_ratings({twilight: 1}, [new_moon])[0]
    assert fan > hater + 0.5


@pytest.mark.parametrize(
    "seed_title, author",
    [
        ("the hunger games", "Suzanne Collins"),
        ("the fellowship of the ring", "J.R.R. Tolkien"),
        ("mistborn final empire", "Brandon Sanderson"),
        ("the da vinci code", "Dan Brown"),
    ],
)
def test_similar_keeps_authors_near_but_not_flooding(rec, seed_title, author):
    """The author's other books come first, three of ten at most (see test_lists_real.py
    for the series order)."""
    book = rec.search(seed_title, 1)[0].book_id
    hits = rec.similar(book, 10)
    by_author = [h for h in hits if h.authors.split(",")[0] == author]
    assert 2 <= len(by_author) <= 3, [(h.title, h.authors) for h in hits]
    assert hits[0].authors.split(",")[0] == author
    assert book not in {h.book_id for h in hits}


def test_recommend_by_shelf(rec):
    recs = rec.recommend({}, n=10, shelf="horror")
    assert len(recs) == 10
    assert all("horror" in rec.catalogue.book_genres(r.book_id) for r in recs)


def test_real_goodreads_readers_get_better_rankings_than_popularity(rec, exports_dir):
    """The real-reader protocol of `bookrec-tui evaluate` (shipped model vs Goodreads-wide
    popularity; EASE is left to the full evaluation, which fits it on all ratings)."""
    from bookrec_tui.evaluation.protocols import RealReaders, evaluate_real_readers
    from bookrec_tui.training.baselines import CataloguePopularity

    libraries = RealReaders.read(exports_dir, rec.catalogue).libraries()
    assert len(libraries) == 11  # the shared exports with >= 20 rated books in goodbooks-10k
    methods = {"popularity": CataloguePopularity(rec.catalogue), "ours": rec.scorer}
    mean = evaluate_real_readers(methods, libraries, ks=(5, 10), repetitions=5)["mean"]
    for k in (5, 10):
        assert mean["ours"][k]["ndcg@10"] > mean["popularity"][k]["ndcg@10"] + 0.05
        assert mean["ours"][k]["recall@20"] > mean["popularity"][k]["recall@20"]
        assert mean["ours"][k]["rmse"] < mean["popularity"][k]["rmse"]


@pytest.mark.parametrize("junk", ["[2J ü [2J ü [2J ü", "üüü", "xq zv", "%%%% ^^^^"])
def test_junk_finds_nothing_rather_than_a_random_book(rec, junk):
    assert rec.search(junk, 5) == [] and rec.resolve(junk) is None
