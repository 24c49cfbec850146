"""The lists a reader sees, on the real data and shipped model: the cases issue 10 names."""

from __future__ import annotations

import pytest

from bookrec_tui.chat.session import ReaderSession
from bookrec_tui.core.recommender import BECAUSE_SHARE, Recommender
from bookrec_tui.store.profile import Profile


def book(rec: Recommender, title: str) -> int:
    """The book whose full title is ``title`` (exact, so a test cannot drift to another)."""
    c = rec.catalogue
    ids = [int(b) for b, t in zip(c.book_ids, c.titles, strict=True) if str(t) == title]
    assert len(ids) == 1, (title, ids)
    return ids[0]


def series_of(rec: Recommender, book_id: int) -> int:
    return int(rec.catalogue.works.series[rec.catalogue.row(book_id)])


def test_after_septimus_heap_6_no_earlier_entry_is_recommended(rec):
    darke = book(rec, "Darke (Septimus Heap, #6)")
    recs = rec.recommend({darke: 5}, n=20)
    heap = series_of(rec, darke)
    assert not [r.title for r in recs if series_of(rec, r.book_id) == heap]


def test_with_no_ratings_the_first_book_comes_before_any_sequel(rec):
    recs = rec.recommend({}, n=20)
    titles = [r.title for r in recs]
    assert "Harry Potter and the Deathly Hallows (Harry Potter, #7)" not in titles
    hp = [r for r in recs if "(Harry Potter, #" in r.title]
    assert [r.title for r in hp] == ["Harry Potter and the Sorcerer's Stone (Harry Potter, #1)"]
    assert hp[0].note == "start of a series"
    # no series appears twice, and every entry shown is a first book or a standalone
    for r in recs:
        position = rec.catalogue.works.position[rec.catalogue.row(r.book_id)]
        assert not position > 1, r.title


def test_a_rated_boxed_set_keeps_its_books_and_other_editions_out(rec):
    boxed = book(rec, "J.R.R. Tolkien 4-Book Boxed Set: The Hobbit and The Lord of the Rings")
    recs = rec.recommend({boxed: 5}, n=30)
    titles = " | ".join(r.title for r in recs)
    for inside in ("The Lord of the Rings", "The Two Towers", "The Return of the King", "Hobbit"):
        assert inside not in titles


def test_complete_novels_never_follow_pride_and_prejudice(rec):
    pride = book(rec, "Pride and Prejudice")
    complete = book(rec, "The Complete Novels")
    recs = rec.recommend({pride: 5}, n=50)
    assert complete not in {r.book_id for r in recs}
    hits = rec.similar(pride, 20)
    assert complete not in {h.book_id for h in hits}


def test_a_partial_edition_never_sits_beside_the_main_one(rec):
    hp4 = book(rec, "Harry Potter and the Goblet of Fire (Harry Potter, #4)")
    part = book(rec, "Harry Potter and the Order of the Phoenix (Harry Potter, #5, Part 1)")
    recs = rec.recommend({hp4: 5}, n=50)
    assert part not in {r.book_id for r in recs}
    assert recs[0].title.startswith("Harry Potter and the Order of the Phoenix (Harry Potter, #5)")
    assert recs[0].note == "next in the series"


@pytest.mark.parametrize(
    "title, author, series_cap",
    [
        ("Outlander (Outlander, #1)", "Diana Gabaldon", 2),
        ("The Notebook (The Notebook, #1)", "Nicholas Sparks", 2),
        ("Divergent (Divergent, #1)", "Veronica Roth", 2),
        ("The Hunger Games (The Hunger Games, #1)", "Suzanne Collins", 2),
    ],
)
def test_more_like_this_is_not_flooded_by_one_author_or_series(rec, title, author, series_cap):
    seed = book(rec, title)
    hits = rec.similar(seed, 10)
    assert len(hits) == 10
    assert sum(h.authors.split(",")[0] == author for h in hits) <= 3
    same = [h for h in hits if series_of(rec, h.book_id) == series_of(rec, seed)]
    assert len(same) <= series_cap


@pytest.mark.parametrize(
    "title, next_two",
    [
        ("Dune (Dune Chronicles #1)", ["Dune Messiah", "Children of Dune"]),
        (
            "Harry Potter and the Prisoner of Azkaban (Harry Potter, #3)",
            ["Harry Potter and the Goblet of Fire", "Harry Potter and the Order of the Phoenix"],
        ),
        ("The Final Empire (Mistborn, #1)", ["The Well of Ascension", "The Hero of Ages"]),
    ],
)
def test_more_like_this_continues_the_series_in_order(rec, title, next_two):
    seed = book(rec, title)
    hits = rec.similar(seed, 10)
    same = [h for h in hits if series_of(rec, h.book_id) == series_of(rec, seed)]
    assert [h.title.split(" (")[0] for h in same] == next_two
    assert hits[0].title.startswith(next_two[0]) and hits[0].note == "next in the series"


def test_reading_a_later_entry_moves_the_series_on(rec):
    """Rating #6 means #1-5 were read; saying #7 was read moves the next entry past it."""
    games = book(rec, "A Game of Thrones (A Song of Ice and Fire, #1)")
    clash = book(rec, "A Clash of Kings  (A Song of Ice and Fire, #2)")
    recs = rec.recommend({games: 5}, n=10)
    asoiaf = [r for r in recs if series_of(rec, r.book_id) == series_of(rec, games)]
    assert [r.book_id for r in asoiaf] in ([], [clash])
    recs = rec.recommend({games: 5}, n=10, read=[clash])
    asoiaf = [r.title for r in recs if series_of(rec, r.book_id) == series_of(rec, games)]
    assert all(t.startswith("A Storm of Swords (") for t in asoiaf)


def test_read_and_hidden_books_are_never_recommended(rec):
    hobbit = book(rec, "The Hobbit")
    top = [r.book_id for r in rec.recommend({hobbit: 5}, n=5)]
    recs = rec.recommend({hobbit: 5}, n=20, read=[top[0]], exclude=[top[1]])
    assert not {top[0], top[1]} & {r.book_id for r in recs}


def test_because_names_a_book_only_when_it_drives_the_recommendation(rec):
    hobbit = book(rec, "The Hobbit")
    fellowship = book(rec, "The Fellowship of the Ring (The Lord of the Rings, #1)")
    pride = book(rec, "Pride and Prejudice")
    gone = book(rec, "Gone Girl")
    ratings = {hobbit: 5, fellowship: 5, pride: 4, gone: 4}
    recs = rec.recommend(ratings, n=20)
    two_towers = next(r for r in recs if r.title.startswith("The Two Towers"))
    assert two_towers.because == fellowship
    # A book named as the reason really holds a large share of the recommendation's score.
    rows, stars = rec.reader_arrays(ratings)
    for r in recs:
        if r.because is None:
            continue
        contrib = rec.scorer.contributions(rows, stars, [rec.catalogue.row(r.book_id)])[:, 0]
        share = max(contrib[list(ratings).index(r.because)], 0) / contrib.clip(0).sum()
        assert share >= BECAUSE_SHARE, (r.title, share)


def test_importing_a_real_library_keeps_read_books_out_of_the_list(rec, exports_dir, tmp_path):
    from bookrec_tui.store.goodreads import plan_import

    path = exports_dir / "bernardkung__goodreads.csv"
    plan = plan_import(path, rec.catalogue, {})
    assert plan.read, "this export has read books without a rating"
    profile = Profile.open("r", tmp_path)
    profile.import_books(plan.ratings, plan.shelved, read=plan.read)
    assert profile.read == plan.read - set(plan.ratings)
    session = ReaderSession(rec, profile)
    listed = {r.book_id for r in session.recommendations(20)}
    assert not listed & (profile.read | set(profile.ratings))


def test_a_shorter_list_is_the_start_of_a_longer_one(rec):
    """The chat's `recs` (10) and the side panel (20) are on screen together: they must agree
    on the order, however the predicted stars reorder a list."""
    for ratings in ({}, {2: 5, 7: 5, 4: 4, 1: 5}, {3: 5, 10: 2, 25: 4, 100: 5, 33: 3}):
        longest = [r.book_id for r in rec.recommend(ratings, n=45)]
        for n in (5, 10, 20, 30):
            assert [r.book_id for r in rec.recommend(ratings, n=n)] == longest[:n]


def test_a_loved_series_continues_at_the_top_of_the_recommendations(rec):
    """5 stars for The Hobbit and The Fellowship of the Ring: The Two Towers leads (the
    model alone put it 7th, under Harry Potter, 1984 and Jane Eyre); "more like The
    Fellowship" is not a recommendation and keeps its own order."""
    ratings = {
        book(rec, "The Hobbit"): 5,
        book(rec, "The Fellowship of the Ring (The Lord of the Rings, #1)"): 5,
        book(rec, "Pride and Prejudice"): 4,
        book(rec, "Gone Girl"): 4,
    }
    top = rec.recommend(ratings, n=10)[0]
    assert top.title.startswith("The Two Towers") and top.note == "next in the series"
    # Given 2 stars, the series is not continued first.
    disliked = {**ratings, book(rec, "The Fellowship of the Ring (The Lord of the Rings, #1)"): 2}
    assert not rec.recommend(disliked, n=10)[0].title.startswith("The Two Towers")
