"""The app's opening line for a new reader, shipped beside the model so it is on screen
before the model has loaded (JSON: no numpy, read in a millisecond).

It is exactly what :meth:`bookrec_tui.chat.session.ReaderSession.start_onboarding` says first to a
reader with an empty shelf; the app checks that once the session is up and, should they
differ (a stale file), asks the session's question instead. ``bookrec-tui data
pack-catalogue`` writes it; a test fails while the shipped one is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from bookrec_tui.fsutil import atomic_writer

if TYPE_CHECKING:
    from bookrec_tui.core.recommender import Recommender

OPENING_NAME = "bookrec-opening.json"


def first_question(rec: Recommender) -> dict:
    """{"book_id", "text"} of the first onboarding question for an empty shelf."""
    import tempfile

    from bookrec_tui.chat.session import ReaderSession
    from bookrec_tui.store.profile import Profile

    with tempfile.TemporaryDirectory() as scratch:
        reply = ReaderSession(rec, Profile.open("new", Path(scratch))).start_onboarding()
    return {"book_id": reply.books[0] if reply.books else None, "text": reply.text}


def write_opening(rec: Recommender, path: Path) -> Path:
    with atomic_writer(Path(path), "w") as handle:
        json.dump(first_question(rec), handle, ensure_ascii=False, indent=1)
    return Path(path)


def read_opening(path: Path) -> dict | None:
    """The shipped opening, or None when it is missing or unreadable (the app then waits
    for the session as before)."""
    try:
        opening = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(opening, dict) or not isinstance(opening.get("text"), str):
        return None
    return opening if isinstance(opening.get("book_id"), int) else None
