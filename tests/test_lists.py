"""Series, editions and the final list, on small made-up catalogues (one rule per test)."""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.core.genres import GENRE_NAMES
from bookrec_tui.core.listing import NEXT, START, ListAssembler, ReaderBooks
from bookrec_tui.core.works import Works, parse_series_note

BOOKS = [
    # row: title, first author
    ("Magyk (Septimus Heap, #1)", "Angie Sage"),  # 0
    ("Flyte (Septimus Heap, #2)", "Angie Sage"),  # 1
    ("Physik (Septimus Heap, #3)", "Angie Sage"),  # 2
    ("Queste (Septimus Heap, #4)", "Angie Sage"),  # 3
    ("A Short Tale (Septimus Heap, #2.5)", "Angie Sage"),  # 4
    ("Septimus Heap Box Set (Septimus Heap, #1-3)", "Angie Sage"),  # 5
    ("Physik, Part 1 (Septimus Heap, #3, Part 1)", "Angie Sage"),  # 6
    ("The Colour of Magic (Discworld, #1; Rincewind #1)", "Terry Pratchett"),  # 7
    ("Mort (Discworld, #4; Death, #1)", "Terry Pratchett"),  # 8
    ("Pride and Prejudice", "Jane Austen"),  # 9
    ("Emma", "Jane Austen"),  # 10
    ("The Complete Novels", "Jane Austen"),  # 11
    ("Persuasion", "Jane Austen"),  # 12
    ("Northanger Abbey", "Jane Austen"),  # 13
    ("Standalone One", "Ann Other"),  # 14
    ("Standalone Two", "Bo Other"),  # 15
    ("Standalone Three", "Cy Other"),  # 16
    ("Standalone Four", "Di Other"),  # 17
    ("Tolkien 4-Book Boxed Set: The Hobbit and The Lord of the Rings", "J.R.R. Tolkien"),  # 18
    ("The Hobbit", "J.R.R. Tolkien"),  # 19
    ("The Fellowship of the Ring (The Lord of the Rings, #1)", "J.R.R. Tolkien"),  # 20
    ("The Two Towers (The Lord of the Rings, #2)", "J.R.R. Tolkien"),  # 21
]


@pytest.fixture
def works() -> Works:
    return Works([t for t, _ in BOOKS], [a for _, a in BOOKS])


@pytest.fixture
def lists(works) -> ListAssembler:
    return ListAssembler(works, np.array([a for _, a in BOOKS]))


def scores_for(*rows: int) -> np.ndarray:
    """A score vector ranking ``rows`` first, in that order, then everything else."""
    s = np.linspace(0.0, -1.0, len(BOOKS))
    for rank, r in enumerate(rows):
        s[r] = 10.0 - rank
    return s


def shown(listed) -> list[int]:
    return [b.row for b in listed]


@pytest.mark.parametrize(
    "title, name, lo, hi, extra, partial",
    [
        ("Catching Fire (The Hunger Games, #2)", "The Hunger Games", 2, 2, (), False),
        ("Dune Messiah (Dune Chronicles #2)", "Dune Chronicles", 2, 2, (), False),
        ("Boxset (Harry Potter, #1-7)", "Harry Potter", 1, 7, (), False),
        ("Saga (Twilight, #1-4 + 3.5)", "Twilight", 1, 4, (3.5,), False),
        ("Four (Divergent, #0.1 - 0.4)", "Divergent", 0.1, 0.4, (), False),
        ("OotP (Harry Potter, #5, Part 1)", "Harry Potter", 5, 5, (), True),
        ("Storm (Ice and Fire, #3: Part 2 of 2)", "Ice and Fire", 3, 3, (), True),
        ("Stories (The Selection, #0.5, 2.5)", "The Selection", 0.5, 0.5, (2.5,), False),
        ("Night Play (Dark-Hunter #5, Were-Hunter #1)", "Dark-Hunter", 5, 5, (), False),
    ],
)
def test_series_notes_are_read_from_titles(title, name, lo, hi, extra, partial):
    note = parse_series_note(title)
    assert (note.name, note.lo, note.hi, note.extra, note.partial) == (
        name,
        lo,
        hi,
        extra,
        partial,
    )


def test_no_series_note_no_series():
    assert parse_series_note("Pride and Prejudice") is None
    assert parse_series_note("#GIRLBOSS") is None


def test_editions_know_what_they_hold(works):
    assert works.contains[5] == {0, 1, 2}  # "#1-3" box set
    assert works.main[6] == 2  # "#3, Part 1" collapses onto Physik
    assert works.contains[11] == {9, 10, 12, 13}  # "The Complete Novels": all of Austen's
    assert works.contains[18] == {19, 20, 21}  # named: The Hobbit, The Lord of the Rings


def test_rating_a_later_entry_implies_the_earlier_ones(works):
    assert works.implied_read([2]) == {0, 1, 2}
    # ... but not in a series read in any order, and not when the reader says so
    assert works.implied_read([8]) == {8}
    key = works.series_keys[int(works.series[2])]
    assert works.implied_read([2], {key: False}) == {2}


def test_a_book_inside_a_rated_omnibus_counts_as_read(works):
    assert {0, 1, 2} <= works.implied_read([5])
    assert {9, 10, 12, 13} <= works.implied_read([11])


def test_no_ratings_a_sequel_becomes_the_start_of_its_series(lists):
    listed = lists.assemble(scores_for(3), ReaderBooks.of(), 3)
    assert listed[0].row == 0 and listed[0].note == START and listed[0].scored_row == 3


def test_the_next_unread_entry_stands_in_for_a_later_one(lists):
    # read #1 and #2; the model likes #4 best: #3 is shown, labelled
    listed = lists.assemble(scores_for(3, 14), ReaderBooks.of(known=[1]), 2)
    assert shown(listed) == [2, 14] and listed[0].note == NEXT


def test_never_an_entry_below_the_readers_progress(lists):
    listed = lists.assemble(scores_for(0, 1, 14), ReaderBooks.of(known=[2]), 2)
    assert 0 not in shown(listed) and 1 not in shown(listed)
    assert shown(listed)[0] == 14


def test_one_entry_per_series_in_recommendations_two_in_more_like_this(lists):
    s = scores_for(0, 1, 2, 14)
    assert shown(lists.assemble(s, ReaderBooks.of(), 2)) == [0, 14]
    # more like Septimus #1 (counts as read): #2 then #3, in order
    assert shown(lists.assemble(s, ReaderBooks.of(known=[0]), 3, series_cap=2)) == [1, 2, 14]


def test_a_novella_waits_for_the_reader_to_get_there(lists):
    assert shown(lists.assemble(scores_for(4), ReaderBooks.of(), 1)) == [0]
    assert shown(lists.assemble(scores_for(4), ReaderBooks.of(known=[1]), 1)) == [4]


def test_no_edition_overlapping_a_read_or_listed_book(lists):
    # rated The Hobbit: the 4-book boxed set is out; rated Austen's Complete Novels: Emma too
    assert 18 not in shown(lists.assemble(scores_for(18, 14), ReaderBooks.of(known=[19]), 2))
    assert 10 not in shown(lists.assemble(scores_for(10, 14), ReaderBooks.of(known=[11]), 2))
    # Pride and Prejudice listed: The Complete Novels may not follow it
    listed = lists.assemble(scores_for(9, 11, 14), ReaderBooks.of(), 2)
    assert shown(listed) == [9, 14]


def test_a_partial_edition_collapses_onto_the_main_one(lists):
    listed = lists.assemble(scores_for(6, 2, 14), ReaderBooks.of(known=[1]), 2)
    assert shown(listed) == [2, 14]


def test_hidden_books_are_never_listed_and_block_their_series(lists):
    listed = lists.assemble(scores_for(14, 2), ReaderBooks.of(known=[0], blocked=[14, 1]), 2)
    assert 14 not in shown(listed) and 1 not in shown(listed) and 2 not in shown(listed)


def test_at_most_three_books_by_one_author_in_ten(lists):
    s = scores_for(9, 10, 12, 13, 14)
    assert shown(lists.assemble(s, ReaderBooks.of(), 4)) == [9, 10, 12, 14]
    # asked for that author: no limit
    assert shown(lists.assemble(s, ReaderBooks.of(), 4, author_cap=None)) == [9, 10, 12, 13]


def test_any_order_series_are_left_as_scored(lists):
    listed = lists.assemble(scores_for(8), ReaderBooks.of(), 1)
    assert shown(listed) == [8] and listed[0].note == ""


def test_minus_infinity_is_never_listed(lists):
    s = np.full(len(BOOKS), -np.inf)
    s[15] = 1.0
    assert shown(lists.assemble(s, ReaderBooks.of(), 5)) == [15]


def test_the_audit_counts_each_problem_once_per_slot(works):
    from bookrec_tui.evaluation.list_audit import audit_list, series_relevant

    authors = ListAssembler(works, np.array([a for _, a in BOOKS])).author_ids
    # revealed: Septimus #2 (so #1 is implied read) and Pride and Prejudice
    found = audit_list(works, authors, [1, 9], [0, 3, 11, 14, 10, 12])
    # #1: implied read; #4 while #3 unread: a gap and the series' second entry (crowding);
    # The Complete Novels overlaps P&P, and then Emma and Persuasion overlap it
    assert found == {"sequel_gap": 1, "implied_read": 1, "edition_overlap": 3, "crowding": 1}
    crowded = audit_list(works, authors, [], [0, 1, 9, 10, 12, 13])
    assert crowded["crowding"] == 2 and crowded["sequel_gap"] == 0  # #2 after #1 listed
    hidden, stars = np.array([0, 2, 14]), np.array([5, 5, 4])
    assert series_relevant(works, np.array([1]), hidden, stars) == {2, 14}  # #1 implied read


def test_the_protocol_puts_raw_and_final_lists_side_by_side(lists):
    from bookrec_tui.evaluation.list_audit import evaluate_lists

    # A model that loves later Septimus entries and the editions: the raw list suffers,
    # the final list does not, and finds the relevant hidden book (Standalone One).
    def score(rows, stars):
        return scores_for(3, 2, 5, 6, 11, 14)

    reader = (np.array([1, 9, 14, 0]), np.array([5, 4, 5, 5]))  # reveal 2, hide 2
    result = evaluate_lists({"m": score}, [reader], lists, k=2, n=4)
    raw, final = result["m (raw)"], result["m (final list)"]
    assert raw["sequel_gap rate"] > 0 and raw["edition_overlap rate"] > 0
    assert final["sequel_gap + implied_read rate"] == 0 and final["edition_overlap rate"] == 0
    # #1 is hidden but implied read by #2: only Standalone One counts as relevant
    assert final["ndcg@10"] > 0 and final["readers"] == 1


def test_blending_stars_into_the_order_keeps_three_by_an_author_in_ten(lists):
    from bookrec_tui.core.listing import ListedBook

    # 10 slots: Austen's 3 low-scored books have the best stars; a blend would lift them
    rows = [14, 15, 16, 17, 19, 20, 0, 9, 10, 12, 13]
    listed = [ListedBook(r, r, 10.0 - i) for i, r in enumerate(rows)]
    stars = np.array([3.0] * 7 + [5.0] * 4)
    order = lists.reorder(listed, stars, weight=5.0)
    top10 = [listed[i].row for i in order[:10]]
    assert sum(r in (9, 10, 12, 13) for r in top10) == 3
    assert [listed[i].row for i in order[:3]] == [9, 10, 12]  # the stars did move them up


def test_a_loved_series_continues_first_whatever_the_model_ranks(lists):
    """Fellowship loved: The Two Towers leads the list, though the model puts two
    standalones above it; the Septimus Heap reader's next book comes second."""
    scores = scores_for(14, 15, 21, 2)
    reader = ReaderBooks.of(known=[20, 0], stars={20: 5, 0: 4})
    listed = lists.assemble(scores, reader, 4)
    assert shown(listed) == [21, 1, 14, 15]
    assert [b.note for b in listed[:2]] == [NEXT, NEXT]
    # The model's own order: without the stars nothing is lifted.
    plain = lists.assemble(scores, ReaderBooks.of(known=[20, 0]), 4)
    assert shown(plain)[:2] == [14, 15]


def test_only_loved_series_read_in_order_continue(lists):
    scores = scores_for(14, 15, 16, 17)
    # Liked (3 stars), or loved then disliked a later entry: no lift.
    for stars in ({20: 3}, {0: 5, 1: 2}):
        reader = ReaderBooks.of(known=list(stars), stars=stars)
        assert shown(lists.assemble(scores, reader, 2)) == [14, 15], stars
    # Discworld is read in any order: nothing to continue.
    assert shown(lists.assemble(scores, ReaderBooks.of(known=[7], stars={7: 5}), 2)) == [14, 15]


def test_no_more_loved_series_lead_than_the_cap(lists, monkeypatch):
    import bookrec_tui.core.listing as listing

    monkeypatch.setattr(listing, "CONTINUE_MAX", 1)
    # Two loved series: only the one whose next entry the model scores higher leads.
    reader = ReaderBooks.of(known=[0, 1, 20], stars={0: 5, 1: 5, 20: 5})
    assert shown(lists.assemble(scores_for(14, 15, 2, 21), reader, 3)) == [2, 14, 15]
    assert shown(lists.assemble(scores_for(14, 15, 21, 2), reader, 3)) == [21, 14, 15]


def test_the_series_given_more_stars_continues_first(lists, monkeypatch):
    """A 5-star series' next book leads a 4-star one's, whichever the model scores higher;
    with room for one, only the 5-star series continues."""
    import bookrec_tui.core.listing as listing

    reader = ReaderBooks.of(known=[0, 1, 20], stars={0: 4, 1: 4, 20: 5})
    assert shown(lists.assemble(scores_for(14, 15, 2, 21), reader, 4)) == [21, 2, 14, 15]
    monkeypatch.setattr(listing, "CONTINUE_MAX", 1)
    assert shown(lists.assemble(scores_for(14, 15, 2, 21), reader, 3)) == [21, 14, 15]


def test_the_star_blend_keeps_a_continued_series_first(lists):
    """New Moon after a 5-star Twilight is predicted fewer stars than the books below it;
    the blend still leaves it first (its note says why), and orders the rest by stars."""
    reader = ReaderBooks.of(known=[20], stars={20: 5})
    listed = lists.assemble(scores_for(14, 15, 16, 21), reader, 4)
    assert shown(listed)[0] == 21 and listed[0].continues
    stars = np.array([3.0, 3.5, 4.5, 4.0])  # for 21, 14, 15, 16 as listed
    order = lists.reorder(listed, stars, weight=10.0)
    assert [listed[i].row for i in order] == [21, 15, 16, 14]


def test_more_like_a_series_book_leads_with_its_next_entry(tiny_rec, monkeypatch):
    """ "More like Dune" starts with Dune Messiah even where the model's "more like this"
    scores put another book above it; the reader's own loved series do not lead it."""
    rec = tiny_rec
    dune, messiah = rec.resolve("Dune"), rec.resolve("Dune Messiah")
    enders = rec.resolve("Ender's Game")
    plain = rec.similar_scores

    def messiah_low(row, rows=None, link=None):
        scores = np.array(plain(row, rows, link), dtype=np.float64)
        at = (
            (lambda b: rec.catalogue.row(b))
            if rows is None
            else (lambda b: int(np.searchsorted(rows, rec.catalogue.row(b))))
        )
        scores[at(enders)] = scores.max() + 1.0
        scores[at(messiah)] = np.sort(scores)[-4]  # the model's 4th
        return scores

    monkeypatch.setattr(rec, "similar_scores", messiah_low)
    hits = rec.similar(dune, 5, ratings={rec.resolve("The Fellowship of the Ring"): 5})
    assert [h.book_id for h in hits[:2]] == [messiah, enders]
    assert hits[0].note == NEXT
    assert rec.resolve("The Two Towers") not in [h.book_id for h in hits]


def test_a_calibrated_list_follows_the_genres_the_reader_loved(works):
    """A reader who loved Pride and Prejudice and Magyk, scored by a model that leans to
    other books: calibrated, the list makes room for Austen (the genre they loved) below the
    next Septimus Heap, which stays first, and one author still holds at most three of ten;
    uncalibrated, the model's order."""
    austen = [9, 10, 11, 12, 13]
    counts = np.zeros((len(BOOKS), len(GENRE_NAMES)), np.int32)
    counts[:, GENRE_NAMES.index("fantasy")] = 100
    counts[austen] = 0
    counts[austen, GENRE_NAMES.index("romance")] = 100
    counts[:, GENRE_NAMES.index("fiction")] = 500  # broad: says nothing of taste
    lists = ListAssembler(works, np.array([a for _, a in BOOKS]), genre_counts=counts)
    reader = ReaderBooks.of(known=[0, 9], stars={0: 5.0, 9: 5.0})
    scores = scores_for(14, 15, 16, 17, 7, 10, 12)
    plain = shown(lists.assemble(scores, reader, 5))
    assert plain == [1, 14, 15, 16, 17]
    calibrated = shown(lists.assemble(scores, reader, 5, calibration=0.95))
    assert calibrated[0] == 1  # the loved series' next entry stays first
    assert {10, 12} <= set(calibrated)  # Emma and Persuasion come in
    assert len(set(calibrated) & set(austen)) <= 3
    # No loved book, or no genres: the model's order.
    assert shown(lists.assemble(scores, ReaderBooks.of(known=[9]), 5, calibration=0.95)) == [
        14,
        15,
        16,
        17,
        7,
    ]
