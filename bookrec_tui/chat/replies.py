"""What the session answers: a :class:`Reply` with a typed kind, and the effects a face must
carry out (open the map, run slow work off the event loop, fetch the data, quit).

The session decides what a line means and what should happen; a face (the Textual app, a
test, a script) shows ``Reply.text`` and carries out each effect in ``Reply.effects`` the way
it can. No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeAlias


class ReplyKind(StrEnum):
    """How a face shows a reply (an error in its own colour) and what its books are."""

    INFO = "info"
    ERROR = "error"
    RECS = "recs"  # a list of recommendations (numbered: "3" picks the third)
    SIMILAR = "similar"  # more like one book
    SEARCH = "search"  # books matching a search
    CHOOSE = "choose"  # which of these did you mean?
    ONBOARDING = "onboarding"  # a question about one book
    HELP = "help"


MapMethod: TypeAlias = Literal["pca", "tsne"]


@dataclass(frozen=True)
class OpenMap:
    """Show the book map, projected with ``method``."""

    method: MapMethod = "pca"


@dataclass(frozen=True)
class InBackground:
    """Slow work (reading and matching a Goodreads export): run ``job`` off the event loop,
    then show the reply it returns. ``job`` never raises (it is guarded by the session)."""

    job: Callable[[], Reply]


@dataclass(frozen=True)
class FetchData:
    """Download goodbooks-10k, then load the recommender."""


@dataclass(frozen=True)
class KeepForLater:
    """The session is not up yet: answer ``line`` as soon as it is."""

    line: str


@dataclass(frozen=True)
class Quit:
    """Leave (the shelf is saved with every change)."""


Effect: TypeAlias = OpenMap | InBackground | FetchData | KeepForLater | Quit


@dataclass
class Reply:
    text: str  # "" when there is nothing to say (an effect speaks for itself)
    books: list[int] = field(default_factory=list)  # books shown, in order (numbered choices)
    kind: ReplyKind = ReplyKind.INFO
    changed: bool = False  # the shelf changed: lists on screen must be refreshed
    effects: tuple[Effect, ...] = ()
    # What the reader is shown saying when they acted with a key rather than typing
    # ("more like Dune"), so the transcript reads as a conversation.
    said: str = ""

    @property
    def quit(self) -> bool:
        return any(isinstance(effect, Quit) for effect in self.effects)

    @property
    def is_error(self) -> bool:
        return self.kind is ReplyKind.ERROR
