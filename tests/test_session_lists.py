"""Chat commands about what the reader has read, does not want, and series order."""

from __future__ import annotations

import pytest

from bookrec_tui.chat.session import ReaderSession
from bookrec_tui.store.profile import Profile


@pytest.fixture
def session(rec, tmp_path) -> ReaderSession:
    s = ReaderSession(rec, Profile.open("t", tmp_path))
    for line in ("loved the hobbit", "liked pride and prejudice", "loved the catcher in the rye"):
        assert s.handle(line).changed
    return s


def test_read_without_a_rating_is_saved_and_leaves_the_list(session, tmp_path):
    top = session.recommendations(10)[0]
    reply = session.handle(f"read {top.title}")
    assert reply.changed and "no rating" in reply.text
    assert top.book_id in Profile.open("t", tmp_path).read
    assert top.book_id not in {r.book_id for r in session.recommendations(10)}
    assert top.book_id not in session.ratings  # no opinion: not a rating
    session.handle("undo")
    assert top.book_id not in Profile.open("t", tmp_path).read


def test_not_interested_by_number_after_a_list_hides_it_for_good(session, tmp_path):
    listed = session.handle("recs 10").books
    reply = session.handle("not interested 2")
    assert reply.changed and "won't suggest it again" in reply.text
    assert listed[1] in Profile.open("t", tmp_path).hidden
    assert listed[1] not in session.handle("recs 20").books
    assert "no longer marked not interested" in session.handle("undo").text
    assert listed[1] in session.handle("recs 10").books


def test_more_by_an_author_lists_only_theirs_in_series_order(session):
    reply = session.handle("more by rowling")
    assert reply.kind == "recs" and "More by J.K. Rowling" in reply.text
    lines = reply.text.splitlines()[1:]
    assert len(lines) > 3 and all("J.K. Rowling" in line for line in lines)
    hp = [line for line in lines if "(Harry Potter, #" in line]
    assert len(hp) == 1 and "#1)" in hp[0] and "start of a series" in hp[0]


def test_series_order_can_be_overridden_by_the_reader(session, tmp_path):
    reply = session.handle("any order the fellowship of the ring")
    assert reply.changed and "any order" in reply.text
    assert any(not v for v in Profile.open("t", tmp_path).series_order.values()), (
        "saved as read in any order"
    )
    assert "in order" in session.handle("in order the fellowship of the ring").text


def test_reasons_say_similar_readers_when_no_single_book_drives_it(session):
    text = session.handle("recs 20").text
    assert "because you" in text or "readers with similar taste" in text
    reasons = ("because you", "readers with similar taste", "loved by readers of", "series")
    for line in text.splitlines()[1:]:
        assert any(reason in line for reason in reasons), line


def test_a_driver_in_none_of_the_books_genres_is_named_as_its_readers(rec, tmp_path):
    """Harry Potter drives To Kill a Mockingbird through the readers both share, not as a
    book like it: "loved by readers of", while The Hunger Games (young adult, like Harry
    Potter) is "because you loved" it."""
    s = ReaderSession(rec, Profile.open("g", tmp_path))
    for line in (
        "loved harry potter and the sorcerer's stone",
        "loved the hobbit",
        "liked gone girl",
    ):
        assert s.handle(line).changed
    lines = {
        line.split(" — ")[0].split(". ", 1)[-1]: line
        for line in s.handle("recs 12").text.splitlines()
    }
    assert "loved by readers of Harry Potter" in lines["To Kill a Mockingbird"]
    hunger = next(v for k, v in lines.items() if k.startswith("The Hunger Games"))
    assert "because you loved Harry Potter" in hunger


def test_a_driver_by_the_same_author_is_a_reason_whatever_the_shelves_say(rec):
    """Sense and Sensibility is not shelved "classics" as Pride and Prejudice is: no genre
    in common, but one author."""
    pride, sense = (rec.lookup(t).book_id for t in ("pride and prejudice", "sense and sensibility"))
    assert rec.catalogue.share_a_genre(sense, pride) is False
    assert rec.catalogue.alike(sense, pride) is True


def test_it_means_the_book_just_discussed(session, tmp_path):
    book = session.handle("details the name of the wind").books[0]
    assert session.handle("read it").changed
    assert book in Profile.open("t", tmp_path).read
    session.handle("details twilight meyer")
    assert session.handle("not interested in this").changed
