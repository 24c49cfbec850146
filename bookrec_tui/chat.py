"""The chat grammar: one line a reader types -> one :class:`Command`. No Textual here.

Forgiving on purpose: ``loved dune``, ``dune 5``, ``5 stars dune``, ``dune=4``, ``/recs 20``,
``recs fantasy``, ``more like the hobbit``, ``why dune``, ``undo``, ``forget dune``,
``shelf``, ``map [tsne]``, ``help``, ``quit``. Anything else is treated as a search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_RATE_VERB = re.compile(rf"^(?:i\s+)?({_VERBS})\s+(.+)$", re.IGNORECASE)
_STARS_FIRST = re.compile(
    r"^(?:rate\s+)?([1-5])\s*(?:stars?|\*|★)\s+(?:for\s+)?(.+)$", re.IGNORECASE
)
_STARS_LAST = re.compile(
    r"^(?:rate\s+)?(.+?)\s*(?:=|:|\s)\s*([1-5])\s*(?:stars?|\*|★|/5)?$", re.IGNORECASE
)
_MORE = re.compile(
    r"^(?:more\s+like(?:\s+this)?|similar(?:\s+to)?|like\s+this)\s*:?\s*(.*)$", re.IGNORECASE
)
_RECS = re.compile(r"^(?:recs?|recommend(?:ations?)?|suggest)\b\s*(.*)$", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]{1,3}")
_MAP = re.compile(r"(?:book\s+)?map(?:\s+(pca|tsne|t-sne))?")
_WORD_CMD = re.compile(
    r"^(why|forget|unrate|remove|details?|info|about|search|find|import)\b\s*(.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Command:
    kind: str  # rate, more, why, recs, undo, forget, shelf, help, quit, details, search,
    #            choose, map (text: pca or tsne), empty
    text: str = ""  # a title or query
    stars: int | None = None
    n: int | None = None  # recs count or list choice
    shelf: str | None = None


def _clean(line: str) -> str:
    line = "".join(ch if ch.isprintable() else " " for ch in line[:MAX_LINE])
    return " ".join(line.split())


def parse(line: str) -> Command:
    """Parse one line. Never raises."""
    text = _clean(line)
    if text.startswith("/"):
        text = text[1:].lstrip()
    if not text:
        return Command("empty")
    low = text.lower()
    if low in ("help", "?", "h", "commands"):
        return Command("help")
    if low in ("quit", "exit", "bye", "q"):
        return Command("quit")
    if low in ("undo", "oops"):
        return Command("undo")
    if low in ("shelf", "my shelf", "ratings", "my ratings", "profile"):
        return Command("shelf")
    if _NUMBER.fullmatch(low):
        return Command("choose", n=int(low))
    if m := _MAP.fullmatch(low):
        method = (m.group(1) or "pca").replace("-", "")
        return Command("map", text=method)
    if m := _MORE.match(text):
        return Command("more", text=m.group(1).strip())
    if m := _RECS.match(text):
        rest = m.group(1).strip()
        n = None
        for token in rest.split():
            if _NUMBER.fullmatch(token):
                n = max(1, min(int(token), 100))
        shelf = (
            " ".join(
                t
                for t in rest.split()
                if not _NUMBER.fullmatch(t)
                and t.lower() not in ("for", "me", "please", "in", "books")
            )
            or None
        )
        return Command("recs", n=n, shelf=shelf.lower() if shelf else None)
    if m := _WORD_CMD.match(text):
        verb = m.group(1).lower()
        kind = {
            "unrate": "forget",
            "remove": "forget",
            "detail": "details",
            "info": "details",
            "about": "details",
            "find": "search",
        }.get(verb, verb)
        return Command(kind, text=m.group(2).strip())
    if m := _RATE_VERB.match(text):
        return Command("rate", text=m.group(2).strip(), stars=VERB_STARS[m.group(1).lower()])
    if m := _STARS_FIRST.match(text):
        return Command("rate", text=m.group(2).strip(), stars=int(m.group(1)))
    if m := _STARS_LAST.match(text):
        return Command("rate", text=m.group(1).strip(), stars=int(m.group(2)))
    return Command("search", text=text)
