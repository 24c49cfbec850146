"""goodbooks-10k loading: ratings (v1 and v2 schemas), the book catalogue and shelves.

Parsing uses pandas once; the result is cached as a compact ``.npz`` keyed by the source
files' SHA-256, so warm starts read plain numpy arrays. Bad input raises
:class:`~bookrec_tui.errors.DataError` naming the file, the line or column, and a fix.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import genres
from .errors import DataError, DataMissingError
from .fsutil import atomic_writer, cached_sha256
from .paths import DATA_ENV, cache_dir

if TYPE_CHECKING:
    from .works import Works

CACHE_VERSION = 4  # 3: original titles, languages, shelf counts; 4: genre counts
RATINGS_FILE = "ratings.csv"
BOOKS_FILE = "books.csv"
TAGS_FILE = "tags.csv"
BOOK_TAGS_FILE = "book_tags.csv"

#: ratings.csv header layouts: v1 (Kaggle, 981,756 rows) and v2 (GitHub, 5,976,479 rows).
RATINGS_SCHEMAS = {
    ("book_id", "user_id", "rating"): "v1",
    ("user_id", "book_id", "rating"): "v2",
}
BOOKS_REQUIRED = ("book_id", "goodreads_book_id", "authors", "title")

#: Shelves that say what a reader did with a book, not what the book is.
NON_GENRE_SHELVES = re.compile(
    r"^(to-?read|currently-?reading|favou?rites?|owned|books?-i-own|own|my-books|library|"
    r"kindle|ebooks?|e-books?|audio-?books?|audible|default|re-?read|wish-?list|"
    r"to-?buy|i-own|owned-books|my-library|books|abandoned|dnf|did-not-finish|"
    r"all-time-favou?rites?|favou?rite-books|read|read-in-\d+|\d+|book-club|"
    r"on-hold|shelfari-.*|my-.*|have|borrowed|library-books?|"
    r"favou?rite|faves?|reread|re-read|read-again|maybe|someday|bookshelf|"
    r"novels?|fiction|non-fiction|nonfiction|english|series|classics?-to-read)$"
)


SERIES_NOTE = re.compile(r"\s*\([^()]*#[^()]*\)\s*$")
_SERIES_NUMBER = re.compile(r"\([^()]*#(\d+)[^()]*\)\s*$")


def series_number(title: str) -> int | None:
    """1 for 'X (Series, #1)', 2 for '#2'...; None outside a series."""
    match = _SERIES_NUMBER.search(title)
    return int(match.group(1)) if match else None


def _first_author(authors) -> str:
    return str(authors).split(",")[0].strip()


def _memo_file() -> Path:
    return cache_dir() / "checksums.json"


def _require(path: Path, what: str) -> None:
    if not path.is_file():
        raise DataMissingError(
            f"{what} not found: {path}. Point --data-dir or ${DATA_ENV} at a folder with the "
            "goodbooks-10k CSV files, or run `bookrec-tui data fetch` to download them."
        )


#: Book and user ids must fit int32 (the arrays' type) and a book-id look-up table: a
#: stray huge id would wrap silently or allocate gigabytes.
MAX_ID = 2**31 - 1
MAX_BOOK_ID = 10_000_000


def _not_utf8(path: Path, head: bytes) -> DataError:
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    return DataError(
        f"{path}: not UTF-8 text{' (it is UTF-16)' if utf16 else ''}. Save it as UTF-8 CSV "
        "(or use the goodbooks-10k file as downloaded)."
    )


def _read_header(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        head = handle.readline(1 << 16)
    try:
        first = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(path, head) from None
    return [name.strip().strip('"').lower() for name in first.strip().split(",")]


def _read_csv(path: Path, what: str, **kwargs):
    """``pandas.read_csv`` with every way a file can be unreadable turned into one
    DataError naming the file and what to do."""
    import pandas as pd

    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty. Use the goodbooks-10k {what}.") from None
    except UnicodeDecodeError:
        with open(path, "rb") as handle:
            raise _not_utf8(path, handle.read(4)) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"{path}: could not parse as CSV ({str(exc)[:200]}). Is this {what}?"
        ) from exc


def _check_id_range(values: np.ndarray, column: str, path: Path, top: int) -> None:
    bad = (values < 1) | (values > top)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: line {row + 2}, column '{column}': {values[row]} is outside 1..{top:,}. "
            "Fix or remove that line."
        )


def _read_cache(path: Path, reader):
    """``reader(path)``, or None when the cache is missing or damaged in any way (it is
    then deleted, and the caller rebuilds it from the source files)."""
    if not path.exists():
        return None
    try:
        return reader(path)
    except Exception:  # noqa: BLE001 - a cache is only an optimisation: rebuild it
        path.unlink(missing_ok=True)
        return None


def _check_integer_column(df, column: str, path: Path) -> None:
    """Raise a DataError naming the first line whose ``column`` is not an integer."""
    import pandas as pd

    series = df[column]
    if pd.api.types.is_integer_dtype(series):
        return
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() | (numeric != np.floor(numeric))
    row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
    raise DataError(
        f"{path}: line {row + 2}, column '{column}': expected a whole number, got "
        f"{series.iloc[row]!r}. Fix or remove that line."
    )


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


def parse_ratings(path: Path) -> Ratings:
    """Parse a ratings CSV in either schema, validate it and drop duplicate pairs (keep last)."""
    path = Path(path)
    _require(path, "Ratings file")
    header = tuple(_read_header(path))
    schema = RATINGS_SCHEMAS.get(header[:3]) if len(header) >= 3 else None
    if schema is None:
        missing = {"user_id", "book_id", "rating"} - set(header)
        raise DataError(
            f"{path}: line 1: expected a header 'book_id,user_id,rating' (v1) or "
            f"'user_id,book_id,rating' (v2), got {','.join(header)!r}"
            + (f" (missing column(s): {', '.join(sorted(missing))})" if missing else "")
            + ". Use the goodbooks-10k ratings.csv."
        )
    df = _read_csv(path, "ratings.csv", usecols=["user_id", "book_id", "rating"])
    if df.empty:
        raise DataError(f"{path}: no ratings in the file. Use the goodbooks-10k ratings.csv.")
    for column in ("user_id", "book_id", "rating"):
        _check_integer_column(df, column, path)
    stars = df["rating"].to_numpy()
    out_of_range = (stars < 1) | (stars > 5)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        raise DataError(
            f"{path}: line {row + 2}, column 'rating': {stars[row]} is outside 1..5. "
            "Ratings must be whole stars from 1 to 5."
        )
    users = df["user_id"].to_numpy(np.int64)
    books = df["book_id"].to_numpy(np.int64)
    _check_id_range(users, "user_id", path, MAX_ID)
    _check_id_range(books, "book_id", path, MAX_BOOK_ID)
    # Keep the last row of each (user, book) pair: unique over the reversed keys.
    key = users * (int(books.max()) + 1) + books
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    keep = np.sort(len(key) - 1 - first_in_reversed)
    return Ratings(
        user_ids=users[keep].astype(np.int32),
        book_ids=books[keep].astype(np.int32),
        stars=stars[keep].astype(np.int8),
        duplicates_dropped=int(len(key) - len(keep)),
        schema=schema,
    )


def load_ratings(path: Path, use_cache: bool = True) -> Ratings:
    """:func:`parse_ratings` with an ``.npz`` cache keyed by the file's SHA-256."""
    path = Path(path)
    _require(path, "Ratings file")
    digest = cached_sha256(path, _memo_file() if use_cache else None)
    cached = cache_dir() / f"ratings-v{CACHE_VERSION}-{digest[:20]}.npz"

    def read(path: Path) -> Ratings:
        with np.load(path, allow_pickle=False) as z:
            ratings = Ratings.from_arrays(z)
        if ratings.sha256 != digest:
            raise ValueError("cache made from another file")
        return ratings

    hit = _read_cache(cached, read) if use_cache else None
    if hit is not None:
        return hit
    ratings = parse_ratings(path)
    ratings = Ratings(
        ratings.user_ids,
        ratings.book_ids,
        ratings.stars,
        ratings.duplicates_dropped,
        ratings.schema,
        digest,
    )
    if use_cache:
        with atomic_writer(cached) as handle:
            np.savez(handle, **ratings.arrays())
    return ratings


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

    @functools.cached_property
    def first_authors(self) -> np.ndarray:
        """Each book's first-listed author ("J.K. Rowling" for "J.K. Rowling, Mary GrandPré")."""
        return np.array([_first_author(a) for a in self.authors])

    @functools.cached_property
    def works(self) -> Works:
        """Series order and editions read from the titles (see :mod:`.works`)."""
        from .works import Works

        return Works(self.titles, self.first_authors)

    def first_author(self, book_id: int) -> str:
        # One row's, without building first_authors (a second per million books).
        return _first_author(self.authors[self.row(book_id)])

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
        with atomic_writer(path) as handle:
            np.savez(handle, sha256=self.sha256, **{f: getattr(self, f) for f in self._FIELDS})

    @classmethod
    def load_npz(cls, path: Path) -> Catalogue:
        """Arrays memory-mapped (``save`` writes them uncompressed): a million titles open
        without being read."""
        from .npz import MappedNpz

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


def _top_shelves(
    data_dir: Path, goodreads_ids: np.ndarray, per_book: int = SHELVES_PER_BOOK
) -> tuple[np.ndarray, np.ndarray]:
    """Top genre-like shelves per book from book_tags.csv + tags.csv ('' when absent), and
    how many readers put the book on each (an (N, per_book) array, 0 past the last)."""
    import pandas as pd

    tags_path, book_tags_path = data_dir / TAGS_FILE, data_dir / BOOK_TAGS_FILE
    empty = np.array([""] * len(goodreads_ids)), np.zeros((len(goodreads_ids), per_book), np.int32)
    if not (tags_path.is_file() and book_tags_path.is_file()):
        return empty
    tags = _read_csv(tags_path, TAGS_FILE)
    book_tags = _read_csv(book_tags_path, BOOK_TAGS_FILE)
    for frame, cols, p in (
        (tags, ("tag_id", "tag_name"), tags_path),
        (book_tags, ("goodreads_book_id", "tag_id", "count"), book_tags_path),
    ):
        missing = set(cols) - set(frame.columns)
        if missing:
            raise DataError(f"{p}: missing column(s) {', '.join(sorted(missing))}.")
    names = tags.set_index("tag_id")["tag_name"].astype(str).map(clean_shelf_name)
    keep_tag = (names != "") & ~names.str.fullmatch(NON_GENRE_SHELVES.pattern)
    book_tags = book_tags[book_tags["count"] > 0]
    book_tags = book_tags[book_tags["tag_id"].map(keep_tag).fillna(False).astype(bool)]
    # Two raw tags can fold to one name ('fantasy' and 'ｆａｎｔａｓｙ'): add their counts.
    book_tags = book_tags.assign(name=book_tags["tag_id"].map(names))
    book_tags = book_tags.groupby(["goodreads_book_id", "name"], as_index=False)["count"].sum()
    book_tags = book_tags.sort_values(
        ["goodreads_book_id", "count", "name"], ascending=[True, False, True]
    )
    top = book_tags.groupby("goodreads_book_id").head(per_book)
    joined = top.groupby("goodreads_book_id")["name"].agg("|".join)
    shelves = joined.reindex(goodreads_ids).fillna("").to_numpy(dtype=str)
    counts = np.zeros((len(goodreads_ids), per_book), dtype=np.int32)
    position = top.groupby("goodreads_book_id").cumcount().to_numpy()
    row_of = pd.Series(np.arange(len(goodreads_ids)), index=goodreads_ids)
    rows = row_of.reindex(top["goodreads_book_id"]).to_numpy()
    ok = ~np.isnan(rows.astype(np.float64))
    counts[rows[ok].astype(np.int64), position[ok]] = top["count"].to_numpy()[ok]
    return shelves, counts


def _genre_counts(data_dir: Path, goodreads_ids: np.ndarray) -> np.ndarray:
    """(n, n_genres) int32: how many readers shelved each book under each genre (all its
    spellings summed); zeros when the tag files are absent."""
    import pandas as pd

    out = np.zeros((len(goodreads_ids), len(genres.GENRE_NAMES)), dtype=np.int32)
    tags_path, book_tags_path = data_dir / TAGS_FILE, data_dir / BOOK_TAGS_FILE
    if not (tags_path.is_file() and book_tags_path.is_file()):
        return out
    tags = _read_csv(tags_path, TAGS_FILE)
    book_tags = _read_csv(book_tags_path, BOOK_TAGS_FILE)
    book_tags = book_tags[book_tags["count"] > 0].drop_duplicates(["goodreads_book_id", "tag_id"])
    column_of_tag = pd.Series(
        genres.tag_genre_columns(tags["tag_name"].astype(str).map(clean_shelf_name).tolist()),
        index=tags["tag_id"],
    )
    cols = book_tags["tag_id"].map(column_of_tag).fillna(-1).to_numpy(np.int64)
    order = np.argsort(goodreads_ids, kind="stable")
    pos = np.searchsorted(goodreads_ids[order], book_tags["goodreads_book_id"].to_numpy())
    pos = np.minimum(pos, len(order) - 1)
    rows = order[pos]
    keep = (cols >= 0) & (goodreads_ids[rows] == book_tags["goodreads_book_id"].to_numpy())
    np.add.at(out, (rows[keep], cols[keep]), book_tags["count"].to_numpy(np.int32)[keep])
    return out


def parse_catalogue(data_dir: Path) -> Catalogue:
    path = Path(data_dir) / BOOKS_FILE
    _require(path, "Books file")
    books = _read_csv(path, BOOKS_FILE, dtype={"isbn": str})
    if {"id", "book_id"} <= set(books.columns) and "goodreads_book_id" not in books.columns:
        # The older Kaggle release of books.csv: `id` is the goodbooks id and `book_id` the
        # Goodreads one (same rows and ids as v2 otherwise).
        books = books.rename(columns={"book_id": "goodreads_book_id", "id": "book_id"})
    missing = [c for c in BOOKS_REQUIRED if c not in books.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}. Use the goodbooks-10k books.csv."
        )
    if books.empty:
        raise DataError(f"{path} has a header but no books. Use the goodbooks-10k books.csv.")
    for column in ("book_id", "goodreads_book_id"):
        _check_integer_column(books, column, path)
    _check_id_range(books["book_id"].to_numpy(np.int64), "book_id", path, MAX_BOOK_ID)
    if books["book_id"].duplicated().any():
        row = int(np.flatnonzero(books["book_id"].duplicated().to_numpy())[0])
        raise DataError(f"{path}: line {row + 2}: book_id {books['book_id'].iloc[row]} repeats.")

    def col(name: str, default, dtype):
        if name not in books.columns:
            return np.full(len(books), default, dtype=dtype)
        return books[name].fillna(default).to_numpy().astype(dtype)

    def text_col(name: str) -> np.ndarray:
        if name not in books.columns:
            return np.array([""] * len(books))
        return books[name].fillna("").astype(str).to_numpy(dtype=str)

    goodreads = books["goodreads_book_id"].to_numpy(np.int64)
    shelves, shelf_counts = _top_shelves(Path(data_dir), goodreads)
    hist = np.stack([col(f"ratings_{s}", 0, np.float64) for s in range(1, 6)], axis=1)
    total = np.maximum(hist.sum(axis=1), 1.0)
    mean = (hist * np.arange(1, 6)).sum(axis=1) / total
    std = np.sqrt(np.maximum((hist * np.arange(1, 6) ** 2).sum(axis=1) / total - mean**2, 0.0))
    return Catalogue(
        book_ids=books["book_id"].to_numpy(np.int32),
        goodreads_ids=goodreads,
        best_book_ids=col("best_book_id", 0, np.int64),
        titles=books["title"].fillna("").astype(str).to_numpy(dtype=str),
        authors=np.array([clean_author(a) for a in books["authors"].fillna("").astype(str)]),
        years=col("original_publication_year", 0, np.float64).astype(np.int16),
        average_ratings=col("average_rating", 0.0, np.float32),
        ratings_counts=col("ratings_count", 0, np.int64),
        isbns=text_col("isbn"),
        shelves=shelves,
        rating_stds=std.astype(np.float32),
        original_titles=text_col("original_title"),
        languages=text_col("language_code"),
        shelf_counts=shelf_counts,
        genre_counts=_genre_counts(Path(data_dir), goodreads),
    )


def load_catalogue(data_dir: Path, use_cache: bool = True) -> Catalogue:
    """The catalogue from ``data_dir``, cached by the checksums of books/tags/book_tags."""
    data_dir = Path(data_dir)
    _require(data_dir / BOOKS_FILE, "Books file")
    memo = _memo_file() if use_cache else None
    parts = [cached_sha256(data_dir / BOOKS_FILE, memo)]
    for name in (TAGS_FILE, BOOK_TAGS_FILE):
        if (data_dir / name).is_file():
            parts.append(cached_sha256(data_dir / name, memo))
    books_sha = parts[0]
    key = "-".join(p[:12] for p in parts)
    cached = cache_dir() / f"catalogue-v{CACHE_VERSION}-{genres.DEFINITION_KEY}-{key}.npz"
    hit = _read_cache(cached, Catalogue.load_npz) if use_cache else None
    if hit is not None:
        return hit
    catalogue = parse_catalogue(data_dir)
    catalogue.sha256 = books_sha
    if use_cache:
        catalogue.save(cached)
    return catalogue


def check_coverage(ratings: Ratings, catalogue: Catalogue, ratings_path: Path) -> None:
    """Every rated book must be in books.csv."""
    rows = catalogue.rows(ratings.book_ids)
    if (rows < 0).any():
        unknown = np.unique(ratings.book_ids[rows < 0])
        shown = ", ".join(str(b) for b in unknown[:5])
        raise DataError(
            f"{ratings_path}: {len(unknown)} book_id(s) are not in books.csv (e.g. {shown}). "
            "Use the books.csv that belongs to this ratings file."
        )


@dataclass
class Dataset:
    catalogue: Catalogue
    ratings: Ratings
    ratings_path: Path


def load_dataset(
    data_dir: Path | None = None,
    ratings_path: Path | None = None,
    books_dir: Path | None = None,
    use_cache: bool = True,
) -> Dataset:
    """Catalogue plus ratings, cross-checked.

    ``ratings_path`` overrides ``data_dir/ratings.csv``; ``books_dir`` the folder of books.csv.
    """
    from .paths import resolve_data_dir

    base = resolve_data_dir(data_dir)
    ratings_path = Path(ratings_path) if ratings_path else base / RATINGS_FILE
    catalogue = load_catalogue(Path(books_dir) if books_dir else base, use_cache)
    ratings = load_ratings(ratings_path, use_cache)
    check_coverage(ratings, catalogue, ratings_path)
    return Dataset(catalogue, ratings, ratings_path)
