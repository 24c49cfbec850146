"""Pilot: the keys on a listed book for "read it" and "not interested" (the tiny world)."""

from __future__ import annotations

import pytest
from test_app import app_with_a_shelf, loaded, transcript

from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.widgets import BookList


@pytest.mark.asyncio
async def test_keys_mark_a_listed_book_read_or_hide_it_and_undo_brings_it_back(tiny_app, tmp_path):
    app = app_with_a_shelf(tiny_app, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        recs = app.query_one("#recs", BookList)
        assert recs.option_count == 20
        recs.focus()
        recs.highlighted = 0
        first = recs.current_book()
        await pilot.press("x")
        await pilot.pause()
        assert first in Profile.open("keys", tmp_path).hidden
        assert first not in [recs.book_at(i) for i in range(recs.option_count)]
        recs.highlighted = 0
        second = recs.current_book()
        await pilot.press("r")
        await pilot.pause()
        saved = Profile.open("keys", tmp_path)
        assert second in saved.read and second not in saved.ratings
        assert second not in [recs.book_at(i) for i in range(recs.option_count)]
        app.query_one("#prompt").focus()
        await pilot.press(*"undo", "enter")
        await pilot.pause()
        assert second not in Profile.open("keys", tmp_path).read
        assert second in [recs.book_at(i) for i in range(recs.option_count)]


@pytest.mark.asyncio
async def test_tab_into_the_recommendations_and_a_key_acts_on_the_first_book(tiny_app, tmp_path):
    """Nothing was highlighted after Tab: `m` did nothing until an arrow key was pressed."""
    app = app_with_a_shelf(tiny_app, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("tab", "tab")  # the input, the shelf, the recommendations
        await pilot.pause()
        recs = app.query_one("#recs", BookList)
        assert app.focused is recs
        await pilot.press("m")
        await pilot.pause()
        assert f"you › more like {app.session.title(recs.book_at(0))}" in transcript(app)
