"""Pilot tests: the app driven as a reader would, on the tiny world (tests/tiny_world.py); those
that need the real catalogue, the shipped model or its opening question use the real data."""

from __future__ import annotations

import re
import sys

import pytest

from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.app import BookrecApp
from bookrec_tui.tui.widgets import BookList


async def type_line(pilot, text: str) -> None:
    app = pilot.app
    app.query_one("#prompt").focus()
    await pilot.press(*list(text))
    await pilot.press("enter")
    await pilot.pause()


async def loaded(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert pilot.app.session is not None


def transcript(app) -> str:
    return "\n".join(str(m.render()) for m in app.query(".msg"))


#: A reader who rated three books of the tiny world: the side panel lists 20 for them.
SHELF = ((28, 5), (5, 4), (1, 5))  # The Great Gatsby, HP 1, The Hobbit


def app_with_a_shelf(tiny_app, tmp_path, name: str = "keys") -> BookrecApp:
    """The app on the tiny world for the reader of SHELF (profile ``name`` in tmp_path)."""
    profile = Profile.open(name, tmp_path)
    for book_id, stars in SHELF:
        profile.rate(book_id, stars)
    return BookrecApp(**tiny_app, profile=name, profile_dir=tmp_path)


def on_recommendation(app, index: int) -> int:
    """Keys to the recommendations list, its ``index``-th book highlighted; that book."""
    recs = app.query_one("#recs", BookList)
    recs.focus()
    recs.highlighted = index
    return recs.current_book()


# How the session answers a line that raised inside it (ReaderSession.guarded): seen on screen,
# it means a line was not understood but crashed.
RAISED = "something went wrong"


@pytest.mark.asyncio
async def test_onboard_recommend_more_like_rate_undo_quit_and_restart(tiny_app, tmp_path):
    app = BookrecApp(**tiny_app, profile="reader", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert "Have you read" in transcript(app)
        for answer in ("5", "4", "s", "3", "n", "5", "4"):
            await type_line(pilot, answer)
        assert len(app.session.ratings) == 5
        recs = app.query_one("#recs", BookList)
        assert recs.option_count == 20
        shelf = app.query_one("#shelf", BookList)
        assert shelf.option_count == 5
        # "more like" from the chat
        await type_line(pilot, "more like the hobbit")
        assert "More like The Hobbit" in transcript(app)
        # rate the top recommendation with a key, then undo it
        recs.focus()
        recs.highlighted = 0
        top = recs.current_book()
        await pilot.press("4")
        await pilot.pause()
        assert app.session.ratings[top] == 4 and shelf.option_count == 6
        await type_line(pilot, "undo")
        assert top not in app.session.ratings and shelf.option_count == 5
        await type_line(pilot, "quit")
    saved = dict(Profile.open("reader", tmp_path).ratings)
    assert len(saved) == 5

    again = BookrecApp(**tiny_app, profile="reader", profile_dir=tmp_path)
    async with again.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert again.session.ratings == saved
        assert "Welcome back! 5 books" in transcript(again)
        assert again.query_one("#shelf", BookList).option_count == 5


@pytest.mark.asyncio
async def test_onboarding_answer_read_no_opinion_adapts_the_questions(tiny_app, tmp_path):
    app = BookrecApp(**tiny_app, profile="new", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert "0 if you read it but have no opinion" in transcript(app)
        first = app.session.questions.book
        await type_line(pilot, "0")
        assert "Noted: you read" in transcript(app) and app.session.ratings == {}
        assert app.session.questions.answers[first] == 0
        for answer in ("5", "n", "4", "3"):
            await type_line(pilot, answer)
        assert len(app.session.ratings) == 3 and app.session.questions.book is not None
        asked = list(app.session.questions.answers)
        assert len(set(asked)) == 5 == len(asked)
        # the side panel lists recommendations, none of the books asked about
        recs = app.query_one("#recs", BookList)
        assert recs.option_count == 20
        await type_line(pilot, "quit")


@pytest.mark.asyncio
async def test_typing_shows_fuzzy_suggestions_and_arrow_enter_picks_one(tiny_app, tmp_path):
    app = BookrecApp(**tiny_app, profile="s", profile_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        app.query_one("#prompt").focus()
        await pilot.press(*"loved hary poter")
        await pilot.pause(0.3)  # suggestions are searched once typing pauses
        suggestions = app.query_one("#suggestions", BookList)
        assert suggestions.has_class("visible") and suggestions.option_count >= 1
        assert "Harry Potter" in str(suggestions.get_option_at_index(0).prompt)
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        ((book, stars),) = app.session.ratings.items()
        assert stars == 5 and "Harry Potter" in app.session.title(book)
        assert suggestions.book_at(1) == book


@pytest.mark.asyncio
async def test_help_screen_and_garbage_input(tiny_app, tmp_path):
    app = BookrecApp(**tiny_app, profile="h", profile_dir=tmp_path)
    async with app.run_test(size=(40, 12)) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        shown = len(app.query(".msg"))
        await type_line(pilot, "\\x00 ]]] [b]bold[/b] 🙃")
        assert len(app.query(".msg")) >= shown + 2  # echoed and answered
        assert RAISED not in transcript(app)
        prompt = app.query_one("#prompt")
        prompt.value = "loved " + "\x1b[2J\x07ü" * 20_000  # a 60,006-character paste
        await pilot.press("enter")
        await pilot.pause()
        prompt.value = "dune 99"
        await pilot.press("enter")
        await pilot.pause()
        assert RAISED not in transcript(app)  # each line answered, none by the catch-all
        assert app.session.ratings == {}
        assert not (tmp_path / "h.json").exists()  # nothing was ever written


@pytest.mark.asyncio
async def test_an_error_inside_the_session_is_shown_and_the_app_goes_on(
    tiny_app, tmp_path, monkeypatch
):
    from bookrec_tui.chat.session import ReaderSession

    app = BookrecApp(**tiny_app, profile="e", profile_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)

        def broken(self, line):
            raise RuntimeError("a bug")

        with monkeypatch.context() as patch:
            patch.setattr(ReaderSession, "_handle", broken)
            await type_line(pilot, "recs")
        last = list(app.query(".msg"))[-1]
        assert RAISED in str(last.render()) and "RuntimeError" in str(last.render())
        assert last.has_class("error")
        await type_line(pilot, "loved the hobbit")
        assert app.session.ratings  # the next line works


@pytest.mark.asyncio
async def test_missing_data_offers_to_fetch(tmp_path):
    app = BookrecApp(data_dir=str(tmp_path / "nothing"), profile="m", profile_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        text = transcript(app)
        assert "Type `fetch`" in text and "BOOKREC_DATA_DIR" in text
        assert "Loading" not in text
        await type_line(pilot, "recs")
        assert "no book data yet" in transcript(app)


def test_the_app_never_imports_tensorflow(real_data_dir, tmp_path):
    import subprocess

    code = (
        "import asyncio, sys\n"
        "from bookrec_tui.tui.app import BookrecApp\n"
        f"app = BookrecApp(data_dir={str(real_data_dir)!r}, profile_dir=__import__('pathlib')"
        f".Path({str(tmp_path)!r}))\n"
        "async def main():\n"
        "    async with app.run_test() as pilot:\n"
        "        await app.workers.wait_for_complete()\n"
        "        await pilot.pause()\n"
        "        assert app.session is not None\n"
        "asyncio.run(main())\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.asyncio
async def test_map_marks_the_shelf_picks_and_rates_books(real_data_dir, tmp_path):
    from bookrec_tui.tui.map_screen import MapCanvas, MapScreen

    profile = Profile.open("m", tmp_path)
    for book_id, stars in ((5107, 5), (2, 4), (3, 1)):  # Catcher in the Rye, HP 1, Twilight
        profile.rate(book_id, stars)
    app = BookrecApp(data_dir=str(real_data_dir), profile="m", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await type_line(pilot, "map")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MapScreen)
        drawn = str(screen.query_one(MapCanvas).render())
        assert "●" in drawn and "★" in drawn  # the reader's books and recommendations

        await pilot.press("tab")  # jump to one of the reader's books
        await pilot.pause()
        assert screen.picked in (5107, 2, 3)
        info = str(screen.query_one("#map-info").render())
        assert app.session.rec.catalogue.short_title(screen.picked) in info
        assert "More like it" in info and "◆" in str(screen.query_one(MapCanvas).render())

        await pilot.click(MapCanvas, offset=(12, 8))  # a click picks the nearest book
        await pilot.pause()
        clicked = screen.picked
        assert clicked is not None
        await pilot.press("4")
        await pilot.pause()
        assert Profile.open("m", tmp_path).ratings[clicked] == 4

        await pilot.press("plus", "plus", "right", "enter")
        await pilot.pause()
        assert screen.view.zoom == 4.0
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, MapScreen)
        assert f"{app.session.title(clicked)} 4" in transcript(app)


@pytest.mark.asyncio
async def test_after_rating_a_recommendation_with_a_key_the_cursor_stays_on_that_book(
    tiny_app, tmp_path
):
    app = app_with_a_shelf(tiny_app, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        rated = on_recommendation(app, 1)
        await pilot.press("4")
        await pilot.pause()
        shelf = app.query_one("#shelf", BookList)
        assert app.session.ratings[rated] == 4
        assert app.focused is shelf and shelf.current_book() == rated
        await pilot.press("m")  # the next key still means the book just rated
        await pilot.pause()
        assert f"More like {app.session.title(rated)}" in transcript(app)


@pytest.mark.asyncio
async def test_loved_it_after_details_rates_that_book(tiny_app, tmp_path):
    app = BookrecApp(**tiny_app, profile="d", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await type_line(pilot, "details dune")
        await type_line(pilot, "loved it")
        dune = app.session.rec.resolve("Dune")
        assert app.session.ratings == {dune: 5}
        assert "★★★★★ Dune" in transcript(app)


@pytest.mark.asyncio
async def test_the_palette_lists_the_apps_commands_and_runs_them(tiny_app, tmp_path):
    from textual.command import CommandPalette

    app = BookrecApp(**tiny_app, profile="p", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one("CommandList")
        names = {str(options.get_option_at_index(i).prompt) for i in range(options.option_count)}
        for wanted in (
            "Recommendations",
            "My shelf",
            "Book map",
            "Import Goodreads library…",
            "Export my ratings…",
            "Undo",
            "Switch profile…",
            "Help",
        ):
            assert any(wanted in name for name in names), (wanted, names)
        await pilot.press(*"shelf")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert "Your shelf is empty" in transcript(app)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        await pilot.press(*"export")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#prompt").value == "export "


@pytest.mark.asyncio
async def test_help_fits_a_small_terminal_by_scrolling_and_chat_help_lists_the_keys(
    tiny_app, tmp_path
):
    app = BookrecApp(**tiny_app, profile="h", profile_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await type_line(pilot, "help")
        assert "1-5 rate it" in transcript(app) and "Ctrl+P" in transcript(app)
        await pilot.press("f1")
        await pilot.pause()
        box = app.screen.query_one("#help-box")
        assert box.region.bottom <= 24 and box.max_scroll_y > 0  # too tall: it scrolls
        box.scroll_end(animate=False)
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y


@pytest.mark.asyncio
async def test_a_new_reader_sees_the_first_question_at_once_and_early_answers_count(
    real_data_dir, tmp_path
):
    app = BookrecApp(data_dir=str(real_data_dir), profile="new", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.session is None and "Have you read" in transcript(app)  # not loaded yet
        first = app._opening_book
        app.submit_line("5")  # answered before the model is ready
        await loaded(pilot)
        assert app.session.ratings == {first: 5}
        asked = re.findall(r"^Have you read .+ — ", transcript(app), flags=re.MULTILINE)
        assert len(asked) == 2  # the opening question, then the next one


@pytest.mark.asyncio
async def test_closing_the_map_returns_the_keys_to_the_input(tiny_app, tmp_path):
    """F2 from the recommendations list opens the map; Esc closes it and what the reader
    types next goes into the input, not to the list (where a digit would rate a book)."""
    from bookrec_tui.tui.map_screen import MapScreen

    app = app_with_a_shelf(tiny_app, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        on_recommendation(app, 0)
        await pilot.press("f2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, MapScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, MapScreen)
        prompt = app.query_one("#prompt")
        assert app.focused is prompt
        await pilot.press("4", "d")
        await pilot.pause()
        assert prompt.value == "4d" and Profile.open("keys", tmp_path).ratings == dict(SHELF)
