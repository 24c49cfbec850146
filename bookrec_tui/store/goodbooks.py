"""goodbooks-10k loading: ratings (v1 and v2 schemas), the book catalogue and shelves, and
the books readers shelved to read (to_read.csv, optional).

Parsing uses pandas once; the result is cached as a compact ``.npz`` keyed by the source
files' SHA-256, so warm starts read plain numpy arrays. Bad input raises
:class:`~bookrec_tui.errors.DataError` naming the file, the line or column, and a fix.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from bookrec_tui.core import genres
from bookrec_tui.core.catalogue import (
    SHELVES_PER_BOOK,
    Catalogue,
    Dataset,
    Ratings,
    clean_author,
    clean_shelf_name,
)
from bookrec_tui.errors import DataError, DataMissingError
from bookrec_tui.fsutil import atomic_writer, cached_sha256
from bookrec_tui.paths import DATA_ENV, cache_dir

CACHE_VERSION = 4  # 3: original titles, languages, shelf counts; 4: genre counts
RATINGS_FILE = "ratings.csv"
BOOKS_FILE = "books.csv"
TAGS_FILE = "tags.csv"
BOOK_TAGS_FILE = "book_tags.csv"
TO_READ_FILE = "to_read.csv"

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


def read_to_read(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """goodbooks' ``to_read.csv`` (``user_id,book_id``: books readers shelved to read) as
    read and checked, (user ids, book ids) int64; None when there is no such file: it is
    optional."""
    if not path.is_file():
        return None
    header = _read_header(path)
    if not {"user_id", "book_id"} <= set(header):
        raise DataError(
            f"{path}: expected the columns user_id,book_id, found {','.join(header)}. "
            "Use goodbooks-10k's to_read.csv, or remove the file (training works without it)."
        )
    frame = _read_csv(path, "to_read.csv", usecols=["user_id", "book_id"])
    for column in ("user_id", "book_id"):
        _check_integer_column(frame, column, path)
    return frame["user_id"].to_numpy(np.int64), frame["book_id"].to_numpy(np.int64)


def learnable_to_read(
    users: np.ndarray, books: np.ndarray, ratings: Ratings, catalogue: Catalogue
) -> tuple[np.ndarray, np.ndarray]:
    """The shelvings a model can learn from: pairs the reader rated, readers with no
    rating, books not in the catalogue and repeats left out (about 1.7 s for goodbooks'
    912,705, most of it sorting: ``Dataset.to_read`` does it on first use)."""
    span = int(max(books.max(initial=0), ratings.book_ids.max(initial=0))) + 1
    rated = ratings.user_ids.astype(np.int64) * span + ratings.book_ids
    pairs = users * span + books
    keep = (
        np.isin(books, catalogue.book_ids)
        & np.isin(users, ratings.user_ids)
        & ~np.isin(pairs, rated)
    )
    pairs = np.unique(pairs[keep])
    return pairs // span, pairs % span


def load_dataset(
    data_dir: Path | None = None,
    ratings_path: Path | None = None,
    books_dir: Path | None = None,
    use_cache: bool = True,
) -> Dataset:
    """Catalogue plus ratings, cross-checked.

    ``ratings_path`` overrides ``data_dir/ratings.csv``; ``books_dir`` the folder of books.csv.
    """
    from bookrec_tui.paths import resolve_data_dir

    base = resolve_data_dir(data_dir)
    ratings_path = Path(ratings_path) if ratings_path else base / RATINGS_FILE
    catalogue = load_catalogue(Path(books_dir) if books_dir else base, use_cache)
    ratings = load_ratings(ratings_path, use_cache)
    check_coverage(ratings, catalogue, ratings_path)
    shelved = read_to_read(ratings_path.parent / TO_READ_FILE)  # checked now, kept on use
    to_read = (
        None
        if shelved is None
        else functools.partial(learnable_to_read, *shelved, ratings, catalogue)
    )
    return Dataset(catalogue, ratings, ratings_path, to_read)
