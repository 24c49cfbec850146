"""Snapshot tests of the main screens (the tiny world, a fresh profile: the screens, not the
real model's answers, which tests on the real data check).

Update after an intended change with: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from bookrec_tui.tui.app import BookrecApp


async def settle(pilot) -> None:
    pilot.app.query_one(Input).cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def make_app(tiny_app, tmp_path) -> BookrecApp:
    return BookrecApp(**tiny_app, profile="snap", profile_dir=tmp_path)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_onboarding_screen(snap_compare, tiny_app, tmp_path, size):
    assert snap_compare(make_app(tiny_app, tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_recommendations_screen(snap_compare, tiny_app, tmp_path, size):
    async def rate_and_ask(pilot) -> None:
        await settle(pilot)
        for line in ("loved the hobbit", "the hunger games 4", "hated twilight", "recs 5"):
            pilot.app.submit_line(line)
            await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(tiny_app, tmp_path), terminal_size=size, run_before=rate_and_ask)


def test_help_screen(snap_compare, tiny_app, tmp_path):
    async def open_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(tiny_app, tmp_path), terminal_size=(100, 30), run_before=open_help)


def test_map_screen(snap_compare, tiny_app, tmp_path):
    async def open_map(pilot) -> None:
        await settle(pilot)
        for line in ("loved the hobbit", "the hunger games 4", "hated twilight", "map"):
            pilot.app.submit_line(line)
            await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("tab")  # pick the first of the reader's books
        await pilot.pause()

    assert snap_compare(make_app(tiny_app, tmp_path), terminal_size=(120, 40), run_before=open_map)
