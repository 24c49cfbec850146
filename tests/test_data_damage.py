"""Damaged data files are one clear error naming the file; damaged caches are rebuilt."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bookrec_tui.errors import DataError
from bookrec_tui.paths import cache_dir
from bookrec_tui.store.goodbooks import load_catalogue, load_dataset, load_ratings


def test_damaged_caches_are_rebuilt(tiny_data):
    first = load_dataset(tiny_data)
    caches = sorted(cache_dir().glob("*.npz"))
    assert len(caches) == 2
    for i, cache in enumerate(caches):  # truncate one, fill the other with junk
        cache.write_bytes(cache.read_bytes()[:100] if i == 0 else b"\x00" * 50)
    (cache_dir() / "checksums.json").write_text("[1, 2, 3]")
    again = load_dataset(tiny_data)
    assert len(again.ratings) == len(first.ratings)
    assert np.array_equal(again.catalogue.book_ids, first.catalogue.book_ids)
    assert all(np.load(c) is not None for c in cache_dir().glob("*.npz"))  # rewritten


def test_a_cache_with_columns_of_different_lengths_is_rebuilt(tiny_data):
    ratings = load_ratings(tiny_data / "ratings.csv")
    (cache,) = cache_dir().glob("ratings-*.npz")
    np.savez(
        cache,
        user_ids=ratings.user_ids[:3],
        book_ids=ratings.book_ids,
        stars=ratings.stars,
        duplicates_dropped=0,
        schema="v1",
    )
    assert len(load_ratings(tiny_data / "ratings.csv")) == len(ratings)


def broken(tiny_data, tmp_path, case: str):
    d = tmp_path / "broken"
    shutil.copytree(tiny_data, d)
    if case == "header-only-books":
        header = (d / "books.csv").read_text().splitlines()[0]
        (d / "books.csv").write_text(header + "\n")
    elif case == "empty-tags":
        (d / "tags.csv").write_text("")
    elif case == "utf16-ratings":
        (d / "ratings.csv").write_text((d / "ratings.csv").read_text(), encoding="utf-16")
    elif case == "utf16-books":
        (d / "books.csv").write_text((d / "books.csv").read_text(), encoding="utf-16")
    elif case == "huge-book-id":
        lines = (d / "books.csv").read_text().splitlines()
        lines[3] = "4000000000" + lines[3][lines[3].index(",") :]
        (d / "books.csv").write_text("\n".join(lines) + "\n")
    elif case == "huge-rated-book-id":
        with open(d / "ratings.csv", "a") as handle:
            handle.write("900000000000,1,4\n")
    elif case == "huge-user-id":
        with open(d / "ratings.csv", "a") as handle:
            handle.write(f"1,{2**31 + 5},4\n")
    return d, {
        "header-only-books": "books.csv",
        "empty-tags": "tags.csv",
        "utf16-ratings": "ratings.csv",
        "utf16-books": "books.csv",
        "huge-book-id": "books.csv",
        "huge-rated-book-id": "ratings.csv",
        "huge-user-id": "ratings.csv",
    }[case]


@pytest.mark.parametrize(
    "case",
    [
        "header-only-books",
        "empty-tags",
        "utf16-ratings",
        "utf16-books",
        "huge-book-id",
        "huge-rated-book-id",
        "huge-user-id",
    ],
)
def test_damaged_data_files_are_one_clear_error(tiny_data, tmp_path, case):
    d, culprit = broken(tiny_data, tmp_path, case)
    with pytest.raises(DataError) as caught:
        load_dataset(d, use_cache=False)
    message = str(caught.value)
    assert str(d / culprit) in message and "\n" not in message


def test_a_huge_user_id_names_its_line(tiny_data, tmp_path):
    d, _ = broken(tiny_data, tmp_path, "huge-user-id")
    n_lines = len((d / "ratings.csv").read_text().splitlines())
    with pytest.raises(DataError, match=f"line {n_lines}, column 'user_id'"):
        load_catalogue(d) and load_ratings(d / "ratings.csv", use_cache=False)
