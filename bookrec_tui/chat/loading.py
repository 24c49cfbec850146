"""The conversation before the session is up: while the recommender loads, or when there is
no book data to load. What a line means then, and what the app says meanwhile."""

from __future__ import annotations

from bookrec_tui.chat.grammar import Kind, parse
from bookrec_tui.chat.replies import FetchData, KeepForLater, Quit, Reply, ReplyKind

LOADING = "Loading the recommender…"
DOWNLOADED = "Downloaded. Loading…"
FETCH_WORDS = frozenset(("fetch", "data fetch"))


def no_data(message: str) -> Reply:
    """The data is missing: say why, and how to get it."""
    return Reply(
        f"{message}\nType `fetch` to download goodbooks-10k now (the public release), or "
        "quit and set BOOKREC_DATA_DIR to a folder that has it.",
        kind=ReplyKind.ERROR,
    )


def before_ready(line: str, *, missing_data: bool, question_shown: bool) -> Reply:
    """A line typed before the session is up. ``question_shown``: the shipped first question
    is on screen (a new reader), so any line but `quit` answers it once the session is up."""
    if parse(line).kind is Kind.QUIT:
        return Reply("", effects=(Quit(),))
    if question_shown:
        return Reply("", effects=(KeepForLater(line),))
    if " ".join(line.lower().split()).lstrip("/") in FETCH_WORDS:
        return Reply("", effects=(FetchData(),))
    if missing_data:
        return Reply(
            "There is no book data yet. Type `fetch` to download goodbooks-10k, "
            "or `quit` and set BOOKREC_DATA_DIR.",
            kind=ReplyKind.ERROR,
        )
    return Reply(
        "Still loading; I'll do that as soon as I'm ready. (Type `quit` to leave.)",
        effects=(KeepForLater(line),),
    )
