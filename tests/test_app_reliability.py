"""The app when saves fail and profiles hold books the catalogue lacks (Pilot, real data)."""

from __future__ import annotations

import json

import pytest
from test_app import loaded, transcript

from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.app import BookrecApp
from bookrec_tui.tui.widgets import BookList


@pytest.mark.asyncio
async def test_a_failed_side_panel_save_does_not_crash_the_app(tiny_app, tmp_path, full_disk):
    (tmp_path / "r.json").write_text(json.dumps({"ratings": {"1": 5, "2": 4, "3": 5}}))
    app = BookrecApp(**tiny_app, profile="r", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        full_disk["full"] = True
        recs = app.query_one("#recs", BookList)
        recs.focus()
        recs.highlighted = 0
        top = recs.current_book()
        await pilot.press("4")
        await pilot.pause()
        assert app.is_running
        assert "not saved" in transcript(app)
        assert top not in app.session.ratings
        assert app.query_one("#shelf", BookList).option_count == 3
    assert Profile.open("r", tmp_path).ratings == {1: 5, 2: 4, 3: 5}


@pytest.mark.asyncio
async def test_a_rating_for_an_unknown_book_is_warned_about_not_crashed_on(tiny_app, tmp_path):
    ratings = {"1": 5, "2": 4, "3": 5, "987654": 2}
    (tmp_path / "r.json").write_text(json.dumps({"ratings": ratings}))
    app = BookrecApp(**tiny_app, profile="r", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert "987654" in transcript(app) and "not in this catalogue" in transcript(app)
        assert app.query_one("#shelf", BookList).option_count == 3
        assert app.query_one("#recs", BookList).option_count == 20
    assert json.loads((tmp_path / "r.json").read_text())["ratings"] == ratings


def test_an_app_that_crashed_exits_non_zero(monkeypatch):
    from bookrec_tui.tui import app as app_module

    def crash(self):
        self._return_code = 1  # what Textual sets when an unhandled exception ends the app
        return None

    monkeypatch.setattr(app_module.BookrecApp, "run", crash)
    assert app_module.run_app() == 1
