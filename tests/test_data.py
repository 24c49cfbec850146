from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.errors import DataError, DataMissingError
from bookrec_tui.store import goodbooks
from bookrec_tui.store.goodbooks import load_catalogue, load_dataset, load_ratings, parse_ratings


def test_v1_and_v2_schemas_give_the_same_ratings(tmp_path):
    (tmp_path / "v1.csv").write_text("book_id,user_id,rating\n3,1,5\n4,1,2\n3,2,4\n")
    (tmp_path / "v2.csv").write_text("user_id,book_id,rating\n1,3,5\n1,4,2\n2,3,4\n")
    a, b = parse_ratings(tmp_path / "v1.csv"), parse_ratings(tmp_path / "v2.csv")
    assert (a.schema, b.schema) == ("v1", "v2")

    def key(r):
        return sorted(zip(r.user_ids.tolist(), r.book_ids.tolist(), r.stars.tolist(), strict=True))

    assert key(a) == key(b) == [(1, 3, 5), (1, 4, 2), (2, 3, 4)]


def test_duplicate_pairs_keep_the_last_rating_and_are_counted(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("book_id,user_id,rating\n1,7,2\n2,7,3\n1,7,5\n1,7,4\n")
    r = parse_ratings(p)
    assert r.duplicates_dropped == 2
    got = dict(zip(r.book_ids.tolist(), r.stars.tolist(), strict=False))
    assert got == {1: 4, 2: 3}


@pytest.mark.parametrize(
    "body, needle",
    [
        ("book_id,user_id,rating\n1,2,3\n1,x,4\n", "line 3, column 'user_id'"),
        ("book_id,user_id,rating\n1,2,3\n2,2,9\n", "line 3, column 'rating'"),
        ("book_id,user_id,rating\n1,2,3.5\n", "line 2, column 'rating'"),
        ("book_id,reader,rating\n1,2,3\n", "missing column(s): user_id"),
        ("book_id,user_id,rating\n", "no ratings"),
    ],
)
def test_bad_ratings_name_the_file_line_and_column(tmp_path, body, needle):
    p = tmp_path / "ratings.csv"
    p.write_text(body)
    with pytest.raises(DataError) as err:
        parse_ratings(p)
    assert needle in str(err.value)
    assert str(p) in str(err.value)


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DataMissingError) as err:
        load_dataset(tmp_path)
    assert "BOOKREC_DATA_DIR" in str(err.value) and "data fetch" in str(err.value)


def test_books_must_cover_the_rated_ids(tiny_data):
    ratings = tiny_data / "ratings.csv"
    ratings.write_text(ratings.read_text() + "99,1,5\n")
    with pytest.raises(DataError, match=r"not in books.csv \(e.g. 99\)"):
        load_dataset(tiny_data)


def test_catalogue_has_titles_and_genre_shelves_without_to_read(tiny_data):
    cat = load_catalogue(tiny_data)
    assert len(cat) == 20
    assert cat.title(1).startswith("Saga 1")
    assert cat.shelf_list(1) == ["fantasy"] and cat.shelf_list(15) == ["mystery"]
    assert cat.goodreads_url(2) == "https://www.goodreads.com/book/show/1002"


def test_warm_load_reads_the_cache_not_the_csv(tiny_data, monkeypatch):
    first = load_ratings(tiny_data / "ratings.csv")
    monkeypatch.setattr(goodbooks, "parse_ratings", lambda p: pytest.fail("re-parsed the CSV"))
    second = load_ratings(tiny_data / "ratings.csv")
    assert np.array_equal(first.stars, second.stars) and second.sha256 == first.sha256


def test_cache_is_keyed_by_content(tiny_data):
    before = load_ratings(tiny_data / "ratings.csv")
    path = tiny_data / "ratings.csv"
    path.write_text(path.read_text() + "1,999,1\n")
    after = load_ratings(path)
    assert len(after) == len(before) + 1 and after.sha256 != before.sha256


def test_the_older_kaggle_books_header_reads_the_same(tiny_data, tmp_path):
    """Kaggle's books.csv names the goodbooks id `id` and the Goodreads id `book_id`."""
    v2 = (tiny_data / "books.csv").read_text().splitlines()
    header = v2[0].replace("book_id,goodreads_book_id", "id,book_id", 1)
    (tmp_path / "books.csv").write_text("\n".join([header, *v2[1:]]) + "\n")
    old, new = load_catalogue(tmp_path), load_catalogue(tiny_data)
    assert old.book_ids.tolist() == new.book_ids.tolist()
    assert old.goodreads_ids.tolist() == new.goodreads_ids.tolist()
    assert old.title(3) == new.title(3)


def test_to_read_shelvings_load_beside_the_ratings(tiny_data):
    """to_read.csv is optional; loaded, it keeps only pairs a model can learn from: not a
    book the reader rated, not a book outside the catalogue, not a reader with no ratings,
    each pair once."""
    assert load_dataset(tiny_data).to_read is None
    ratings = load_dataset(tiny_data).ratings
    rated_book = int(ratings.book_ids[ratings.user_ids == 1][0])
    unrated = sorted(set(range(1, 21)) - set(ratings.book_ids[ratings.user_ids == 1].tolist()))
    (tiny_data / "to_read.csv").write_text(
        "user_id,book_id\n"
        f"1,{unrated[0]}\n1,{unrated[0]}\n1,{unrated[1]}\n"  # a repeat
        f"1,{rated_book}\n"  # rated by that reader
        "2,999\n"  # not in the catalogue
        f"5000,{unrated[0]}\n"  # a reader with no ratings
    )
    users, books = load_dataset(tiny_data).to_read
    pairs = sorted(zip(users.tolist(), books.tolist(), strict=True))
    assert pairs == [(1, unrated[0]), (1, unrated[1])]
    (tiny_data / "to_read.csv").write_text("reader,title\n1,Dune\n")
    with pytest.raises(DataError, match="user_id,book_id"):
        load_dataset(tiny_data)


def test_shelved_books_join_each_readers_row_once():
    from bookrec_tui.training.interactions import UserItems

    items = UserItems(
        np.array([0, 2, 3]),
        np.array([0, 1, 2], np.int32),
        np.array([5, 4, 3], np.int8),
        np.array([10, 20]),
    )
    shelved = items.with_shelved(np.array([20, 20, 10, 10, 99]), np.array([5, 5, 1, 6, 7]), 6)
    assert shelved.user_ids.tolist() == [10, 20]
    assert [(r.tolist(), s.tolist()) for r, s in map(shelved.user, range(2))] == [
        ([0, 1, 6], [5, 4, 6]),  # book 1 was rated: not added again
        ([2, 5], [3, 6]),  # the repeat once; reader 99 is not here
    ]
