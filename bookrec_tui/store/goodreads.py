"""Goodreads library exports ("Import and export" CSV): parse every real-world variant and
match the books to the catalogue.

Variants handled (all seen in real exports): UTF-8 BOM, CRLF, the legacy 31-column and
current 24-column headers, missing or extra columns, a lower-cased header, space-padded
cells, a header fused with the first data row, ratings written as "4.0", ISBNs with and
without the ``="..."`` wrapper. ``My Rating`` 0 means shelved but not rated.

Matching, most reliable first: Goodreads book id (against ``goodreads_book_id`` and
``best_book_id``), ISBN-10 / ISBN-13 (books.csv keeps ISBN-10 without leading zeros and
ISBN-13 as a lossy float, so ISBN-13s are turned into ISBN-10s), then title plus author
surname, normalised, with a strict similarity threshold: a wrong match is worse than a
missed one.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz

from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.core.search import normalise
from bookrec_tui.errors import BookrecError
from bookrec_tui.store.profile import EXPORT_COLUMNS, Profile, unquote_formula

KNOWN_COLUMNS = (
    "book id",
    "title",
    "author",
    "author l-f",
    "additional authors",
    "isbn",
    "isbn13",
    "my rating",
    "average rating",
    "publisher",
    "binding",
    "number of pages",
    "year published",
    "original publication year",
    "date read",
    "date added",
    "bookshelves",
    "bookshelves with positions",
    "exclusive shelf",
    "my review",
    "spoiler",
    "private notes",
    "read count",
    "recommended for",
    "recommended by",
    "owned copies",
    "original purchase date",
    "original purchase location",
    "condition",
    "condition description",
    "bcid",
)
TITLE_MATCH_MIN = 92  # rapidfuzz ratio on normalised titles, with the same author surname
#: Bigger than any real library export (a 20,000-book library with reviews is ~30 MB).
MAX_EXPORT_BYTES = 256 << 20
#: Control characters (C0 but tab/newline, DEL, C1) and bidi overrides: never printed raw
#: (an ESC in a title would retitle or clear the reader's terminal).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


#: Goodreads exclusive shelves of books not read yet.
TO_READ_SHELVES = frozenset({"to-read", "to read", "want-to-read", "want to read", ""})


class GoodreadsError(BookrecError):
    pass


@dataclass(frozen=True)
class ShelfEntry:
    goodreads_id: int | None
    title: str
    author: str
    isbn10: str
    isbn13: str
    rating: int  # 0 = not rated
    shelf: str  # read, to-read, currently-reading, ...
    catalogue_id: int | None = None  # goodbooks book_id (the app's own export carries it)


def _clean_isbn(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value.replace('="', "").replace('"', "")).upper()


def _parse_rating(text: str) -> int:
    """'4', '4.0' -> 4; anything else (blank, 'nan', 'inf', '99', 'five', 'true', '4.7': not
    whole stars) -> 0, unrated: a rating is never invented."""
    try:
        value = float(text or 0)
    except ValueError:
        return 0
    return int(value) if value in (1.0, 2.0, 3.0, 4.0, 5.0) else 0


def _read_export_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file only (a FIFO would block, /dev/zero never end), and
    at most MAX_EXPORT_BYTES."""
    try:
        with open(path, "rb", buffering=0) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise GoodreadsError(
                    f"{path} is not a regular file (a pipe or device); save the export to a "
                    "file first."
                )
            if info.st_size > MAX_EXPORT_BYTES:
                raise GoodreadsError(
                    f"{path} is {info.st_size:,} bytes, more than any Goodreads export "
                    f"({MAX_EXPORT_BYTES:,}); is it the right file?"
                )
            return handle.read(MAX_EXPORT_BYTES + 1)[:MAX_EXPORT_BYTES]
    except OSError as exc:
        raise GoodreadsError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _decode(raw: bytes) -> str:
    """Text of an export in UTF-8 (with or without BOM), UTF-16 (with BOM, or plain ASCII
    text with NULs between) or, failing UTF-8, Windows-1252/Latin-1 (older spreadsheets)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    head = raw[:400]
    if len(head) >= 4 and head[1::2].count(0) > 0.8 * len(head[1::2]):
        return raw.decode("utf-16-le", errors="replace")
    if len(head) >= 4 and head[0::2].count(0) > 0.8 * len(head[0::2]):
        return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _fix_fused_header(rows: list[list[str]]) -> list[list[str]]:
    """A header whose last name runs straight into the first data row ("Owned Copies102955,
    ...") is split back into a header and a row."""
    header = rows[0]
    for i, cell in enumerate(header):
        low = cell.strip().lower()
        if low in KNOWN_COLUMNS:
            continue
        for name in sorted(KNOWN_COLUMNS, key=len, reverse=True):
            if low.startswith(name) and len(low) > len(name):
                cut = len(cell) - len(cell.lstrip()) + len(name)
                first_row = [cell[cut:], *header[i + 1 :]]
                return [[*header[:i], cell[:cut]], first_row, *rows[1:]]
    return rows


def parse_export(path: Path) -> list[ShelfEntry]:
    """Every book in a Goodreads export (rated or not). Raises GoodreadsError when the file
    is empty or not a Goodreads export."""
    path = Path(path)
    text = _UNPRINTABLE.sub("", _decode(_read_export_bytes(path)))
    # Reviews can be long: lift the csv module's 128 KiB cell limit to the file's size.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        rows = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise GoodreadsError(f"{path} is not a readable CSV file ({exc}).") from exc
    if not rows:
        raise GoodreadsError(
            f"{path} is empty: export your library from Goodreads "
            "(My Books > Import and export > Export library)."
        )
    own = tuple(h.strip().lower() for h in rows[0][: len(EXPORT_COLUMNS)]) == EXPORT_COLUMNS
    if not own:
        rows = _fix_fused_header(rows)
    header = [h.strip().lower() for h in rows[0]]
    if own:  # `bookrec-tui export` output: importing it back restores a profile
        header = ["catalogue id", "title", "author", "my rating", *header[len(EXPORT_COLUMNS) :]]
    col: dict[str, list[int]] = {}  # a name may repeat: the first non-empty cell wins
    for i, name in enumerate(header):
        col.setdefault(name, []).append(i)
    if not {"title", "my rating"} <= set(col):
        raise GoodreadsError(
            f"{path} does not look like a Goodreads export (no 'Title' and 'My Rating' "
            "columns). Export it from Goodreads: My Books > Import and export."
        )
    needed = max(col["title"][0], col["my rating"][0]) + 1

    def get(row: list[str], name: str) -> str:
        for i in col.get(name, ()):
            if i < len(row) and row[i].strip():
                return row[i].strip()
        return ""

    entries = []
    for row in rows[1:]:
        title = get(row, "title")
        if not title or len(row) < needed:  # a row cut short (a truncated file) is skipped
            continue
        if own:
            title = unquote_formula(title)
        rating = _parse_rating(get(row, "my rating"))
        book_id, own_id = get(row, "book id"), get(row, "catalogue id")
        entries.append(
            ShelfEntry(
                goodreads_id=_whole(book_id),
                title=title,
                author=unquote_formula(get(row, "author")) if own else get(row, "author"),
                isbn10=_clean_isbn(get(row, "isbn")),
                isbn13=_clean_isbn(get(row, "isbn13")),
                rating=rating,
                shelf=get(row, "exclusive shelf") or ("read" if rating else ""),
                catalogue_id=_whole(own_id),
            )
        )
    return entries


def _whole(text: str) -> int | None:
    """A positive id from a cell ('12'), or None (blank, '12a', 40 digits)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def isbn13_to_isbn10(isbn13: str) -> str:
    """'9780439023481' -> '0439023483'; '' for ISBN-13s outside the 978 range."""
    if len(isbn13) != 13 or not isbn13.startswith("978") or not isbn13.isdigit():
        return ""
    core = isbn13[3:12]
    check = (11 - sum((10 - i) * int(d) for i, d in enumerate(core)) % 11) % 11
    return core + ("X" if check == 10 else str(check))


def _surname(author: str) -> str:
    words = normalise(author.split(",")[0]).split()
    return words[-1] if words else ""


def _core_title(title: str) -> str:
    """Title without series note or subtitle: 'Mistborn: The Final Empire (Mistborn, #1)'
    -> 'mistborn'."""
    title = re.sub(r"\s*\([^()]*\)\s*$", "", title)
    return normalise(title.split(":")[0])


_DIGITS = re.compile(r"\d+")


def _numbers(core_title: str) -> list[str]:
    """The numbers in a title ('dragon ball vol 3' -> ['3']): volumes match volumes."""
    return [n.lstrip("0") or "0" for n in _DIGITS.findall(core_title)]


@dataclass(frozen=True)
class Match:
    entry: ShelfEntry
    book_id: int | None
    rule: str  # goodreads id, isbn, title+author, or unmatched


class CatalogueMatcher:
    def __init__(self, catalogue: Catalogue) -> None:
        c = catalogue
        self.catalogue = c
        self.by_gr: dict[int, int] = {}
        for ids in (c.best_book_ids, c.goodreads_ids):  # goodreads_book_id wins on clashes
            self.by_gr.update({int(g): int(b) for g, b in zip(ids, c.book_ids, strict=True)})
        self.by_isbn = {
            s.lstrip("0"): int(b) for s, b in zip(c.isbns, c.book_ids, strict=True) if s
        }
        self.by_title: dict[str, list[int]] = {}
        for b, t in zip(c.book_ids, c.titles, strict=True):
            self.by_title.setdefault(_core_title(str(t)), []).append(int(b))
        self.surnames = {
            int(b): _surname(str(a)) for b, a in zip(c.book_ids, c.authors, strict=True)
        }
        self.core_titles = {
            int(b): _core_title(str(t)) for b, t in zip(c.book_ids, c.titles, strict=True)
        }

    def match(self, e: ShelfEntry) -> Match:
        if e.catalogue_id is not None and e.catalogue_id in self.catalogue:
            return Match(e, e.catalogue_id, "book id")
        if e.goodreads_id is not None and e.goodreads_id in self.by_gr:
            return Match(e, self.by_gr[e.goodreads_id], "goodreads id")
        for isbn in (e.isbn10, isbn13_to_isbn10(e.isbn13)):
            if isbn and isbn.lstrip("0") in self.by_isbn:
                return Match(e, self.by_isbn[isbn.lstrip("0")], "isbn")
        core, surname = _core_title(e.title), _surname(e.author)
        if core and surname:
            same = [b for b in self.by_title.get(core, []) if self.surnames[b] == surname]
            if len(same) == 1:
                return Match(e, same[0], "title+author")
            numbers = _numbers(core)
            candidates = [
                b
                for b, s in self.surnames.items()
                if s == surname and _numbers(self.core_titles[b]) == numbers
            ]
            scored = sorted(
                ((fuzz.ratio(core, self.core_titles[b]), b) for b in candidates), reverse=True
            )
            if (
                scored
                and scored[0][0] >= TITLE_MATCH_MIN
                and (len(scored) == 1 or scored[1][0] < scored[0][0])
            ):
                return Match(e, scored[0][1], "title+author")
        return Match(e, None, "unmatched")

    def match_all(self, entries: list[ShelfEntry]) -> list[Match]:
        return [self.match(e) for e in entries]


@dataclass(frozen=True)
class ImportPlan:
    """What importing an export would do to a profile; nothing is written by making one."""

    entries: list[ShelfEntry]
    ratings: dict[int, int]  # book_id -> stars, matched rated books
    shelved: set[int]  # matched books on the to-read shelf, unrated
    read: set[int]  # matched books read (or being read) without a rating
    unmatched: list[ShelfEntry]  # rated books not in the catalogue
    conflicts: dict[int, tuple[int, int]]  # book_id -> (stars in profile, stars in export)
    by_rule: dict[str, int]  # matched rated books per matching rule
    seen: dict[int, int] = field(default_factory=dict)  # the shelf this plan was made against

    @property
    def empty(self) -> bool:
        return not self.ratings and not self.shelved and not self.read

    def ratings_to_write(self, replace_conflicts: bool = False) -> dict[int, int]:
        """The ratings to save: by default a book the reader already rated differently keeps
        the reader's rating (nothing they typed is lost); ``replace_conflicts`` takes the
        export's."""
        if replace_conflicts:
            return dict(self.ratings)
        return {b: s for b, s in self.ratings.items() if b not in self.conflicts}

    def apply(
        self, profile: Profile, replace_conflicts: bool = False
    ) -> tuple[dict[int, int], int]:
        """Save the import into ``profile`` (one undo step): the ratings written and how many
        of them were skipped because the reader rated those books after the preview."""
        ratings = self.ratings_to_write(replace_conflicts)
        skipped = profile.import_books(ratings, self.shelved, seen=self.seen, read=self.read)
        return ratings, skipped


def matched_ratings(matches: list[Match]) -> dict[int, int]:
    """book_id -> stars of the rated books found in the catalogue; a book listed twice keeps
    its last rating."""
    return {m.book_id: m.entry.rating for m in matches if m.entry.rating and m.book_id is not None}


def plan_import(path: Path, catalogue: Catalogue, existing: dict[int, int]) -> ImportPlan:
    """Parse ``path``, match it to ``catalogue`` and compare with the ``existing`` ratings."""
    entries = parse_export(path)
    matches = CatalogueMatcher(catalogue).match_all(entries)
    rated = [m for m in matches if m.entry.rating and m.book_id is not None]
    ratings = matched_ratings(matches)
    # Unrated books by exclusive shelf: to-read stays to read; read, currently-reading and
    # any other shelf (did-not-finish...) mean the reader knows the book: read, no opinion.
    unrated = {
        m.book_id: m.entry.shelf.strip().lower()
        for m in matches
        if not m.entry.rating and m.book_id is not None and m.book_id not in ratings
    }
    by_rule: dict[str, int] = {}
    for m in rated:
        by_rule[m.rule] = by_rule.get(m.rule, 0) + 1
    return ImportPlan(
        entries=entries,
        ratings=ratings,
        shelved={b for b, shelf in unrated.items() if shelf in TO_READ_SHELVES},
        read={b for b, shelf in unrated.items() if shelf not in TO_READ_SHELVES},
        unmatched=[m.entry for m in matches if m.entry.rating and m.book_id is None],
        conflicts={
            b: (existing[b], s) for b, s in ratings.items() if b in existing and existing[b] != s
        },
        by_rule=by_rule,
        seen=dict(existing),
    )


def match_rate(matches: list[Match]) -> float:
    rated = [m for m in matches if m.entry.rating]
    return float(np.mean([m.book_id is not None for m in rated])) if rated else 0.0
