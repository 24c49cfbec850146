"""The catalogue and ratings types every layer shares: plain numpy arrays, no pandas.

How they are read from the goodbooks-10k CSV files is :mod:`bookrec_tui.store.goodbooks`;
the packed form that ships with the model is :mod:`bookrec_tui.store.packed_catalogue`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bookrec_tui.core import genres
from bookrec_tui.fsutil import atomic_writer

if TYPE_CHECKING:
    from bookrec_tui.core.works import Works

#: From this many books on, tables derived from the titles are kept in the cache folder.
DERIVED_CACHE_FROM_BOOKS = 100_000
SERIES_NOTE = re.compile(r"\s*\([^()]*#[^()]*\)\s*$")
_SERIES_NUMBER = re.compile(r"\([^()]*#(\d+)[^()]*\)\s*$")


def series_number(title: str) -> int | None:
    """1 for 'X (Series, #1)', 2 for '#2'...; None outside a series."""
    match = _SERIES_NUMBER.search(title)
    return int(match.group(1)) if match else None


def _first_author(authors) -> str:
    return str(authors).split(",")[0].strip()


# --------------------------------------------------------------------------- ratings


@dataclass(frozen=True)
class Ratings:
    """Explicit 1..5 star ratings, one row per (user, book) after de-duplication."""

    user_ids: np.ndarray  # int32
    book_ids: np.ndarray  # int32, goodbooks book_id
    stars: np.ndarray  # int8, 1..5
    duplicates_dropped: int = 0
    schema: str = "v1"
    sha256: str = ""

    def __len__(self) -> int:
        return int(self.stars.shape[0])

    def arrays(self) -> dict[str, object]:
        """The arrays and scalars a cache stores (``np.savez(handle, **ratings.arrays())``)."""
        return {
            "user_ids": self.user_ids,
            "book_ids": self.book_ids,
            "stars": self.stars,
            "duplicates_dropped": self.duplicates_dropped,
            "schema": self.schema,
            "sha256": self.sha256,
        }

    @classmethod
    def from_arrays(cls, z) -> Ratings:
        """Back from :meth:`arrays` (an open ``.npz``); raises on a damaged cache."""
        ratings = cls(
            z["user_ids"],
            z["book_ids"],
            z["stars"],
            int(z["duplicates_dropped"]),
            str(z["schema"]),
            str(z["sha256"]),
        )
        n = len(ratings.stars)
        if not (len(ratings.user_ids) == len(ratings.book_ids) == n > 0):
            raise ValueError("columns of different lengths")
        return ratings

    @property
    def n_users(self) -> int:
        return int(np.unique(self.user_ids).shape[0])

    def subset(self, mask: np.ndarray) -> Ratings:
        return Ratings(
            self.user_ids[mask], self.book_ids[mask], self.stars[mask], 0, self.schema, ""
        )


# --------------------------------------------------------------------------- catalogue


@dataclass
class Catalogue:
    """The books: ids, titles, authors and the metadata a reader sees. numpy only."""

    book_ids: np.ndarray  # int32, goodbooks book_id
    goodreads_ids: np.ndarray  # int64
    best_book_ids: np.ndarray  # int64
    titles: np.ndarray  # str
    authors: np.ndarray  # str
    years: np.ndarray  # int16, 0 when unknown
    average_ratings: np.ndarray  # float32
    ratings_counts: np.ndarray  # int64
    isbns: np.ndarray  # str, ISBN-10 as in books.csv (leading zeros dropped there)
    shelves: np.ndarray  # str, top genre-like shelves joined by "|"
    rating_stds: np.ndarray  # float32, spread of the book's Goodreads star histogram
    original_titles: np.ndarray  # str, the title of the first edition ('' when unknown)
    languages: np.ndarray  # str, language code of this edition ('eng', 'en-US', '' ...)
    shelf_counts: np.ndarray  # (N, SHELVES_PER_BOOK) int32: readers per shelf in `shelves`
    genre_counts: np.ndarray  # int32 (n, len(genres.GENRE_NAMES)): readers per genre shelf
    sha256: str = ""
    _index: np.ndarray = field(default=None, repr=False)  # book_id -> row, -1 if absent

    def __post_init__(self) -> None:
        if self._index is None:
            index = np.full(int(self.book_ids.max()) + 1, -1, dtype=np.int32)
            index[self.book_ids] = np.arange(len(self.book_ids), dtype=np.int32)
            self._index = index

    def __len__(self) -> int:
        return int(self.book_ids.shape[0])

    def __contains__(self, book_id: object) -> bool:
        return (
            isinstance(book_id, (int, np.integer))
            and 0 <= book_id < len(self._index)
            and (self._index[book_id] >= 0)
        )

    def row(self, book_id: int) -> int:
        """Row of ``book_id``; raises KeyError for an unknown id."""
        if book_id not in self:
            raise KeyError(f"unknown book_id {book_id}")
        return int(self._index[book_id])

    def rows(self, book_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(book_ids, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(self._index))
        out = np.full(ids.shape, -1, dtype=np.int32)
        out[ok] = self._index[ids[ok]]
        return out

    def title(self, book_id: int) -> str:
        return str(self.titles[self.row(book_id)])

    def short_title(self, book_id: int) -> str:
        """The title without its series note: 'Catching Fire' for
        'Catching Fire (The Hunger Games, #2)'."""
        title = self.title(book_id)
        cut = SERIES_NOTE.sub("", title).strip()
        return cut or title

    def derived(
        self, name: str, build: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Arrays derived from the books by ``build()``: from DERIVED_CACHE_FROM_BOOKS books
        on, made once per catalogue fingerprint and kept in the cache folder, opened
        memory-mapped afterwards (reading a million titles in Python takes seconds);
        smaller catalogues build them each time. ``name`` carries a version."""
        if len(self) < DERIVED_CACHE_FROM_BOOKS or not self.sha256:
            return build()
        from bookrec_tui.core.npz import cached_arrays
        from bookrec_tui.paths import cache_dir

        key = hashlib.sha256(self.sha256.encode()).hexdigest()[:20]
        return cached_arrays(cache_dir() / f"{name}-{key}", build)

    @functools.cached_property
    def _first_author_table(self) -> dict[str, np.ndarray]:
        def build() -> dict[str, np.ndarray]:
            names = np.array([_first_author(a) for a in self.authors])
            return {"names": names, "codes": np.unique(names, return_inverse=True)[1]}

        return self.derived("first-authors-v1", build)

    @property
    def first_authors(self) -> np.ndarray:
        """Each book's first-listed author ("J.K. Rowling" for "J.K. Rowling, Mary GrandPré")."""
        return self._first_author_table["names"]

    @property
    def first_author_codes(self) -> np.ndarray:
        """Each book's first author as an integer (the rank of the name among all first
        authors): "same author" tests as integer comparisons."""
        return self._first_author_table["codes"]

    @functools.cached_property
    def works(self) -> Works:
        """Series order and editions read from the titles (see :mod:`.works`)."""
        from bookrec_tui.core.works import Works

        if len(self) < DERIVED_CACHE_FROM_BOOKS:
            return Works(self.titles, self.first_authors)
        arrays = self.derived(
            f"works-v{Works.ARRAYS_VERSION}",
            lambda: Works(self.titles, self.first_authors).to_arrays(),
        )
        return Works.from_arrays(arrays)

    def first_author(self, book_id: int) -> str:
        # One row's, without building first_authors (a second per million books).
        return _first_author(self.authors[self.row(book_id)])

    def author_named(self, text: str) -> str | None:
        """The first author whose name holds every word of ``text`` ("le guin", "rowling"),
        the most read of several; None when no author's name does."""
        words = text.strip().lower().split()
        if not words:
            return None
        names = np.char.lower(self.first_authors.astype(str))
        hit = np.ones(len(names), dtype=bool)
        for word in words:
            hit &= np.char.find(names, word) >= 0
        if not hit.any():
            return None
        rows = np.flatnonzero(hit)
        return str(self.first_authors[rows[np.argmax(self.ratings_counts[rows])]])

    def author_line(self, book_id: int) -> str:
        """The author as a reader credits the book: 'George Orwell and others' for
        'George Orwell, Erich Fromm, Celâl Üster' (translators and editors are listed after
        the author in books.csv)."""
        authors = str(self.authors[self.row(book_id)])
        first = _first_author(authors)
        return first if first == authors.strip() else f"{first} and others"

    def year_label(self, book_id: int) -> str:
        """'1954', '720 BC', or '' when unknown."""
        year = int(self.years[self.row(book_id)])
        return "" if year == 0 else f"{-year} BC" if year < 0 else str(year)

    def series_position(self, book_id: int) -> int | None:
        """1 for 'X (Series, #1)', 2 for '#2'...; None outside a series."""
        return series_number(self.title(book_id))

    def label(self, book_id: int) -> str:
        """'Title by Author' for messages."""
        row = self.row(book_id)
        return f"{self.titles[row]} by {self.authors[row]}"

    def shelf_list(self, book_id: int) -> list[str]:
        text = str(self.shelves[self.row(book_id)])
        return text.split("|") if text else []

    def shelf_shares(self, book_id: int) -> dict[str, float]:
        """Each of the book's top shelves with its share of the readers who shelved the book
        on any of them (0..1, summing to 1): enough to weigh genres."""
        names = self.shelf_list(book_id)
        counts = self.shelf_counts[self.row(book_id), : len(names)].astype(np.float64)
        total = counts.sum()
        if total <= 0:
            return dict.fromkeys(names, 1.0 / len(names)) if names else {}
        return {name: float(c / total) for name, c in zip(names, counts, strict=True)}

    @functools.cached_property
    def genre_members(self) -> np.ndarray:
        """(n, len(genres.GENRE_NAMES)) bool: which genres each book is in (shelf shares)."""
        return genres.genre_membership(self.genre_counts)

    def share_a_genre(self, a: int, b: int) -> bool | None:
        """Are books ``a`` and ``b`` (book ids) shelved in a common genre, fiction and
        non-fiction aside? None when either has no other genre to tell. Only their two rows
        are read (the whole membership table takes seconds at a million books)."""
        pair = genres.genre_membership(self.genre_counts[[self.row(a), self.row(b)]])
        return genres.share_a_genre(pair, 0, 1)

    def alike(self, a: int, b: int) -> bool | None:
        """Books ``a`` and ``b`` by one first author, or in a common genre (see
        :meth:`share_a_genre`; shelvings miss: Sense and Sensibility is not shelved
        "classics", Pride and Prejudice is)."""
        if self.first_author(a) == self.first_author(b):
            return True
        return self.share_a_genre(a, b)

    def genre_rows(self, name: str) -> np.ndarray:
        """Rows of the books in genre ``name`` (any spelling a reader types: "sci fi");
        raises genres.UnknownGenreError, listing the known genres, for an unknown one."""
        column = genres.GENRE_NAMES.index(genres.canonical(name))
        return np.flatnonzero(self.genre_members[:, column])

    def book_genres(self, book_id: int) -> list[str]:
        """The genres of one book, strongest share first."""
        row = self.row(book_id)
        member = np.flatnonzero(self.genre_members[row])
        order = member[np.argsort(-self.genre_counts[row, member], kind="stable")]
        return [genres.GENRE_NAMES[i] for i in order]

    def goodreads_url(self, book_id: int) -> str:
        return f"https://www.goodreads.com/book/show/{int(self.goodreads_ids[self.row(book_id)])}"

    _FIELDS = (
        "book_ids",
        "goodreads_ids",
        "best_book_ids",
        "titles",
        "authors",
        "years",
        "average_ratings",
        "ratings_counts",
        "isbns",
        "shelves",
        "rating_stds",
        "original_titles",
        "languages",
        "shelf_counts",
        "genre_counts",
    )

    def save(self, path: Path) -> None:
        from bookrec_tui.core.npz import save_npz

        with atomic_writer(path) as handle:
            save_npz(handle, sha256=self.sha256, **{f: getattr(self, f) for f in self._FIELDS})

    @classmethod
    def load_npz(cls, path: Path) -> Catalogue:
        """Arrays memory-mapped (``save`` writes them uncompressed): a million titles open
        without being read."""
        from bookrec_tui.core.npz import MappedNpz

        with MappedNpz(path) as z:
            catalogue = cls(**{f: z[f] for f in cls._FIELDS}, sha256=str(z["sha256"]))
        if any(len(getattr(catalogue, f)) != len(catalogue) for f in cls._FIELDS):
            raise ValueError("columns of different lengths")
        return catalogue


SHELVES_PER_BOOK = 8
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")


def clean_shelf_name(name: str) -> str:
    """A shelf name as readers mean it: full-width letters folded (NFKC), zero-width and
    soft-hyphen characters dropped, lower case, '' for a name with no letter or digit."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", str(name))).strip().lower()
    return text if any(ch.isalnum() for ch in text) else ""


def clean_author(name: str) -> str:
    """'Michael Lewis' for 'Michael   Lewis' (books.csv keeps runs of spaces)."""
    return ", ".join(" ".join(part.split()) for part in str(name).split(","))


@dataclass
class Dataset:
    catalogue: Catalogue
    ratings: Ratings
    ratings_path: Path
    # Reads the books readers shelved to read (see ``to_read``), on first use: only the
    # embedding model's training wants them, and reading them takes about 1.7 s.
    read_to_read: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = field(
        default=None, repr=False
    )

    @functools.cached_property
    def to_read(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Books readers shelved to read (goodbooks' to_read.csv beside the ratings), as
        (user ids, book ids), none of them rated by that reader; None where there is no such
        file."""
        return self.read_to_read() if self.read_to_read is not None else None

    def to_read_rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The to-read shelvings as (user ids, catalogue rows), or None."""
        if self.to_read is None:
            return None
        users, books = self.to_read
        return users, self.catalogue.rows(books)
