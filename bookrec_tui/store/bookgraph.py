"""The UCSD Goodreads data (Wan & McAuley, RecSys 2018) as a catalogue plus ratings.

Files, as published (all ids and numbers in the JSON are strings, e.g. ``"ratings_count": "12"``):

* ``goodreads_interactions.csv``: ``user_id,book_id,is_read,rating,is_reviewed`` with the
  dataset's compact csv ids (rating 0 = not rated); 229 million rows.
* ``book_id_map.csv``: ``book_id_csv,book_id`` (csv id -> Goodreads book id).
  ``user_id_map.csv`` (``user_id_csv,user_id``) maps readers to hashes; readers are kept by
  their csv id, so it is not read.
* ``goodreads_books.json.gz``: one book (edition) per line: ``book_id``, ``work_id``, ``title``,
  ``title_without_series``, ``authors`` [{``author_id``, ``role``}], ``popular_shelves``
  [{``count``, ``name``}], ``isbn``, ``publication_year``, ``average_rating``,
  ``ratings_count`` ...
* ``goodreads_book_authors.json.gz``: ``author_id``, ``name``...
* ``goodreads_book_works.json.gz``: ``work_id``, ``best_book_id``, ``original_title``,
  ``original_publication_year``, ``ratings_count``, ``ratings_sum``, ``rating_dist`` ...

Editions collapse onto their work: a catalogue row is a work, shown as its best edition. The
interactions are streamed in chunks (two passes: count reads per work, then collect the
kept works' ratings), so the full 229 million rows never sit in one DataFrame; the books file
is streamed twice, decoding JSON only for the lines of kept works. Catalogue ids are dense,
1..N in order of how many readers read the work.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
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
from bookrec_tui.fsutil import atomic_writer
from bookrec_tui.paths import cache_dir
from bookrec_tui.store.goodbooks import NON_GENRE_SHELVES

INTERACTIONS_FILE = "goodreads_interactions.csv"
BOOK_MAP_FILE = "book_id_map.csv"
USER_MAP_FILE = "user_id_map.csv"
BOOKS_FILE = "goodreads_books.json.gz"
AUTHORS_FILE = "goodreads_book_authors.json.gz"
WORKS_FILE = "goodreads_book_works.json.gz"
INTERACTION_COLUMNS = ("user_id", "book_id", "is_read", "rating", "is_reviewed")
CACHE_VERSION = 2  # 2: original titles, languages, shelf and genre counts

# Cheap pre-filters: decode a JSON line only when its ids say it is needed.
_BOOK_ID = re.compile(r'"book_id":\s*"(\d+)"')
_WORK_ID = re.compile(r'"work_id":\s*"(\d*)"')
_AUTHOR_ID = re.compile(r'"author_id":\s*"(\d+)"')
_RATINGS_COUNT = re.compile(r'"ratings_count":\s*"(\d*)"')

ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class Subsample:
    """Which works to keep (all of them by default)."""

    min_ratings: int = 1  # a work needs this many star ratings in the interactions
    max_books: int | None = None  # keep only the most-read works, e.g. 100_000
    chunk_rows: int = 5_000_000  # interaction rows per streamed chunk


@dataclass
class BookGraph:
    """What the loader produces: the dataset the rest of bookrec-tui trains on, plus the
    read-but-unrated shelvings (an implicit signal the star-based models do not use yet)."""

    dataset: Dataset
    read_user_ids: np.ndarray  # int32, readers who marked a book read without rating it
    read_book_ids: np.ndarray  # int32, catalogue book_id of each of those
    stats: dict = field(default_factory=dict)


def _require_files(data_dir: Path) -> None:
    for name in (INTERACTIONS_FILE, BOOK_MAP_FILE, BOOKS_FILE):
        if not (data_dir / name).is_file():
            raise DataMissingError(
                f"{data_dir / name} not found. --catalogue goodreads reads the UCSD Goodreads "
                f"files ({INTERACTIONS_FILE}, {BOOK_MAP_FILE}, {BOOKS_FILE}, and optionally "
                f"{AUTHORS_FILE} and {WORKS_FILE}) from --data-dir: "
                "https://mengtingwan.github.io/data/goodreads.html"
            )


def _json_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from handle


def _decode(line: str, path: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise DataError(f"{path}: line {number}: not a JSON object ({exc}).") from exc
    if not isinstance(record, dict):
        raise DataError(f"{path}: line {number}: expected a JSON object per line.")
    return record


def _int(text, default: int = 0) -> int:
    try:
        return int(str(text).strip() or default)
    except ValueError:
        return default


def _float(text, default: float = 0.0) -> float:
    try:
        return float(str(text).strip() or default)
    except ValueError:
        return default


def read_book_map(path: Path) -> np.ndarray:
    """csv id -> Goodreads book id (int64), -1 for a csv id the map does not list."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype="int64")
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: expected 'book_id_csv,book_id' integer columns ({exc}).") from exc
    if not {"book_id_csv", "book_id"} <= set(frame.columns):
        raise DataError(f"{path}: line 1: expected the header 'book_id_csv,book_id'.")
    csv_ids = frame["book_id_csv"].to_numpy()
    out = np.full(int(csv_ids.max()) + 1 if len(csv_ids) else 0, -1, dtype=np.int64)
    out[csv_ids] = frame["book_id"].to_numpy()
    return out


def book_works(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(Goodreads book ids sorted, the work key of each): the work id, or minus the book id
    for an edition that names no work (it is then a work of its own)."""
    books, works = [], []
    for number, line in enumerate(_json_lines(path), 1):
        m_book, m_work = _BOOK_ID.search(line), _WORK_ID.search(line)
        if m_book is None:
            record = _decode(line, path, number)
            if "book_id" not in record:
                raise DataError(f"{path}: line {number}: no book_id.")
            book, work = _int(record["book_id"], -1), _int(record.get("work_id"), 0)
        else:
            book = int(m_book.group(1))
            work = int(m_work.group(1)) if m_work and m_work.group(1) else 0
        books.append(book)
        works.append(work if work > 0 else -book)
    book_arr, work_arr = np.array(books, np.int64), np.array(works, np.int64)
    order = np.argsort(book_arr, kind="stable")
    return book_arr[order], work_arr[order]


def _interaction_chunks(path: Path, chunk_rows: int) -> Iterator:
    import pandas as pd

    with open(path, encoding="utf-8") as handle:
        header = tuple(h.strip() for h in handle.readline().strip().split(","))
    if header[:4] != INTERACTION_COLUMNS[:4]:
        raise DataError(
            f"{path}: line 1: expected the header {','.join(INTERACTION_COLUMNS)!r}, got "
            f"{','.join(header)!r}."
        )
    dtypes = {"user_id": "int32", "book_id": "int32", "is_read": "int8", "rating": "int8"}
    try:
        yield from pd.read_csv(
            path, usecols=list(dtypes), dtype=dtypes, chunksize=chunk_rows, engine="c"
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: could not parse ({exc}). Fix or remove that line.") from exc


def _select_works(
    reads: np.ndarray, rated: np.ndarray, work_keys: np.ndarray, subsample: Subsample
) -> np.ndarray:
    """Indices of the kept works, most read first (ties: most rated, then work id)."""
    eligible = np.flatnonzero(rated >= max(subsample.min_ratings, 1))
    order = np.lexsort((work_keys[eligible], -rated[eligible], -reads[eligible]))
    kept = eligible[order]
    return kept[: subsample.max_books] if subsample.max_books else kept


def _shelves(popular: list) -> tuple[str, list[int], np.ndarray]:
    """The book's strongest genre-like shelves, '|'-joined, their reader counts, and its
    readers per genre (genres.GENRE_NAMES columns, all spellings of a genre summed)."""
    shelves: dict[str, int] = {}
    genre_counts = np.zeros(len(genres.GENRE_NAMES), np.int64)
    names, counts = [], []
    for entry in popular or ():
        if not isinstance(entry, dict):
            continue
        name, count = clean_shelf_name(entry.get("name", "")), _int(entry.get("count"))
        if name and count > 0:
            names.append(name)
            counts.append(count)
            if not NON_GENRE_SHELVES.match(name):
                shelves[name] = shelves.get(name, 0) + count
    if names:
        cols = genres.tag_genre_columns(names)
        np.add.at(genre_counts, cols[cols >= 0], np.array(counts, np.int64)[cols >= 0])
    top = sorted(shelves.items(), key=lambda kv: (-kv[1], kv[0]))[:SHELVES_PER_BOOK]
    return "|".join(n for n, _ in top), [c for _, c in top], genre_counts


def _rating_std(dist: str) -> float:
    """Spread of a works file ``rating_dist`` ('5:10|4:3|3:0|2:0|1:1|total:14')."""
    hist = np.zeros(6)
    for part in str(dist or "").split("|"):
        star, _, count = part.partition(":")
        if star.isdigit() and 1 <= int(star) <= 5:
            hist[int(star)] = _int(count)
    total = hist.sum()
    if total <= 0:
        return 0.0
    mean = (hist * np.arange(6)).sum() / total
    return float(np.sqrt(max((hist * np.arange(6) ** 2).sum() / total - mean**2, 0.0)))


def _records_by_id(
    path: Path, wanted: set[int], id_pattern: re.Pattern, key: str
) -> dict[int, dict]:
    """The records of a JSON-lines file whose ``key`` is in ``wanted`` ({} when the file is
    absent). ``id_pattern`` finds the id in the raw line, so unwanted lines are never
    decoded."""
    if not path.is_file():
        return {}
    out = {}
    for number, line in enumerate(_json_lines(path), 1):
        m = id_pattern.search(line)
        if m and m.group(1) and int(m.group(1)) not in wanted:
            continue
        record = _decode(line, path, number)
        record_id = _int(record.get(key), -1)
        if record_id in wanted:
            out[record_id] = record
    return out


def _read_works(path: Path, wanted: set[int]) -> dict[int, dict]:
    """The works file's records for ``wanted`` work ids."""
    return _records_by_id(path, wanted, _WORK_ID, "work_id")


def _read_authors(path: Path, wanted: set[int]) -> dict[int, str]:
    """Author names for ``wanted`` author ids."""
    records = _records_by_id(path, wanted, _AUTHOR_ID, "author_id")
    return {a: str(record.get("name", "")).strip() for a, record in records.items()}


def _editions(path: Path, work_rank: dict[int, int], best_book: dict[int, int]) -> dict[int, dict]:
    """For each kept work (by its key), the edition that shows it: the works file's best
    book when the books file has it, else the edition with the most ratings.

    Only the chosen lines are decoded (a books-file line is ~3.5 KB of JSON): best editions
    are recognised by their id, and the most-rated edition of a work without one by its
    ``ratings_count``, read with a regular expression. A second pass is needed only for
    works whose best edition is missing from the books file.
    """
    chosen, missing = _scan_editions(path, set(work_rank), best_book)
    if missing:
        more, _ = _scan_editions(path, missing, {})
        chosen.update(more)
    return chosen


def _scan_editions(
    path: Path, keys: set[int], best_book: dict[int, int]
) -> tuple[dict[int, dict], set[int]]:
    chosen: dict[int, dict] = {}
    candidates: dict[int, tuple[int, str, int]] = {}  # key -> (ratings, line, line number)
    for number, line in enumerate(_json_lines(path), 1):
        m_book, m_work = _BOOK_ID.search(line), _WORK_ID.search(line)
        if m_book is None:  # unusual layout: decode to find the ids
            record = _decode(line, path, number)
            book, work = _int(record.get("book_id"), -1), _int(record.get("work_id"), 0)
        else:
            book = int(m_book.group(1))
            work = int(m_work.group(1)) if m_work and m_work.group(1) else 0
        key = work if work > 0 else -book
        if key not in keys:
            continue
        best = best_book.get(key)
        if best is not None:
            if book == best:
                chosen[key] = {**_decode(line, path, number), "_book": book}
            continue
        m_count = _RATINGS_COUNT.search(line)
        count = int(m_count.group(1) or 0) if m_count else 0
        if key not in candidates or count > candidates[key][0]:
            candidates[key] = (count, line, number)
    for key, (_, line, number) in candidates.items():
        record = _decode(line, path, number)
        chosen[key] = {**record, "_book": _int(record.get("book_id"), -1)}
    missing = {k for k in keys if k in best_book and k not in chosen}
    return chosen, missing


def _build_catalogue(
    kept_keys: np.ndarray, editions: dict[int, dict], works: dict[int, dict], authors: dict
) -> Catalogue:
    n = len(kept_keys)
    text: dict[str, list[str]] = {
        k: [] for k in ("titles", "authors", "isbns", "shelves", "original_titles", "languages")
    }
    goodreads = np.zeros(n, np.int64)
    best = np.zeros(n, np.int64)
    years = np.zeros(n, np.int16)
    averages = np.zeros(n, np.float32)
    counts = np.zeros(n, np.int64)
    stds = np.zeros(n, np.float32)
    shelf_counts = np.zeros((n, SHELVES_PER_BOOK), np.int32)
    genre_counts = np.zeros((n, len(genres.GENRE_NAMES)), np.int32)
    for i, key in enumerate(kept_keys.tolist()):
        book = editions.get(key, {})
        work = works.get(key, {})
        original = str(work.get("original_title") or "").strip()
        text["titles"].append(
            str(book.get("title") or "").strip()
            or original
            or str(book.get("title_without_series") or "").strip()
        )
        text["original_titles"].append(original)
        text["languages"].append(str(book.get("language_code") or "").strip())
        names = [
            authors.get(_int(a.get("author_id"), -1), "")
            for a in book.get("authors") or ()
            if isinstance(a, dict)
        ]
        text["authors"].append(clean_author(", ".join(n for n in names if n)))
        text["isbns"].append(str(book.get("isbn") or "").strip())
        joined, top_counts, per_genre = _shelves(book.get("popular_shelves"))
        text["shelves"].append(joined)
        shelf_counts[i, : len(top_counts)] = top_counts
        genre_counts[i] = np.minimum(per_genre, np.iinfo(np.int32).max)
        goodreads[i] = book.get("_book", 0)
        best[i] = _int(work.get("best_book_id"), goodreads[i]) or goodreads[i]
        year = _int(work.get("original_publication_year")) or _int(book.get("publication_year"))
        years[i] = np.clip(year, -32000, 32000)
        work_count = _int(work.get("ratings_count"))
        if work_count > 0:
            averages[i] = _float(work.get("ratings_sum")) / work_count
            counts[i] = work_count
        else:
            averages[i] = _float(book.get("average_rating"))
            counts[i] = _int(book.get("ratings_count"))
        stds[i] = _rating_std(work.get("rating_dist", ""))
    return Catalogue(
        book_ids=np.arange(1, n + 1, dtype=np.int32),
        goodreads_ids=goodreads,
        best_book_ids=best,
        years=years,
        average_ratings=averages,
        ratings_counts=counts,
        rating_stds=stds,
        shelf_counts=shelf_counts,
        genre_counts=genre_counts,
        **{k: np.array(v, dtype=str) for k, v in text.items()},
    )


def _dedupe_last(users: np.ndarray, books: np.ndarray, n_books: int) -> np.ndarray:
    """Indices keeping the last row of each (user, book) pair, in their original order."""
    key = users.astype(np.int64) * (n_books + 1) + books
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    return np.sort(len(key) - 1 - first_in_reversed)


def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).view(np.uint8).tobytes())
    return digest.hexdigest()


def parse_bookgraph(
    data_dir: Path, subsample: Subsample = Subsample(), progress: ProgressFn | None = None
) -> BookGraph:
    """Read the UCSD Goodreads files in ``data_dir`` (see the module docstring)."""
    data_dir = Path(data_dir)
    _require_files(data_dir)
    say = progress or (lambda _msg: None)
    interactions = data_dir / INTERACTIONS_FILE

    say("reading the book id map")
    csv_to_book = read_book_map(data_dir / BOOK_MAP_FILE)
    say("reading editions and their works")
    book_ids, work_of_book = book_works(data_dir / BOOKS_FILE)
    work_keys, work_index = np.unique(work_of_book, return_inverse=True)
    pos = np.searchsorted(book_ids, csv_to_book)
    found = (csv_to_book >= 0) & (pos < len(book_ids))
    found[found] = book_ids[pos[found]] == csv_to_book[found]
    csv_to_work = np.where(found, work_index[np.minimum(pos, len(book_ids) - 1)], -1)
    csv_to_work = csv_to_work.astype(np.int32)

    # Pass 1: how many readers read and rated each work.
    reads = np.zeros(len(work_keys), np.int64)
    rated = np.zeros(len(work_keys), np.int64)
    rows = unknown_books = 0
    for chunk in _interaction_chunks(interactions, subsample.chunk_rows):
        b = chunk["book_id"].to_numpy()
        ok = (b >= 0) & (b < len(csv_to_work))
        w = np.full(len(b), -1, np.int32)
        w[ok] = csv_to_work[b[ok]]
        known = w >= 0
        unknown_books += int((~known).sum())
        stars = chunk["rating"].to_numpy()
        read = (chunk["is_read"].to_numpy() > 0) | (stars > 0)
        reads += np.bincount(w[known & read], minlength=len(work_keys))
        rated += np.bincount(w[known & (stars > 0)], minlength=len(work_keys))
        rows += len(chunk)
        say(f"counted {rows:,} interactions")
    kept = _select_works(reads, rated, work_keys, subsample)
    n_books = len(kept)
    if n_books == 0:
        raise DataError(
            f"{interactions}: no work has {subsample.min_ratings} rating(s). Lower --min-ratings."
        )
    work_to_book = np.zeros(len(work_keys), np.int32)  # 0 = not kept
    work_to_book[kept] = np.arange(1, n_books + 1, dtype=np.int32)
    csv_to_book_id = np.where(csv_to_work >= 0, work_to_book[np.maximum(csv_to_work, 0)], 0)

    # Pass 2: the kept works' ratings and read-unrated shelvings.
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("u", "b", "s", "ru", "rb")}
    seen = 0
    for chunk in _interaction_chunks(interactions, subsample.chunk_rows):
        b = chunk["book_id"].to_numpy()
        ok = (b >= 0) & (b < len(csv_to_book_id))
        book = np.zeros(len(b), np.int32)
        book[ok] = csv_to_book_id[b[ok]]
        users = chunk["user_id"].to_numpy().astype(np.int32) + 1  # ids from 1, as goodbooks
        stars = chunk["rating"].to_numpy()
        if ((stars < 0) | (stars > 5)).any():
            line = seen + int(np.flatnonzero((stars < 0) | (stars > 5))[0]) + 2
            raise DataError(f"{interactions}: line {line}: rating must be 0 (none) to 5.")
        has = (book > 0) & (stars > 0)
        parts["u"].append(users[has])
        parts["b"].append(book[has])
        parts["s"].append(stars[has].astype(np.int8))
        read_only = (book > 0) & (stars == 0) & (chunk["is_read"].to_numpy() > 0)
        parts["ru"].append(users[read_only])
        parts["rb"].append(book[read_only])
        seen += len(chunk)
        say(f"collected {seen:,} of {rows:,} interactions")
    users, books, stars = (np.concatenate(parts[k]) for k in ("u", "b", "s"))
    keep = _dedupe_last(users, books, n_books)
    editions_merged = len(users) - len(keep)
    users, books, stars = users[keep], books[keep], stars[keep]
    read_u, read_b = np.concatenate(parts["ru"]), np.concatenate(parts["rb"])
    if len(read_u):
        key = read_u.astype(np.int64) * (n_books + 1) + read_b
        rated_key = np.sort(users.astype(np.int64) * (n_books + 1) + books)
        key = np.unique(key)
        pos = np.minimum(np.searchsorted(rated_key, key), max(len(rated_key) - 1, 0))
        unrated = key[rated_key[pos] != key] if len(rated_key) else key
        read_u = (unrated // (n_books + 1)).astype(np.int32)
        read_b = (unrated % (n_books + 1)).astype(np.int32)

    say("reading the kept works' metadata")
    kept_keys = work_keys[kept]
    work_rank = {int(k): i for i, k in enumerate(kept_keys)}
    works = _read_works(data_dir / WORKS_FILE, {k for k in work_rank if k > 0})
    best_book = {k: _int(w.get("best_book_id"), 0) for k, w in works.items()}
    editions = _editions(data_dir / BOOKS_FILE, work_rank, best_book)
    wanted_authors = {
        _int(a.get("author_id"), -1)
        for record in editions.values()
        for a in record.get("authors") or ()
        if isinstance(a, dict)
    }
    authors = _read_authors(data_dir / AUTHORS_FILE, wanted_authors)
    catalogue = _build_catalogue(kept_keys, editions, works, authors)
    catalogue.sha256 = _digest(catalogue.goodreads_ids, catalogue.best_book_ids)
    ratings = Ratings(
        user_ids=users,
        book_ids=books,
        stars=stars,
        duplicates_dropped=editions_merged,
        schema="goodreads",
        sha256=_digest(users, books, stars),
    )
    stats = {
        "interactions": rows,
        "unknown_book_rows": unknown_books,
        "works_in_data": int(len(work_keys)),
        "works_kept": n_books,
        "ratings": len(ratings),
        "read_unrated": int(len(read_u)),
        "edition_duplicates_merged": editions_merged,
        "subsample": asdict(subsample),
    }
    return BookGraph(Dataset(catalogue, ratings, interactions), read_u, read_b, stats)


def _cache_key(data_dir: Path, subsample: Subsample) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for name in (INTERACTIONS_FILE, BOOK_MAP_FILE, BOOKS_FILE, AUTHORS_FILE, WORKS_FILE):
        path = data_dir / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    sub = asdict(subsample)
    sub.pop("chunk_rows")  # how it is read does not change what is read
    digest.update(json.dumps(sub, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def load_bookgraph(
    data_dir: Path,
    subsample: Subsample = Subsample(),
    progress: ProgressFn | None = None,
    use_cache: bool = True,
) -> BookGraph:
    """:func:`parse_bookgraph`, cached as plain arrays keyed by the files' sizes and times
    and the subsampling options (a full read of the 229 million rows takes long)."""
    data_dir = Path(data_dir)
    _require_files(data_dir)
    base = cache_dir() / f"bookgraph-{_cache_key(data_dir, subsample)}"
    cat_path, rat_path = base.with_suffix(".catalogue.npz"), base.with_suffix(".ratings.npz")
    if use_cache and cat_path.is_file() and rat_path.is_file():
        try:
            catalogue = Catalogue.load_npz(cat_path)
            with np.load(rat_path, allow_pickle=False) as z:
                ratings = Ratings.from_arrays(z)
                stats = json.loads(str(z["stats"]))
                read_u, read_b = z["read_user_ids"], z["read_book_ids"]
            interactions = data_dir / INTERACTIONS_FILE
            return BookGraph(Dataset(catalogue, ratings, interactions), read_u, read_b, stats)
        except (OSError, ValueError, KeyError):
            pass  # rebuilt below
    graph = parse_bookgraph(data_dir, subsample, progress)
    if use_cache:
        graph.dataset.catalogue.save(cat_path)
        r = graph.dataset.ratings
        with atomic_writer(rat_path) as handle:
            np.savez(
                handle,
                **r.arrays(),
                stats=json.dumps(graph.stats),
                read_user_ids=graph.read_user_ids,
                read_book_ids=graph.read_book_ids,
            )
    return graph
