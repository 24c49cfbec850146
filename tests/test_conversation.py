"""One place understands a line: the session answers with replies and effects, the app shows
them and carries the effects out, and no face words a reply its own way (the tiny world)."""

from __future__ import annotations

import pytest
from test_app import loaded, transcript, type_line

from bookrec_tui.chat import wording
from bookrec_tui.chat.grammar import Action
from bookrec_tui.chat.replies import InBackground, OpenMap, Quit, ReplyKind
from bookrec_tui.chat.session import ReaderSession, finish
from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.app import BookrecApp
from bookrec_tui.tui.widgets import BookList

SHELF = ((1, 5), (29, 4), (32, 1))  # The Hobbit, The Hunger Games, Twilight
HOBBIT = 1


def hobbit_export(rec, folder) -> str:
    """A Goodreads export holding The Hobbit, 4 stars."""
    c = rec.catalogue
    export = folder / "goodreads_library_export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n"
        f"{int(c.goodreads_ids[c.row(HOBBIT)])},The Hobbit,J.R.R. Tolkien,4,read\n"
    )
    return str(export)


def reader(rec, folder, name: str = "r") -> ReaderSession:
    profile = Profile.open(name, folder)
    for book_id, stars in SHELF:
        profile.rate(book_id, stars)
    return ReaderSession(rec, profile)


@pytest.mark.parametrize("line", ["onboard", "start", "/questions"])
def test_the_session_starts_the_questions(session, line):
    reply = session.respond(line)
    assert reply.kind is ReplyKind.ONBOARDING and session.questions.book == reply.books[0]


def test_map_quit_and_import_come_back_as_effects(session, tmp_path):
    assert session.respond("map").effects == (OpenMap("pca"),)
    assert session.respond("book map t-sne").effects == (OpenMap("tsne"),)
    assert session.respond("bye").quit and session.respond("quit").effects == (Quit(),)
    export = hobbit_export(session.rec, tmp_path)
    slow = session.respond(f"import {export}")
    (effect,) = slow.effects
    assert isinstance(effect, InBackground) and slow.text == "" and session.importing.plan is None
    preview = effect.job()  # what the face's worker runs
    assert "Type `yes`" in preview.text and session.importing.plan is not None
    assert "Type `yes`" in finish(session.respond(f"import {export}")).text


def test_a_line_sent_with_a_picked_suggestion_acts_on_that_book(session):
    dune = session.rec.resolve("Dune")
    assert session.respond("loved dune", book_id=dune).changed and session.ratings == {dune: 5}
    details = session.respond("dune", book_id=dune)  # no action, no stars: its details
    assert details.books == [dune] and "Goodreads average" in details.text
    assert session.ratings == {dune: 5}


def test_a_key_on_a_book_says_what_the_reader_did(session):
    hobbit = session.rec.resolve("The Hobbit")
    rated = session.act_on_book(Action.RATE, hobbit, 4)
    assert rated.said == "The Hobbit 4" and session.ratings == {hobbit: 4}
    more = session.act_on_book(Action.MORE, hobbit)
    assert more.said == "more like The Hobbit" and more.kind is ReplyKind.SIMILAR
    assert session.act_on_book(Action.DETAILS, hobbit).said == ""


def test_the_cli_words_a_recommendation_as_the_chat_does(tiny_rec, tiny_world, tmp_path):
    """Same ratings, same list: each CLI line carries the chat's predicted stars and reason."""
    from test_cli import run

    s = reader(tiny_rec, tmp_path)
    rates = [arg for book_id, stars in SHELF for arg in ("--rate", f"id:{book_id}={stars}")]
    out = run(
        "recommend",
        *rates,
        "-n",
        "5",
        data_dir=tiny_world.data_dir,
        model_dir=tiny_world.model_dir,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for line, r in zip(lines, s.recommendations(5), strict=True):
        assert wording.predicted(r.predicted_rating) in line and s.reason(r) in line, line


@pytest.mark.asyncio
async def test_the_app_shows_the_sessions_reply_for_each_line(tiny_app, tmp_path):
    """The app says what a session in the same state says, word for word: no line is
    understood or worded by the app itself."""
    for book_id, stars in SHELF:
        Profile.open("app", tmp_path).rate(book_id, stars)
    app = BookrecApp(**tiny_app, profile="app", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        twin = reader(app.session.rec, tmp_path / "twin")
        for line in (
            "recs 5",
            "shelf",
            "why the hobbit",
            "more like dune",
            "3",
            "loved it",
            "details catching fire",
            "undo",
            "onboard",
            "start",
            "help",
        ):
            await type_line(pilot, line)
            expected = twin.handle(line).text
            assert transcript(app).endswith(f"you › {line}\n{expected}"), line


@pytest.mark.asyncio
async def test_the_app_carries_out_each_effect(tiny_app, tmp_path):
    from bookrec_tui.tui.map_screen import MapScreen

    app = BookrecApp(**tiny_app, profile="fx", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        export = hobbit_export(app.session.rec, tmp_path)
        await type_line(pilot, f"import {export}")  # InBackground: read in a worker
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Type `yes`" in transcript(app)
        await type_line(pilot, "yes")
        assert app.session.ratings == {HOBBIT: 4}
        assert app.query_one("#shelf", BookList).option_count == 1  # changed: panels redrawn
        await type_line(pilot, "map")  # OpenMap
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, MapScreen)
        await pilot.press("escape")
        await pilot.pause()
        await type_line(pilot, "quit")  # Quit
        assert not app.is_running


@pytest.mark.asyncio
async def test_fetch_is_carried_out_when_the_data_is_missing(tmp_path, monkeypatch):
    from bookrec_tui.store import fetch

    fetched = []
    monkeypatch.setattr(fetch, "fetch_goodbooks", lambda dest, progress: fetched.append(dest))
    app = BookrecApp(data_dir=str(tmp_path / "nothing"), profile="m", profile_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await type_line(pilot, "fetch")  # FetchData
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fetched == [tmp_path / "nothing"]  # then it loads again: still nothing there
        assert "Type `fetch`" in transcript(app) and app.session is None
