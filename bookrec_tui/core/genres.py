"""Genres from shelf shares: what a book *is*, from how Goodreads readers shelve it.

A reader shelves a book under many names ("sci-fi", "scifi", "science-fiction"); each genre
below folds its spellings together. A book's genre shelving is the count of every genre
shelf on it, and a book is in a genre when that genre is among its ``TOP_K`` strongest by
share of that shelving and holds at least ``MIN_SHARE`` of it. A share rule keeps one
reader's "horror" shelf on Jurassic Park from making it a horror novel, where the old
"any of the top-8 shelves" test did.

Non-fiction genres (history, biography, science...) also need the book's ``non-fiction``
shelving to outweigh its ``fiction`` shelving: historical novels are shelved "history"
by many readers. Likewise a mystery must be shelved "mystery" more than "thriller".

The thresholds were set by reading a hand-checked sample (benchmarks/genre_sample.tsv,
precision per genre in docs/benchmarks.md, "Genres from shelf shares"): raising MIN_SHARE
to 0.15 would drop 43 right books for 17 wrong ones of the 350 checked. Change them only
with that sample re-checked (tests/test_onboarding_real.py holds every checked genre to 75 %).
"""

from __future__ import annotations

import hashlib

import numpy as np

from bookrec_tui.errors import BookrecError

#: genre -> the shelf names folded into it. Order is the column order of the counts.
GENRES: dict[str, tuple[str, ...]] = {
    "fiction": ("fiction", "novels", "novel", "general-fiction", "adult-fiction"),
    "non-fiction": ("non-fiction", "nonfiction", "non-fiction-books"),
    "fantasy": ("fantasy", "high-fantasy", "epic-fantasy", "urban-fantasy", "ya-fantasy"),
    "science-fiction": ("science-fiction", "sci-fi", "scifi", "sf", "science-fiction-fantasy"),
    "mystery": ("mystery", "mysteries", "crime", "detective", "mystery-thriller", "cozy-mystery"),
    "thriller": ("thriller", "thrillers", "suspense", "mystery-suspense"),
    "romance": (
        "romance",
        "contemporary-romance",
        "historical-romance",
        "paranormal-romance",
        "romantic",
    ),
    "horror": ("horror",),
    "historical-fiction": ("historical-fiction", "historical", "historical-novels"),
    "history": ("history", "world-history", "military-history", "american-history"),
    "biography": ("biography", "memoir", "memoirs", "autobiography", "biographies"),
    "classics": ("classics", "classic", "classic-literature"),
    "young-adult": ("young-adult", "ya", "teen", "ya-fiction", "young-adult-fiction"),
    "children": ("childrens", "children", "children-s", "children-s-books", "kids", "juvenile"),
    "middle-grade": ("middle-grade",),
    "graphic-novels": ("graphic-novels", "graphic-novel", "comics", "manga", "comic-books"),
    "poetry": ("poetry", "poems"),
    "humor": ("humor", "humour", "funny", "comedy"),
    "philosophy": ("philosophy",),
    "science": ("science", "popular-science", "physics", "biology"),
    "psychology": ("psychology",),
    "self-help": ("self-help", "personal-development", "self-improvement"),
    "business": ("business", "economics", "finance"),
    "religion": ("religion", "christian", "christianity", "theology", "spirituality"),
    "travel": ("travel",),
    "dystopian": ("dystopian", "dystopia", "post-apocalyptic"),
    "paranormal": ("paranormal", "supernatural", "vampires", "vampire"),
    "short-stories": ("short-stories", "anthology", "anthologies"),
    "plays": ("plays", "drama", "theatre", "shakespeare"),
    "literary-fiction": ("literary-fiction", "literature", "literary"),
    "contemporary": ("contemporary", "contemporary-fiction", "realistic-fiction"),
    "chick-lit": ("chick-lit", "womens-fiction", "women-s-fiction"),
    # Without these, cookbooks (29 goodbooks-10k books) and art books had no genre but
    # "non-fiction" (+ "classics"): "more like In Cold Blood" listed The Joy of Cooking.
    "food": ("food", "cooking", "cookbooks", "cookbook", "cook-books", "cookery", "baking"),
    "art": ("art", "art-books", "drawing", "illustration", "art-instruction", "design"),
}
GENRE_NAMES: tuple[str, ...] = tuple(GENRES)
#: Other spellings a reader may type for a genre.
ALIASES: dict[str, str] = {
    spelling: genre for genre, spellings in GENRES.items() for spelling in spellings
} | {
    "nonfiction": "non-fiction",
    "non fiction": "non-fiction",
    "scifi": "science-fiction",
    "sci fi": "science-fiction",
    "ya": "young-adult",
    "childrens": "children",
    "children's": "children",
    "kids": "children",
    "comics": "graphic-novels",
    "graphic novels": "graphic-novels",
    "memoir": "biography",
    "crime": "mystery",
    "historical fiction": "historical-fiction",
}
NON_FICTION_KINDS = frozenset(
    ("history", "biography", "science", "psychology", "self-help", "business", "philosophy")
)
#: genre -> a neighbour it must outweigh: readers shelve spy and action thrillers "mystery"
#: too (Bourne, Gabriel Allon, Dirk Pitt were 14 of 50 "mystery" books before this rule).
MUST_OUTWEIGH = {"mystery": "thriller"}

MIN_SHARE = 0.10  # a genre must hold this share of the book's genre shelving...
TOP_K = 4  # ...and be among its strongest TOP_K genres
#: A fingerprint of the definitions above, part of the catalogue cache key.
DEFINITION_KEY = hashlib.sha256(repr(sorted(GENRES.items())).encode()).hexdigest()[:8]


class UnknownGenreError(BookrecError):
    """A genre the catalogue does not know; the message lists the known ones."""


def tag_genre_columns(tag_names: list[str]) -> np.ndarray:
    """For each tag name, its genre column in GENRE_NAMES, or -1 when it is not a genre."""
    column = {s: i for i, (_, spellings) in enumerate(GENRES.items()) for s in spellings}
    return np.array([column.get(str(t).strip().lower(), -1) for t in tag_names], dtype=np.int64)


def canonical(name: str) -> str:
    """'Sci Fi' -> 'science-fiction'; raises UnknownGenreError for an unknown name."""
    key = " ".join(name.strip().lower().replace("_", " ").split())
    genre = ALIASES.get(key) or ALIASES.get(key.replace(" ", "-"))
    if genre is None and key.replace(" ", "-") in GENRES:
        genre = key.replace(" ", "-")
    if genre is None:
        raise UnknownGenreError(f"I don't know the genre “{name.strip()}”. {known_genres_line()}")
    return genre


def known_genres_line() -> str:
    return "Known genres: " + ", ".join(GENRE_NAMES) + "."


def genre_membership(counts: np.ndarray) -> np.ndarray:
    """(n_books, n_genres) bool: the share rule above, from genre shelf counts."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    share = counts / np.maximum(total, 1.0)
    # rank of each genre within its book (0 = strongest)
    rank = np.argsort(np.argsort(-share, axis=1, kind="stable"), axis=1, kind="stable")
    member = (share >= MIN_SHARE) & (rank < TOP_K) & (counts > 0)
    fic, nonfic = GENRE_NAMES.index("fiction"), GENRE_NAMES.index("non-fiction")
    is_non_fiction = counts[:, nonfic] > counts[:, fic]
    for genre in NON_FICTION_KINDS:
        member[:, GENRE_NAMES.index(genre)] &= is_non_fiction
    member[:, nonfic] = is_non_fiction & (counts[:, nonfic] > 0)
    for genre, rival in MUST_OUTWEIGH.items():
        g, r = GENRE_NAMES.index(genre), GENRE_NAMES.index(rival)
        member[:, g] &= counts[:, g] > counts[:, r]
    return member


#: Genres nearly every novel or every other book is in: sharing one says nothing.
BROAD_GENRES = ("fiction", "non-fiction")
_SPECIFIC = np.array([g not in BROAD_GENRES for g in GENRE_NAMES])


def share_a_genre(members: np.ndarray, a: int, b: int) -> bool | None:
    """Do rows ``a`` and ``b`` of :func:`genre_membership` share a genre other than the
    broad ones? None when either has no such genre to judge by."""
    ga, gb = members[a] & _SPECIFIC, members[b] & _SPECIFIC
    if not ga.any() or not gb.any():
        return None
    return bool((ga & gb).any())


def shelf_vectors(counts: np.ndarray) -> np.ndarray:
    """(n_books, n_genres) float32 unit rows from genre shelf counts, each genre weighted by
    how rare it is (TF-IDF: log(n / books shelved so)): two fantasy books are close, and
    "fiction" on both says little."""
    counts = np.asarray(counts, dtype=np.float32)
    shelved = np.maximum((counts > 0).sum(axis=0), 1)
    weighted = counts * np.log(max(len(counts), 1) / shelved).astype(np.float32)
    return weighted / np.maximum(np.linalg.norm(weighted, axis=1, keepdims=True), 1e-9)


def genre_shares(counts: np.ndarray) -> np.ndarray:
    """(n_books, n_genres) float32: each book's share of its shelving in each genre but the
    broad ones (rows sum to 1; a book shelved in none of them is all zeros)."""
    counts = np.where(_SPECIFIC, np.asarray(counts, dtype=np.float32), 0.0).astype(np.float32)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-9)
