"""The conversation (no screen): a reader's flows against the real data and shipped model."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookrec_tui.store.profile import Profile


def test_rating_by_misspelt_title_saves_it(session, tmp_path):
    reply = session.handle("loved hary poter and the sorcerers stone")
    assert reply.changed and "Harry Potter" in reply.text
    again = Profile.open("t", tmp_path)
    assert list(again.ratings.values()) == [5]


def test_three_ratings_unlock_personal_recommendations(session):
    for line in ("loved the hobbit", "the fellowship of the ring 5", "4 stars the two towers"):
        assert session.handle(line).changed
    reply = session.handle("recs 5")
    assert reply.kind == "recs" and len(reply.books) == 5
    assert "because you" in reply.text
    assert not set(reply.books) & set(session.ratings)


def test_ambiguous_title_offers_a_numbered_choice(session):
    reply = session.handle("loved harry potter")
    assert reply.kind == "choose" and len(reply.books) >= 2
    picked = session.handle("2")
    assert picked.changed and session.ratings == {reply.books[1]: 5}


def test_undo_and_forget(session):
    session.handle("loved dune frank herbert")
    (book,) = session.ratings
    session.handle("dune frank herbert 2")
    assert session.ratings[book] == 2
    assert "back to 5" in session.handle("undo").text
    assert session.ratings[book] == 5
    session.handle("forget dune frank herbert")
    assert session.ratings == {}


def test_more_like_and_why_and_details(session):
    more = session.handle("more like the hunger games")
    assert more.kind == "similar" and len(more.books) == 10
    # Listed books can be picked by number: details, or rated.
    assert session.handle("2").text.startswith(session.title(more.books[1]))
    assert session.handle("3 4").changed and session.ratings == {more.books[2]: 4}
    session.handle("undo")
    session.handle("loved the hunger games")
    why = session.handle("why catching fire")
    assert "because you loved The Hunger Games" in why.text
    details = session.handle("details catching fire")
    assert "goodreads.com/book/show/" in details.text


def test_onboarding_asks_answers_and_skips(session):
    first = session.start_onboarding()
    assert first.kind == "onboarding" and session.questions.book == first.books[0]
    second = session.handle("5")
    assert session.ratings == {first.books[0]: 5}
    assert second.books[0] != first.books[0]
    session.handle("s")
    session.handle("n")
    assert len(session.ratings) == 1 and len(session.profile.not_read) == 1
    # Typing anything else leaves onboarding and is understood as usual.
    assert session.handle("recs").kind == "recs" and session.questions.book is None


def test_onboarding_read_no_opinion_is_not_a_rating_and_is_never_asked_again(session):
    first = session.start_onboarding().books[0]
    reply = session.handle("0")
    assert reply.kind == "onboarding" and "you read" in reply.text
    assert session.ratings == {} and session.questions.answers[first] == 0
    second = reply.books[0]
    assert second != first
    session.handle("r")  # the same answer by its letter
    assert session.questions.answers[second] == 0
    asked = set(session.questions.answers)
    for _ in range(5):
        assert session.handle("n").books[0] not in asked
        asked = set(session.questions.answers)
    for stars in ("5", "4", "4"):
        session.handle(stars)
    recs = session.handle("recs 50").books
    assert first not in recs and second not in recs  # read, so never recommended


def test_onboarding_starts_from_what_the_profile_knows(session):
    session.handle("loved the hobbit")
    hobbit = next(iter(session.ratings))
    session.start_onboarding()
    assert session.questions.answers[hobbit] == 5 and session.questions.book != hobbit


def test_onboarding_never_asks_about_a_book_read_in_an_earlier_run(tiny_rec, tmp_path):
    """`read dune` (or a Goodreads import's read books) is an answer: asking "Have you read
    Dune?" in a later run would ignore it. (It did: only ratings, not-read and to-read books
    were taken from the profile.)"""
    from bookrec_tui.chat.grammar import Action
    from bookrec_tui.chat.session import ReaderSession

    rec = tiny_rec
    first = ReaderSession(rec, Profile.open("r", tmp_path)).start_onboarding().books[0]
    # (the `r` key on the book: the first question here is "It", which a typed line would
    # take for "the book just discussed")
    ReaderSession(rec, Profile.open("r", tmp_path)).act_on_book(Action.READ, first)
    later = ReaderSession(rec, Profile.open("r", tmp_path))
    assert first in later.profile.read and later.start_onboarding().books != [first]
    assert later.questions.answers[first] == 0  # read, no opinion


def test_genre_recs_and_unknown_genre(session):
    assert session.handle("recs fantasy").kind == "recs"
    assert session.handle("recs non-fiction").kind == "recs"
    unknown = session.handle("recs qwzx")
    assert unknown.kind == "error" and "non-fiction" in unknown.text and "horror" in unknown.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_input_gets_a_reply_and_never_a_traceback(session, line):
    reply = session.handle(line)
    assert reply.text
    assert "something went wrong" not in reply.text  # what a line that raised gets
    assert all(1 <= v <= 5 for v in session.ratings.values())


def test_import_from_the_chat_previews_then_asks(real_session, exports_dir):
    session = real_session  # a real reader's export, matched against the real catalogue
    export = exports_dir
    preview = session.handle(f"/import {export / 'notmahi__d3-book-timeline.csv'}")
    assert "Type `yes`" in preview.text and session.ratings == {}
    assert session.handle("no").kind != "error" and session.ratings == {}
    session.handle(f"import {export / 'notmahi__d3-book-timeline.csv'}")
    done = session.handle("yes")
    assert done.changed and len(session.ratings) >= 150
    assert session.handle("import /nonexistent.csv").kind == "error"


def test_import_conflicts_keep_the_readers_ratings_unless_told_to_replace(session, tmp_path):
    """A book rated here and differently on Goodreads: `yes` keeps the reader's stars,
    `yes replace` takes Goodreads'."""
    book = session.rec.catalogue
    hobbit = session.rec.resolve("The Hobbit")
    gr_id = int(book.goodreads_ids[book.row(hobbit)])
    export = tmp_path / "goodreads_library_export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n"
        f"{gr_id},The Hobbit,J.R.R. Tolkien,2,read\n"
    )
    session.rate(hobbit, 5)
    preview = session.handle(f"import {export}")
    assert "1 of them you already rated differently" in preview.text
    session.handle("yes")
    assert session.ratings[hobbit] == 5
    session.handle(f"import {export}")
    session.handle("yes replace")
    assert session.ratings[hobbit] == 2


JUNK = st.text(
    alphabet=st.characters(
        # no letters, no numbers, also after NFKD: it turns "¼" into "1⁄4" (a fair search
        # for "1/4 جرام") and the symbol "㋊" into "11月" (a fair search for "11/22/63")
        blacklist_categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"),
    ).filter(lambda c: not any(x.isalnum() for x in unicodedata.normalize("NFKD", c))),
    max_size=400,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(["", "loved ", "rate ", "forget ", "/", "more like "]), max_size=1),
    JUNK,
)
def test_junk_never_changes_the_profile(session, verb, junk):
    """Control characters, symbols, emoji and punctuation, with or without a verb in front:
    a reply, never a saved change."""
    before = session.profile.path.read_bytes() if session.profile.path.exists() else None
    reply = session.handle("".join(verb) + junk)
    assert reply.text and not reply.changed
    after = session.profile.path.read_bytes() if session.profile.path.exists() else None
    assert after == before


def test_it_and_stars_alone_mean_the_book_just_discussed(session):
    dune = session.rec.resolve("Dune")
    session.handle("details dune")
    assert session.handle("loved it").changed and session.ratings == {dune: 5}
    assert session.handle("3 stars").changed and session.ratings == {dune: 3}
    recs = session.handle("recs")
    ask = session.handle("4 stars")  # after a list: which one?
    assert ask.kind == "choose" and session.ratings == {dune: 3}
    assert session.handle("2").changed and session.ratings[recs.books[1]] == 4


def test_recs_zero_says_what_it_means(session):
    reply = session.handle("recs 0")
    assert reply.kind == "error" and "recs 10" in reply.text and not reply.books


def test_it_with_nothing_discussed_asks_which_book(session):
    reply = session.handle("loved it")
    assert reply.kind == "error" and "Which book" in reply.text and session.ratings == {}


def test_natural_phrasing(session):
    more = session.handle("something like Gone Girl")
    assert more.kind == "similar" and "More like Gone Girl" in more.text
    dune = session.rec.resolve("Dune")
    liked = session.handle("I really liked Dune but hated its sequels")
    assert session.ratings == {dune: 4} and "but hated its sequels" in liked.text
    half = session.handle("dune 4.5")
    assert "whole stars" in half.text and session.ratings == {dune: 4}
    assert session.handle("5 stars").changed and session.ratings == {dune: 5}
    secret = session.rec.resolve("The Secret History")
    session.handle("5/5 the secret history")
    session.handle("forget the secret history")
    session.handle("the secret history ★★★★")
    assert session.ratings[secret] == 4


def _export(path, rows: list[str]):
    path.write_text(
        "Book Id,Title,Author,ISBN,ISBN13,My Rating,Exclusive Shelf\n" + "\n".join(rows)
    )
    return path


def test_import_is_one_undoable_step_and_no_cancels(session, tmp_path):
    c = session.rec.catalogue
    hobbit, dune = session.rec.resolve("The Hobbit"), session.rec.resolve("Dune")
    gr = {b: int(c.goodreads_ids[c.row(b)]) for b in (hobbit, dune)}
    export = _export(
        tmp_path / "lib.csv",
        [
            f"{gr[hobbit]},The Hobbit,J.R.R. Tolkien,,,4,read",
            f"{gr[dune]},Dune,Frank Herbert,,,0,to-read",
        ],
    )
    session.handle("loved the fellowship of the ring")
    before = dict(session.ratings)
    session.handle(f"import {export}")
    cancelled = session.handle("no")
    assert "cancelled" in cancelled.text and session.ratings == before
    session.handle(f"import {export}")
    assert session.handle("yes").changed and session.ratings[hobbit] == 4
    assert dune in session.profile.to_read
    undone = session.handle("undo")
    assert "import" in undone.text and session.ratings == before
    assert dune not in session.profile.to_read


def test_import_preview_counts_add_up_and_volumes_match_volumes(session, tmp_path):
    c = session.rec.catalogue
    hobbit = session.rec.resolve("The Hobbit")
    gr, best = int(c.goodreads_ids[c.row(hobbit)]), int(c.best_book_ids[c.row(hobbit)])
    export = _export(
        tmp_path / "lib.csv",
        [
            f"{gr},The Hobbit,J.R.R. Tolkien,,,5,read",
            f"{best},The Hobbit (another edition),J.R.R. Tolkien,,,4,read",
            ',"Dragon Ball, Vol. 2: Wish Upon a Dragon (Dragon Ball, #2)",Akira Toriyama,,,3,read',
            ',"Dragon Ball, Vol. 3: The Training of Kame-Sennin",Akira Toriyama,,,3,read',
            ',"Dragon Ball, Vol. 4: Strongest Under the Heavens",Akira Toriyama,,,3,read',
        ],
    )
    preview = session.handle(f"import {export}").text
    assert "5 rated books: 1 found in the catalogue, 3 not in it; 1 more" in preview
    nothing = _export(tmp_path / "none.csv", [",Not A Real Book Title,Nobody Atall,,,4,read"])
    reply = session.handle(f"import {nothing}")
    assert reply.kind == "error" and "`yes`" not in reply.text
    session.handle("yes")
    assert session.ratings == {}


def test_a_title_that_starts_like_a_rating_is_searched_not_rated(session):
    for title in ("love in the time of cholera", "Like Water for Chocolate"):
        reply = session.handle(title)
        assert reply.kind == "search" and not reply.changed, title
    assert session.ratings == {}
    assert session.handle("loved love in the time of cholera").changed


def test_recommendations_are_ready_is_said_once(session):
    """Said by the rating that unlocks them, not again when a book is re-rated."""
    for line in ("loved the hobbit", "liked dune"):
        assert "Rate" in session.handle(line).text
    assert "recommendations are ready" in session.handle("hated twilight").text
    assert "ready" not in session.handle("twilight 2").text


def test_switching_profile_leaves_nothing_of_the_last_reader_behind(session, tmp_path):
    """After `profile bob`, Ann's open list, previewed import, onboarding question and the book
    she discussed are gone: Bob's `2`, `yes`, `loved it` or `read` do not act on them."""
    book = session.rec.catalogue
    hobbit = session.rec.resolve("The Hobbit")
    export = tmp_path / "goodreads_library_export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n"
        f"{int(book.goodreads_ids[book.row(hobbit)])},The Hobbit,J.R.R. Tolkien,4,read\n"
    )
    session.handle("more like the hobbit")  # a numbered list, and the Hobbit discussed
    assert "Type `yes` to import" in session.handle(f"import {export}").text
    session.handle("onboard")
    assert session.questions.book is not None
    switched = session.handle("profile bob")
    assert switched.changed and "Now reading as 'bob': 0 ratings" in switched.text
    assert session.profile.path.parent == tmp_path and session.questions.book is None
    assert session.handle("loved it").kind == "error"
    assert session.handle("2").kind == "error"
    assert not session.handle("yes").changed
    assert session.ratings == {} and Profile.open("t", tmp_path).ratings == {}


def test_an_export_of_read_and_to_read_shelves_without_ratings_is_imported(session, tmp_path):
    """The chat imports what such an export holds, as the CLI does, and says ratings are what
    makes the lists the reader's own."""
    c = session.rec.catalogue
    hobbit, dune = session.rec.resolve("The Hobbit"), session.rec.resolve("Dune")
    export = tmp_path / "goodreads_library_export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n"
        f"{int(c.goodreads_ids[c.row(hobbit)])},The Hobbit,J.R.R. Tolkien,0,read\n"
        f"{int(c.goodreads_ids[c.row(dune)])},Dune,Frank Herbert,0,to-read\n"
    )
    preview = session.handle(f"import {export}")
    assert preview.kind != "error" and "1 read without a rating and 1 to-read" in preview.text
    done = session.handle("yes")
    assert done.changed and "Imported 0 ratings, 1 read books and 1 to-read books" in done.text
    assert "ratings are what your recommendations are made from" in done.text
    assert session.profile.read == {hobbit} and session.profile.to_read == {dune}
    assert session.ratings == {}
