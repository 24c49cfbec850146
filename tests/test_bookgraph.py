"""The UCSD Goodreads loader on small files written in exactly the published format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from bookrec_tui.errors import DataError, DataMissingError
from bookrec_tui.store.bookgraph import Subsample, load_bookgraph, parse_bookgraph


def _book(book_id, work_id, title, authors, shelves=(), ratings_count="0", **extra):
    """A goodreads_books.json line: every value a string, as in the dump."""
    return {
        "isbn": f"04{book_id:08d}",
        "text_reviews_count": "3",
        "series": [],
        "country_code": "US",
        "language_code": "eng",
        "popular_shelves": [{"count": str(c), "name": n} for n, c in shelves],
        "asin": "",
        "is_ebook": "false",
        "average_rating": "3.90",
        "kindle_asin": "",
        "similar_books": [],
        "description": "",
        "format": "Paperback",
        "link": f"https://www.goodreads.com/book/show/{book_id}",
        "authors": [{"author_id": str(a), "role": r} for a, r in authors],
        "publisher": "",
        "num_pages": "300",
        "publication_day": "",
        "isbn13": "",
        "publication_month": "",
        "edition_information": "",
        "publication_year": "2001",
        "url": f"https://www.goodreads.com/book/show/{book_id}",
        "image_url": "",
        "book_id": str(book_id),
        "ratings_count": ratings_count,
        "work_id": str(work_id),
        "title": title,
        "title_without_series": title.split(" (")[0],
        **extra,
    }


def _work(work_id, best_book_id, title, year, dist):
    total = sum(dist.values())
    return {
        "books_count": "2",
        "reviews_count": "10",
        "original_publication_month": "",
        "default_description_language_code": "",
        "text_reviews_count": "1",
        "best_book_id": str(best_book_id),
        "original_publication_year": str(year),
        "original_title": title,
        "rating_dist": "|".join(f"{s}:{dist.get(s, 0)}" for s in (5, 4, 3, 2, 1))
        + f"|total:{total}",
        "default_chaptering_book_id": "",
        "original_publication_day": "",
        "original_language_id": "",
        "ratings_count": str(total),
        "media_type": "book",
        "ratings_sum": str(sum(s * c for s, c in dist.items())),
        "work_id": str(work_id),
    }


def _write_gz_lines(path: Path, records: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r) + "\n")


# Goodreads book ids of the fixture: two editions of Dune (work 100), Dune Messiah (work 101),
# Emma (work 102), a pamphlet without a work id, and a book nobody in the sample read.
DUNE, DUNE_OTHER, MESSIAH, EMMA, PAMPHLET, UNREAD = 234225, 9001, 106, 6969, 777, 555


@pytest.fixture
def bookgraph_dir(tmp_path) -> Path:
    d = tmp_path / "ucsd"
    d.mkdir()
    csv_ids = {DUNE: 0, DUNE_OTHER: 1, MESSIAH: 2, EMMA: 3, PAMPHLET: 4, UNREAD: 5}
    (d / "book_id_map.csv").write_text(
        "book_id_csv,book_id\n" + "".join(f"{c},{b}\n" for b, c in csv_ids.items())
    )
    (d / "user_id_map.csv").write_text(
        "user_id_csv,user_id\n" + "".join(f"{u},{u:032x}\n" for u in range(6))
    )
    # user, book (csv id), is_read, rating, is_reviewed
    rows = [
        (0, 0, 1, 5, 1),  # reader 0 rates Dune 5 ...
        (0, 1, 1, 3, 0),  # ... and the other edition 3 later: one rating of the work, the last
        (0, 2, 1, 4, 0),
        (0, 3, 0, 0, 0),  # shelved, not read: no signal
        (1, 0, 1, 4, 0),
        (1, 2, 1, 0, 0),  # read Messiah without rating it
        (1, 3, 1, 2, 0),
        (2, 1, 1, 0, 0),  # read the other Dune edition unrated ...
        (2, 0, 1, 5, 0),  # ... and rated the first one: rated wins, no read-unrated pair
        (2, 4, 1, 1, 0),
        (3, 0, 1, 0, 0),
        (3, 3, 1, 5, 0),
        (4, 0, 1, 3, 0),
        (4, 3, 1, 0, 0),
        (5, 2, 1, 2, 0),
        (5, 3, 1, 0, 0),
    ]
    (d / "goodreads_interactions.csv").write_text(
        "user_id,book_id,is_read,rating,is_reviewed\n"
        + "".join(",".join(map(str, r)) + "\n" for r in rows)
    )
    _write_gz_lines(
        d / "goodreads_books.json.gz",
        [
            _book(
                DUNE,
                100,
                "Dune (Dune Chronicles, #1)",
                [(58, ""), (99, "Translator")],
                [("to-read", 900), ("science-fiction", 500), ("fiction", 400), ("classics", 90)],
                ratings_count="801474",
            ),
            _book(DUNE_OTHER, 100, "Dune", [(58, "")], ratings_count="12"),
            _book(MESSIAH, 101, "Dune Messiah (Dune Chronicles, #2)", [(58, "")], [("sf", 7)]),
            _book(EMMA, 102, "Emma", [(1265, "")], [("romance", 50), ("classics", 60)]),
            _book(PAMPHLET, "", "A Pamphlet", [(1265, "")]),
            _book(UNREAD, 103, "Unread Book", [(1265, "")]),
        ],
    )
    _write_gz_lines(
        d / "goodreads_book_authors.json.gz",
        [
            {
                "average_rating": "4.0",
                "author_id": a,
                "text_reviews_count": "1",
                "name": n,
                "ratings_count": "5",
            }
            for a, n in (("58", "Frank Herbert"), ("99", "A. Translator"), ("1265", "Jane Austen"))
        ],
    )
    _write_gz_lines(
        d / "goodreads_book_works.json.gz",
        [
            _work(100, DUNE, "Dune", 1965, {5: 6, 4: 2, 1: 2}),
            _work(101, MESSIAH, "Dune Messiah", 1969, {4: 1}),
            _work(102, EMMA, "Emma", 1815, {3: 4}),
            _work(103, UNREAD, "Unread Book", 2010, {}),
        ],
    )
    return d


def _by_goodreads(graph) -> dict[int, int]:
    c = graph.dataset.catalogue
    return {int(g): int(b) for g, b in zip(c.goodreads_ids, c.book_ids, strict=True)}


def test_editions_collapse_onto_their_work_shown_as_its_best_edition(bookgraph_dir):
    graph = parse_bookgraph(bookgraph_dir)
    c, r = graph.dataset.catalogue, graph.dataset.ratings
    ids = _by_goodreads(graph)
    assert DUNE_OTHER not in ids and UNREAD not in ids  # one row per work; unrated work out
    dune = ids[DUNE]
    assert c.book_ids[0] == dune == 1  # the most-read work comes first
    assert c.title(dune) == "Dune (Dune Chronicles, #1)"
    assert c.short_title(dune) == "Dune"
    assert c.series_position(dune) == 1
    assert c.authors[c.row(dune)] == "Frank Herbert, A. Translator"
    assert c.first_author(dune) == "Frank Herbert"
    assert c.shelf_list(dune) == ["science-fiction", "classics"]  # reading states dropped
    assert c.year_label(dune) == "1965"  # the work's first publication, not this edition's
    assert int(c.ratings_counts[c.row(dune)]) == 10  # the work's ratings, all editions
    assert c.average_ratings[c.row(dune)] == pytest.approx((30 + 8 + 2) / 10)
    assert c.goodreads_url(dune).endswith(f"/{DUNE}")
    # Reader 0 rated both Dune editions: one rating of the work, the later one (3 stars).
    mine = {
        (int(u), int(b)): int(s) for u, b, s in zip(r.user_ids, r.book_ids, r.stars, strict=True)
    }
    assert mine[(1, dune)] == 3
    assert r.duplicates_dropped == 1
    assert r.schema == "goodreads"
    assert len(r) == 9


def test_read_without_rating_is_kept_apart_from_ratings(bookgraph_dir):
    graph = parse_bookgraph(bookgraph_dir)
    ids = _by_goodreads(graph)
    pairs = set(zip(graph.read_user_ids.tolist(), graph.read_book_ids.tolist(), strict=True))
    # Reader 1 read Messiah unrated; reader 3 read Dune; 4 and 5 read Emma. Reader 2 read
    # one Dune edition unrated but rated the other: that is a rating, not a read-only signal.
    # Reader 0 only shelved Emma (is_read 0): nothing.
    assert pairs == {(2, ids[MESSIAH]), (4, ids[DUNE]), (5, ids[EMMA]), (6, ids[EMMA])}
    ratings = graph.dataset.ratings
    rated = set(zip(ratings.user_ids.tolist(), ratings.book_ids.tolist(), strict=True))
    assert not pairs & rated
    assert graph.stats["read_unrated"] == 4


def test_a_work_without_a_work_id_is_its_own_work(bookgraph_dir):
    graph = parse_bookgraph(bookgraph_dir)
    ids = _by_goodreads(graph)
    assert graph.dataset.catalogue.title(ids[PAMPHLET]) == "A Pamphlet"


def test_subsampling_keeps_the_most_read_works_with_enough_ratings(bookgraph_dir):
    everything = parse_bookgraph(bookgraph_dir)
    assert len(everything.dataset.catalogue) == 4
    few = parse_bookgraph(bookgraph_dir, Subsample(min_ratings=2))
    kept = set(_by_goodreads(few))
    assert kept == {DUNE, MESSIAH, EMMA}  # the pamphlet has one rating
    top2 = parse_bookgraph(bookgraph_dir, Subsample(max_books=2))
    assert list(top2.dataset.catalogue.goodreads_ids) == [
        DUNE,
        EMMA,
    ]  # read 7 and 4 times (Messiah 3)
    assert set(top2.dataset.ratings.book_ids.tolist()) == {1, 2}
    assert top2.stats["works_in_data"] == 5


def test_small_chunks_give_the_same_data(bookgraph_dir):
    whole = parse_bookgraph(bookgraph_dir)
    chunked = parse_bookgraph(bookgraph_dir, Subsample(chunk_rows=2))
    for name in ("user_ids", "book_ids", "stars"):
        assert np.array_equal(
            getattr(whole.dataset.ratings, name), getattr(chunked.dataset.ratings, name)
        )
    assert np.array_equal(whole.read_book_ids, chunked.read_book_ids)


def test_loading_is_cached_per_subsample(bookgraph_dir):
    first = load_bookgraph(bookgraph_dir, Subsample(max_books=3))
    (bookgraph_dir / "goodreads_books.json.gz").rename(bookgraph_dir / "moved.json.gz")
    with pytest.raises(DataMissingError, match="goodreads_books.json.gz"):
        load_bookgraph(bookgraph_dir, Subsample(max_books=3))
    (bookgraph_dir / "moved.json.gz").rename(bookgraph_dir / "goodreads_books.json.gz")
    again = load_bookgraph(bookgraph_dir, Subsample(max_books=3))
    assert list(again.dataset.catalogue.titles) == list(first.dataset.catalogue.titles)
    assert np.array_equal(again.read_user_ids, first.read_user_ids)
    assert len(load_bookgraph(bookgraph_dir, Subsample(max_books=2)).dataset.catalogue) == 2


def test_a_wrong_interactions_header_names_the_file(bookgraph_dir):
    path = bookgraph_dir / "goodreads_interactions.csv"
    path.write_text("book_id,user_id,rating\n1,2,3\n")
    with pytest.raises(DataError, match="goodreads_interactions.csv: line 1"):
        parse_bookgraph(bookgraph_dir)


def test_a_star_out_of_range_names_the_line(bookgraph_dir):
    path = bookgraph_dir / "goodreads_interactions.csv"
    path.write_text(path.read_text() + "1,1,1,7,0\n")
    with pytest.raises(DataError, match="line 18: rating"):
        parse_bookgraph(bookgraph_dir)


@pytest.mark.slow
@pytest.mark.slow  # trains a model
def test_train_on_goodreads_files_serves_that_catalogue(bookgraph_dir, tiny_data, tmp_path):
    """`train --catalogue goodreads` packs the catalogue beside the bundle, and the API
    serves it even where a goodbooks data directory is set (which the model does not fit)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "model"
    args = ["train", "--catalogue", "goodreads", "--data-dir", str(bookgraph_dir)]
    res = subprocess.run(
        [sys.executable, "-m", "bookrec_tui.cli", *args, "--out", str(out), "--epochs", "1"]
        + ["--dim", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BOOKREC_DATA_DIR": str(tiny_data)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "4 of 5 works kept" in res.stderr
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(model_dir=out, data_dir=tiny_data)
    assert rec.catalogue.title(1) == "Dune (Dune Chronicles, #1)"
    recs = rec.recommend({1: 5}, n=3)
    assert len(recs) == 3 and all(r.book_id != 1 for r in recs)
    assert rec.search("dune mesiah", 1)[0].title == "Dune Messiah (Dune Chronicles, #2)"


def test_the_works_best_edition_shows_the_work_else_the_most_rated_one(bookgraph_dir):
    works = [
        _work(100, DUNE_OTHER, "Dune", 1965, {5: 1}),  # names the less-rated edition
        _work(101, 31337, "Dune Messiah", 1969, {4: 1}),  # names an edition not in the dump
    ]
    _write_gz_lines(bookgraph_dir / "goodreads_book_works.json.gz", works)
    graph = parse_bookgraph(bookgraph_dir)
    c = graph.dataset.catalogue
    assert set(c.goodreads_ids.tolist()) == {DUNE_OTHER, MESSIAH, EMMA, PAMPHLET}
    assert c.title(1) == "Dune"
    (bookgraph_dir / "goodreads_book_works.json.gz").unlink()  # optional: most-rated edition
    c = parse_bookgraph(bookgraph_dir).dataset.catalogue
    assert c.title(1) == "Dune (Dune Chronicles, #1)" and c.year_label(1) == "2001"


@pytest.mark.slow
def test_two_workers_train_on_goodreads_files_and_only_the_chief_writes(
    bookgraph_dir, tiny_data, tmp_path
):
    """`train --distribute multiworker` on a two-worker localhost cluster (TF_CONFIG): both
    train, the chief alone writes a bundle and catalogue the app serves, and the books
    read without a rating are in the readers' rows."""
    import os
    import socket
    import subprocess
    import sys

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    args = ["train", "--catalogue", "goodreads", "--data-dir", str(bookgraph_dir)]
    args += ["--distribute", "multiworker", "--epochs", "2", "--dim", "8"]
    procs = []
    for index in range(2):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "BOOKREC_DATA_DIR": str(tiny_data), "TF_CONFIG": json.dumps(task)}
        out = ["--out", str(tmp_path / f"model{index}")]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bookrec_tui.cli", *args, *out],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    assert "not the chief" in err
    assert not (tmp_path / "model1").exists()
    meta = json.loads((tmp_path / "model0" / "training.json").read_text())
    epochs = [r for r in meta["training"]["history"] if r.get("phase") == "embeddings"]
    assert [(r["replicas"], r["workers"], r["read_unrated"]) for r in epochs] == [(2, 2, 4)] * 2
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(model_dir=tmp_path / "model0", data_dir=tiny_data)
    assert rec.catalogue.title(1) == "Dune (Dune Chronicles, #1)"
    recs = rec.recommend({1: 5}, n=3)
    assert len(recs) == 3 and all(r.book_id != 1 for r in recs)
