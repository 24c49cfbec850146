"""The evaluation protocols' bookkeeping, on small data the tests make."""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.core.catalogue import Dataset, Ratings
from bookrec_tui.errors import DataError
from bookrec_tui.evaluation.protocols import (
    RealReaders,
    cold_start_split,
    evaluate_real_readers,
)
from bookrec_tui.store.goodbooks import load_catalogue

HEADER = "Book Id,Title,Author,My Rating,Exclusive Shelf"


class FixedRanking:
    """Ranks books by fixed scores, whatever the reader revealed."""

    def __init__(self, scores) -> None:
        self.scores = np.asarray(scores, dtype=np.float64)

    def rank_scores(self, rows, stars):
        return self.scores.copy()

    def predict_stars(self, rows, stars, targets):
        return np.full(len(targets), 4.0)


def test_real_reader_libraries_keep_readers_with_enough_matched_ratings(tiny_data, tmp_path):
    cat = load_catalogue(tiny_data)
    exports = tmp_path / "exports"
    exports.mkdir()
    # goodreads ids 1001..1020 are books 1..20 in the tiny catalogue
    big = [f"{1000 + b},Saga {b},Ann Author,{1 + b % 5},read" for b in range(1, 13)]
    big.append("1003,Saga 3,Ann Author,5,read")  # listed twice: the last rating counts
    big.append("999999,Not In The Catalogue,Nobody,5,read")
    big.append("1014,Chronicle 14,Bob Writer,0,to-read")  # shelved, unrated
    (exports / "big.csv").write_text("\n".join([HEADER, *big]) + "\n")
    small = [f"{1000 + b},Saga {b},Ann Author,4,read" for b in range(1, 5)]
    (exports / "small.csv").write_text("\n".join([HEADER, *small]) + "\n")
    (exports / "notes.csv").write_text("just,some,other,csv\n1,2,3,4\n")

    big.append("1015,Chronicle 15,Bob Writer,0,read")  # read, unrated
    (exports / "big.csv").write_text("\n".join([HEADER, *big]) + "\n")

    readers = RealReaders.read(exports, cat)
    assert list(readers.matches) == ["big.csv", "small.csv"]  # notes.csv is no export
    libraries = readers.libraries(min_rated=10)
    assert list(libraries) == ["big.csv"]
    rows, stars = libraries["big.csv"]
    assert (
        len(rows) == 12 and dict(zip(rows.tolist(), stars.tolist(), strict=True))[cat.row(3)] == 5
    )
    # The onboarding's answers, from the same parse: stars, 0 for read unrated, no to-read.
    shelves = readers.shelves(min_rated=10)
    assert list(shelves) == ["big.csv"]
    assert shelves["big.csv"][3] == 5 and shelves["big.csv"][15] == 0
    assert 14 not in shelves["big.csv"] and len(shelves["big.csv"]) == 13
    assert (
        list(readers.libraries(min_rated=4)) == list(readers.shelves(4)) == ["big.csv", "small.csv"]
    )


def test_real_reader_metrics_are_means_over_readers_not_ratings(tiny_data):
    n = 40  # books; the reader rated rows 0..9 with 5 stars, rows 10..19 with 1
    loved = np.arange(10)
    lib = (np.arange(20), np.where(np.arange(20) < 10, 5, 1))
    small = (np.arange(4), np.array([5, 5, 1, 1]))  # a second, small library
    good = FixedRanking(np.where(np.isin(np.arange(n), loved), 1.0, 0.0))
    bad = FixedRanking(-good.scores)
    result = evaluate_real_readers(
        {"good": good, "bad": bad}, {"a": lib, "b": small}, ks=(2,), repetitions=3
    )
    per = result["per_reader"]
    # Reader a: loved books first finds every hidden loved book that fits in 20 slots.
    assert per["a"]["good"][2]["recall@20"] == 1.0 and per["a"]["good"][2]["ndcg@10"] == 1.0
    assert per["a"]["bad"][2]["recall@20"] == 0.0
    mean = result["mean"]["good"][2]
    assert mean["readers"] == 2
    for metric in ("recall@20", "ndcg@10"):
        expected = (per["a"]["good"][2][metric] + per["b"]["good"][2][metric]) / 2
        assert np.isclose(mean[metric], expected)


def test_cold_start_on_readers_with_too_few_ratings_says_what_to_do(tmp_path):
    """Three readers with 5 ratings each: no one to hold out at 20, so `evaluate` says why
    and what to run instead (it crashed with an AttributeError on a None EASE)."""
    users = np.repeat(np.arange(1, 4, dtype=np.int32), 5)
    books = np.tile(np.arange(1, 6, dtype=np.int32), 3)
    ratings = Ratings(users, books, np.full(15, 4, dtype=np.int8))
    dataset = Dataset(catalogue=None, ratings=ratings, ratings_path=tmp_path / "ratings.csv")
    with pytest.raises(DataError, match=r"at least 20 ratings.*0 of 3 readers.*--only"):
        cold_start_split(dataset, n_users=2, min_ratings=20)
