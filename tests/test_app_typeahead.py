"""Lines typed while the app is still loading are kept and handled once it is ready."""

from __future__ import annotations

import threading

import pytest
from test_app import transcript, type_line

from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.app import BookrecApp


@pytest.mark.asyncio
@pytest.mark.parametrize("returning", [False, True], ids=["new-reader", "returning-reader"])
async def test_lines_typed_while_loading_are_echoed_rated_and_saved(
    tiny_app, tmp_path, monkeypatch, returning
):
    from bookrec_tui.core.recommender import Recommender

    if returning:  # no shipped first question: "Loading the recommender…" until ready
        (tmp_path / "r.json").write_text('{"ratings": {"2": 3}}')

    ready = threading.Event()
    real_load = Recommender.load.__func__

    def slow_load(cls, *args, **kwargs):
        ready.wait(30)  # loading takes as long as the test says
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(Recommender, "load", classmethod(slow_load))
    app = BookrecApp(**tiny_app, profile="r", profile_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session is None
        await type_line(pilot, "loved the hobbit")
        await type_line(pilot, "hated twilight")
        assert "loved the hobbit" in transcript(app)
        assert app.session is None
        ready.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        text = transcript(app)
        assert "loved the hobbit" in text and "hated twilight" in text  # still on screen
        assert "Noted: ★★★★★ The Hobbit" in text and "Noted: ★☆☆☆☆ Twilight" in text
        assert len(app.session.ratings) == 2 + returning
    expected = [1, 3, 5] if returning else [1, 5]
    assert sorted(Profile.open("r", tmp_path).ratings.values()) == expected
