"""The chat grammar: one line a reader types -> one :class:`Command`. No Textual here.

Forgiving on purpose: ``loved dune``, ``dune 5``, ``5 stars dune``, ``dune=4``, ``/recs 20``,
``recs fantasy``, ``more like the hobbit``, ``why dune``, ``undo``, ``forget dune``,
``shelf``, ``map [tsne]``, ``onboard``, ``help``, ``quit``, ``read dune`` (read, no opinion),
``not interested dune``, ``more by ursula le guin``, ``any order discworld``.
Anything else is treated as a search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_LINE = 500  # longer input is cut: no title is this long

VERB_STARS = {
    "loved": 5,
    "love": 5,
    "adored": 5,
    "amazing": 5,
    "liked": 4,
    "like": 4,
    "enjoyed": 4,
    "ok": 3,
    "okay": 3,
    "meh": 3,
    "fine": 3,
    "disliked": 2,
    "dislike": 2,
    "didn't like": 2,
    "didnt like": 2,
    "hated": 1,
    "hate": 1,
}
_VERBS = "|".join(sorted((re.escape(v) for v in VERB_STARS), key=len, reverse=True))
_ADVERBS = r"(?:(?:really|truly|absolutely|totally|just|so|kind\s+of|kinda|quite)\s+)*"
_RATE_VERB = re.compile(rf"^(?:i\s+)?{_ADVERBS}({_VERBS})\s+(.+)$", re.IGNORECASE)
_GAVE = r"(?:(?:i\s+)?(?:rate|rated|gave|give|would\s+give|i'?d\s+give)\s+)?"
_STAR_WORD = r"(?:stars?|\*|★|/\s*5|out\s+of\s+5)"
_STARS_FIRST = re.compile(
    rf"^{_GAVE}([1-5])\s*{_STAR_WORD}\s+(?:for\s+|to\s+)?(.+)$", re.IGNORECASE
)
_STARS_LAST = re.compile(
    rf"^{_GAVE}(.+?)\s*(?:=|:|\s)\s*([1-5])(?:[.,]0)?\s*{_STAR_WORD}?$", re.IGNORECASE
)
_STARS_ALONE = re.compile(rf"^{_GAVE}([1-5])(?:[.,]0)?\s*{_STAR_WORD}?$", re.IGNORECASE)
_GLYPHS_FIRST = re.compile(r"^(★{1,5})☆*\s+(.+)$")
_GLYPHS_LAST = re.compile(r"^(.+?)\s*[:=]?\s*(★{1,5})☆*$")
_GLYPHS_ALONE = re.compile(r"^(★{1,5})☆*$")
_HALF_LAST = re.compile(
    rf"^{_GAVE}(.*?)\s*(?:=|:|\s|^)\s*([0-4])[.,]5\s*{_STAR_WORD}?$", re.IGNORECASE
)
_HALF_FIRST = re.compile(rf"^{_GAVE}([0-4])[.,]5\s*{_STAR_WORD}\s+(?:for\s+)?(.+)$", re.IGNORECASE)
#: Where a sentence moves on from the book it rated: "liked Dune but hated its sequels".
_MORE_SAID = re.compile(
    r"\s*(?:,\s*|\s+)(?:but|because|though|although|except|and\s+hated|and\s+loved)\s+.*$",
    re.IGNORECASE,
)
_FILLER_END = re.compile(r"(?:\s+(?:so\s+much|a\s+lot|very\s+much|too))*\s*[!.]*$", re.IGNORECASE)
#: A title ending in "Vol. 2", "Book 3", "Part 1": the number is the title's, not stars.
_NUMBERED_PART = re.compile(r"\b(?:vol|volume|book|part|no|chapter|season|tome)\.?$|#$", re.I)
#: Words that point at the book just discussed rather than name one.
PRONOUNS = frozenset(
    {"it", "this", "that", "this one", "that one", "this book", "that book", "the book"}
)
_MORE = re.compile(
    r"^(?:(?:give\s+me|i\s+want|show\s+me|recommend|suggest|find|any)\s+)?"
    r"(?:more\s+like(?:\s+this)?|(?:something|anything|books?|more\s+books?|stuff|others?)"
    r"\s+(?:like|similar\s+to)|similar(?:\s+to)?|like\s+this)\s*:?\s*(.*)$",
    re.IGNORECASE,
)
_PROFILE = re.compile(
    r"^(?:switch\s+(?:to\s+)?(?:profile\s+)?|use\s+profile\s+|profile\s+)([A-Za-z0-9_.-]+)$",
    re.IGNORECASE,
)
_READ = re.compile(
    r"^(?:i\s*(?:'ve|\s+have)\s+|already\s+)?read(?:\s+it)?\s*:?\s+(.+)$", re.IGNORECASE
)
_HIDE = re.compile(
    r"^(?:not\s+interested(?:\s+in)?|hide|no\s+thanks(?:\s+to)?)\b\s*:?\s*(.*)$", re.IGNORECASE
)
_MORE_BY = re.compile(r"^more\s+(?:by|from)\s+(.+)$", re.IGNORECASE)
_ORDER = re.compile(r"^(in|any)[\s-]+order\s*:?\s*(.*)$", re.IGNORECASE)
_RECS = re.compile(r"^(?:recs?|recommend(?:ations?)?|suggest)\b\s*(.*)$", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]{1,3}")
_MAP = re.compile(r"(?:book\s+)?map(?:\s+(pca|tsne|t-sne))?")
_WORD_CMD = re.compile(
    r"^(why|forget|unrate|remove|details?|info|about|search|find|import|export)\b\s*(.*)$",
    re.IGNORECASE,
)


class Kind(StrEnum):
    """What a line asks for."""

    RATE = "rate"  # stars for a book (text "" : the book just discussed)
    HALF = "half"  # half stars (stars: the whole stars below); the session asks which
    MORE = "more"  # more like a book
    WHY = "why"
    RECS = "recs"  # n: how many, shelf: a genre
    UNDO = "undo"
    FORGET = "forget"
    SHELF = "shelf"
    HELP = "help"
    QUIT = "quit"
    DETAILS = "details"
    SEARCH = "search"
    CHOOSE = "choose"  # n: a number from the list above
    MAP = "map"  # text: pca or tsne
    IMPORT = "import"  # text: a path
    EXPORT = "export"  # text: a path
    PROFILE = "profile"  # text: a name
    READ = "read"  # read, no opinion
    HIDE = "hide"  # not interested
    MORE_BY = "more_by"  # text: an author
    ORDER = "order"  # n: 1 in order, 0 any order
    ONBOARD = "onboard"  # the onboarding questions
    EMPTY = "empty"


class Action(StrEnum):
    """What can be done to one book, from a typed line, a numbered choice or a key."""

    RATE = "rate"
    MORE = "more"
    WHY = "why"
    FORGET = "forget"
    DETAILS = "details"
    READ = "read"
    HIDE = "hide"
    ORDER = "order"


@dataclass(frozen=True)
class Command:
    kind: Kind
    text: str = ""  # a title or query; "" for "it"/"this" (the book just discussed)
    stars: int | None = None
    n: int | None = None  # recs count or list choice
    shelf: str | None = None
    unused: str = ""  # words after the book that were not acted on ("but hated its sequels")


def _clean(line: str) -> str:
    line = "".join(ch if ch.isprintable() else " " for ch in line[:MAX_LINE])
    return " ".join(line.split())


def parse(line: str) -> Command:
    """Parse one line. Never raises."""
    text = _clean(line)
    if text.startswith("/"):
        text = text[1:].lstrip()
    if not text:
        return Command(Kind.EMPTY)
    low = text.lower()
    if low in ("help", "?", "h", "commands"):
        return Command(Kind.HELP)
    if low in ("quit", "exit", "bye", "q"):
        return Command(Kind.QUIT)
    if low in ("undo", "oops"):
        return Command(Kind.UNDO)
    if low in ("onboard", "start", "questions"):
        return Command(Kind.ONBOARD)
    if low in ("shelf", "my shelf", "ratings", "my ratings", "profile"):
        return Command(Kind.SHELF)
    if m := _PROFILE.match(text):
        return Command(Kind.PROFILE, text=m.group(1))
    if _NUMBER.fullmatch(low):
        return Command(Kind.CHOOSE, n=int(low))
    if m := _MAP.fullmatch(low):
        method = (m.group(1) or "pca").replace("-", "")
        return Command(Kind.MAP, text=method)
    if m := _MORE_BY.match(text):
        return Command(Kind.MORE_BY, text=m.group(1).strip())
    if m := _HIDE.match(text):
        return Command(Kind.HIDE, text=_book(m.group(1)))
    if m := _READ.match(text):
        return Command(Kind.READ, text=_book(m.group(1)))
    if m := _ORDER.match(text):
        # n: 1 = the series is read in order, 0 = in any order
        return Command(Kind.ORDER, text=_book(m.group(2)), n=int(m.group(1).lower() == "in"))
    if m := _MORE.match(text):
        return Command(Kind.MORE, text=_book(m.group(1)))
    if m := _RECS.match(text):
        rest = m.group(1).strip()
        n = None
        for token in rest.split():
            if _NUMBER.fullmatch(token):
                n = min(int(token), 100)  # 0 is kept: the session says what it means
        shelf = (
            " ".join(
                t
                for t in rest.split()
                if not _NUMBER.fullmatch(t)
                and t.lower() not in ("for", "me", "please", "in", "books")
            )
            or None
        )
        return Command(Kind.RECS, n=n, shelf=shelf.lower() if shelf else None)
    if m := _WORD_CMD.match(text):
        verb = m.group(1).lower()
        kind = Kind(
            {
                "unrate": "forget",
                "remove": "forget",
                "detail": "details",
                "info": "details",
                "about": "details",
                "find": "search",
            }.get(verb, verb)
        )
        if kind in (Kind.IMPORT, Kind.EXPORT, Kind.SEARCH):
            return Command(kind, text=m.group(2).strip())
        return Command(kind, text=_book(m.group(2)))
    if rated := _rating(text):
        return rated
    return Command(Kind.SEARCH, text=text)


def _book(text: str) -> str:
    """The words naming a book, "" when they point at the one just discussed."""
    text = _FILLER_END.sub("", text.strip()).strip()
    return "" if text.lower() in PRONOUNS else text


def _rate(text: str, stars: int) -> Command:
    """A rating of the book named at the start of ``text``; what the sentence goes on to say
    ("but hated its sequels") is kept in ``unused`` so the reply can say it was not acted on."""
    cut = _MORE_SAID.search(text)
    start = cut.start() if cut else 0
    unused = text[start:].strip(" ,") if start > 0 else ""
    return Command(
        Kind.RATE, text=_book(text[:start] if unused else text), stars=stars, unused=unused
    )


def _rating(text: str) -> Command | None:
    """Every way of giving stars: a verb, a number before or after the title, star glyphs,
    stars alone (for the book just discussed); half stars come back as kind "half"."""
    if m := _HALF_FIRST.match(text):
        return Command(Kind.HALF, text=_book(m.group(2)), stars=int(m.group(1)))
    if m := _HALF_LAST.match(text):
        return Command(Kind.HALF, text=_book(m.group(1)), stars=int(m.group(2)))
    if m := _STARS_ALONE.match(text):
        return Command(Kind.RATE, text="", stars=int(m.group(1)))
    if m := _GLYPHS_ALONE.match(text):
        return Command(Kind.RATE, text="", stars=len(m.group(1)))
    if m := _RATE_VERB.match(text):
        return _rate(m.group(2), VERB_STARS[" ".join(m.group(1).lower().split())])
    if m := _STARS_FIRST.match(text):
        return _rate(m.group(2), int(m.group(1)))
    if m := _GLYPHS_FIRST.match(text):
        return _rate(m.group(2), len(m.group(1)))
    if m := _GLYPHS_LAST.match(text):
        return _rate(m.group(1), len(m.group(2)))
    if (m := _STARS_LAST.match(text)) and not _NUMBERED_PART.search(m.group(1)):
        return _rate(m.group(1), int(m.group(2)))
    return None
