"""Series and editions, read from the titles alone: which books are entries of one series and
in what order, and which are box sets, omnibuses or partial editions of other books.

goodbooks-10k titles carry Goodreads' series note: "Catching Fire (The Hunger Games, #2)",
ranges for omnibuses "(Harry Potter, #1-7)", novellas "#2.5", partial editions
"(Harry Potter, #5, Part 1)", several series "(Discworld, #1; Rincewind #1)". Books without a
note can still be editions: "The Complete Novels" (Jane Austen), "J.R.R. Tolkien 4-Book Boxed
Set: The Hobbit and The Lord of the Rings". Such an omnibus contains the same first author's
books whose title or series name it names; a "Complete Novels/Works" with nothing named
contains all of that author's books.

Any-order series: goodbooks' co-ratings cannot tell a series read in order from one read in
any order (the share of readers of #3+ who also rated #1 is 0.37 for Harry Potter, 0.23 for
Discworld, 0.06 for Poirot), and shelves do not say it either. So a short curated list of
long-running series that their readers and publishers describe as standalone adventures is
treated as any-order (no "start with #1", nothing implied read); the reader can override a
series either way (``in order`` / ``any order``). Everything else is read in order.

numpy only: no pandas, Textual or TensorFlow.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Series read in any order (normalised series names; see :func:`series_key`).
ANY_ORDER_SERIES = frozenset(
    {
        "discworld",
        "herculepoirot",
        "missmarple",
        "jackreacher",
        "sherlockholmes",
        "jeeves",
        "inspectormaigret",
        "maigret",
        "kinseymillhone",
        "alexcross",
        "spenser",
        "dirkpitt",
        "lucasdavenport",
        "harrybosch",
        "harryboschuniverse",
        "stephanieplum",
        "inspectorlynley",
        "myronbolitar",
        "womensmurderclub",
        "xanth",
        "agathachristiecollection",
        "tintin",
        "asterix",
        "calvinandhobbes",
        "garfield",
        "peanuts",
        "mrmen",
        "berenstainbears",
        "curiousgeorge",
        "nancydrew",
        "hardyboys",
        "magictreehouse",
        "ameliabedelia",
        "wheresspot",
        "babysittersclub",
        "goosebumps",
    }
)

_NOTE = re.compile(r"\(([^()]*#[^()]*)\)\s*$")
_ENTRY = re.compile(
    r"#\s*(?P<lo>\d+(?:\.\d+)?)(?:\s*[-–]\s*(?P<hi>\d+(?:\.\d+)?))?"
    r"(?P<more>(?:\s*(?:,|\+)\s*\d+(?:\.\d+)?(?!\s*[-–]))*)"
)
_PART = re.compile(r"\bpart\s*(?:\d+|one|two|three|i{1,3}|iv)\b", re.IGNORECASE)
_OMNIBUS = re.compile(
    r"\b(?:box(?:ed)?[- ]?set|boxset|box|collection|complete|omnibus|trilogy|collected|"
    r"treasury|duo|books?\s+\d+\s*[-–]\s*\d+|bks\s+\d+\s*[-–]\s*\d+|\d+-book|\d+-copy)\b",
    re.IGNORECASE,
)
_NOT_OMNIBUS = re.compile(r"\b(?:heart-shaped box|bird box|getting out of the box)\b", re.I)
_WHOLE_SERIES = re.compile(r"\b(?:complete|trilogy)\b", re.IGNORECASE)
_ADAPTATION = re.compile(r"graphic novel|movie tie-in|marvel illustrated", re.IGNORECASE)
_COMPLETE_ALL = re.compile(r"\bcomplete\s+(?:novels|works)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case, accents off, only letters, digits and single spaces."""
    text = unicodedata.normalize("NFKD", text.replace("&", " and "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(_WORD.findall(text))


def series_key(name: str) -> str:
    """'The Lord of the Rings' and 'Lord of the Rings' name one series: 'lordoftherings'."""
    folded = _fold(name)
    if folded.startswith("the "):
        folded = folded[4:]
    return folded.replace(" ", "")


def core_title(title: str) -> str:
    """The title without its series note and subtitle, folded: 'the hobbit'."""
    cut = _NOTE.sub("", title).strip() or title
    return _fold(cut.split(":")[0])


@dataclass(frozen=True)
class SeriesNote:
    """One parsed series note: the first series named (its entry, range or part)."""

    name: str
    lo: float
    hi: float
    extra: tuple[float, ...] = ()  # "#1-4 + 3.5", "#0.5, 2.5"
    partial: bool = False  # "#5, Part 1": half of entry 5

    @property
    def single(self) -> bool:
        return self.lo == self.hi and not self.extra


def parse_series_note(title: str) -> SeriesNote | None:
    """The first series of ``title``'s note, or None for a book outside any series."""
    match = _NOTE.search(title)
    if not match:
        return None
    inner = match.group(1)
    entry = _ENTRY.search(inner)
    if not entry:
        return None
    name = inner[: entry.start()].strip().rstrip(",:").strip()
    if not name:
        return None
    lo = float(entry.group("lo"))
    hi = float(entry.group("hi") or lo)
    if hi < lo:
        lo, hi = hi, lo
    extra = tuple(float(x) for x in re.findall(r"\d+(?:\.\d+)?", entry.group("more") or ""))
    rest = inner[entry.end() :].split(";")[0]
    outside = title[: match.start()]
    partial = bool(_PART.search(rest)) or (lo == hi and bool(_PART.search(outside)))
    return SeriesNote(name, lo, hi, extra, partial)


class Works:
    """Series order and editions for a catalogue, indexed by catalogue row.

    * ``series[row]``: series id (-1 outside a series); ``position[row]``: its place
      (NaN for an omnibus), ``series_names[id]`` the display name.
    * ``main[row]``: the row a partial edition collapses onto (itself otherwise).
    * ``contains[row]``: rows an omnibus or box set holds (absent for a single book).
    * ``entries[id]``: (position, row) of the series' single entries, in order.
    """

    def __init__(self, titles: Iterable[str], first_authors: Iterable[str]) -> None:
        titles = [str(t) for t in titles]
        authors = [str(a) for a in first_authors]
        n = len(titles)
        self.n = n
        self.series = np.full(n, -1, dtype=np.int32)
        self.position = np.full(n, np.nan)
        self.main = np.arange(n, dtype=np.int64)
        self.contains: dict[int, frozenset[int]] = {}
        self.series_names: list[str] = []
        self.series_keys: list[str] = []
        ids: dict[str, int] = {}
        notes: list[SeriesNote | None] = [parse_series_note(t) for t in titles]
        for row, note in enumerate(notes):
            if note is None:
                continue
            # Keyed with the first author too: "Immortals" or "Secret" name several series.
            key = f"{series_key(note.name)}|{authors[row]}"
            if key not in ids:
                ids[key] = len(self.series_names)
                self.series_names.append(note.name)
                self.series_keys.append(key)
            self.series[row] = ids[key]
            if note.single and not note.partial:
                self.position[row] = note.lo
        self.entries: list[list[tuple[float, int]]] = [[] for _ in self.series_names]
        by_place: dict[tuple[int, float], int] = {}
        for row in np.flatnonzero(~np.isnan(self.position)):
            key = (int(self.series[row]), float(self.position[row]))
            # Two books claiming one place: the first (most rated in goodbooks' order) keeps it.
            if key not in by_place:
                by_place[key] = int(row)
                self.entries[key[0]].append((key[1], int(row)))
            else:
                self.main[row] = by_place[key]
        for entry in self.entries:
            entry.sort()
        # Omnibuses and partial editions of series entries.
        for row, note in enumerate(notes):
            if note is None or (note.single and not note.partial):
                continue
            sid = int(self.series[row])
            if note.partial:
                target = by_place.get((sid, note.lo))
                if target is not None:
                    self.main[row] = target
                continue
            held = {
                r
                for p, r in self.entries[sid]
                if (note.lo <= p <= note.hi and (p == int(p) or note.lo != int(note.lo)))
                or p in note.extra
            }
            if held:
                self.contains[row] = frozenset(held)
        self.any_order = np.array(
            [k.split("|")[0] in ANY_ORDER_SERIES for k in self.series_keys], dtype=bool
        )
        self._editions_without_note(titles, authors, notes)
        self._adaptations(titles)
        self.omnibuses = np.array(sorted(self.contains), dtype=np.int64)
        # Rows held by an omnibus, and which omnibuses hold each row.
        self.held_by: dict[int, list[int]] = defaultdict(list)
        for omnibus, held in self.contains.items():
            for r in held:
                self.held_by[r].append(omnibus)

    def _editions_without_note(
        self, titles: list[str], authors: list[str], notes: list[SeriesNote | None]
    ) -> None:
        """Box sets and collections named in words: same first author, and the titles or
        series names of that author's books that the omnibus names."""
        by_author: dict[str, list[int]] = defaultdict(list)
        for row, author in enumerate(authors):
            by_author[author].append(row)
        for row, title in enumerate(titles):
            note = notes[row]
            if row in self.contains or (note is not None and note.single and not note.partial):
                continue  # its note said what it holds, or it is an entry ("Night Trilogy #1")
            outside = _NOTE.sub("", title)
            if not (_OMNIBUS.search(outside) or " / " in outside) or _NOT_OMNIBUS.search(outside):
                continue
            folded = f" {_fold(outside)} "
            held: set[int] = set()
            everything = bool(_COMPLETE_ALL.search(outside))
            # "The Complete Sherlock Holmes", "Mark of the Lion Trilogy", "Boxed Set: The
            # Hobbit and The Lord of the Rings": a series by name, whole.
            whole_series = bool(_WHOLE_SERIES.search(outside))
            if not whole_series and ":" in outside:
                folded_series = f" {_fold(outside.split(':', 1)[1])} "
            else:
                folded_series = folded if whole_series else ""
            for other in by_author[authors[row]]:
                if other == row:
                    continue
                named = core_title(titles[other])
                sid = int(self.series[other])
                if (
                    everything
                    or (len(named) >= 4 and f" {named} " in folded)
                    or (
                        sid >= 0
                        and len(self.series_names[sid]) >= 4
                        and f" {_fold(self.series_names[sid])} " in folded_series
                    )
                ):
                    held.add(int(self.main[other]))
            held.discard(row)
            if held:
                self.contains[row] = frozenset(held)
        # An omnibus that names another ("The Complete Sherlock Holmes" naming "Sherlock
        # Holmes: The Complete Novels and Stories") holds what that one holds.
        for row, held in list(self.contains.items()):
            nested = [r for r in held if r in self.contains]
            if nested:
                flat = set(held) - set(nested)
                for r in nested:
                    flat |= self.contains[r]
                flat.discard(row)
                self.contains[row] = frozenset(flat)

    def _adaptations(self, titles: list[str]) -> None:
        """ "The Hobbit: Graphic Novel", "Dracula (Marvel Illustrated)": another edition of
        the book with that title (the most rated one, whoever adapted it)."""
        first: dict[str, int] = {}
        adapted = []
        for row, title in enumerate(titles):
            base = _fold(re.split(r"[:(]| - ", title)[0])
            if _ADAPTATION.search(title):
                adapted.append((row, base))
            elif base and base not in first and self.main[row] == row:
                first[base] = row  # goodbooks lists the most rated books first
        for row, base in adapted:
            target = first.get(base.removeprefix("anne rice s "))
            if target is not None and target != row and row not in self.contains:
                self.main[row] = target

    # ----------------------------------------------------------------- saved form
    #: Bump when what :meth:`to_arrays` holds or how the titles are read changes.
    ARRAYS_VERSION = 1

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays holding everything the queries read (see :meth:`from_arrays`):
        made once per catalogue and mapped from the cache folder at a million books, where
        reading the titles takes about 20 s."""
        contains_rows = np.array(sorted(self.contains), dtype=np.int64)
        held = [sorted(self.contains[int(r)]) for r in contains_rows]
        entries = [e for e in self.entries]
        return {
            "series": self.series,
            "position": self.position,
            "main": self.main,
            "series_names": np.array(self.series_names, dtype=str),
            "series_keys": np.array(self.series_keys, dtype=str),
            "any_order": self.any_order,
            "contains_rows": contains_rows,
            "contains_starts": _starts(len(h) for h in held),
            "contains_held": np.array([r for h in held for r in h], dtype=np.int64),
            "entries_starts": _starts(len(e) for e in entries),
            "entries_position": np.array([p for e in entries for p, _ in e], dtype=np.float64),
            "entries_row": np.array([r for e in entries for _, r in e], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Works:
        """A Works from :meth:`to_arrays`; omnibus contents and series entries are read
        from the flat arrays when asked for, so this costs nothing per book."""
        works = cls.__new__(cls)
        works.series = arrays["series"]
        works.position = arrays["position"]
        works.main = arrays["main"]
        works.n = len(works.series)
        works.series_names = arrays["series_names"]
        works.series_keys = arrays["series_keys"]
        works.any_order = arrays["any_order"]
        contains = _RowLists(
            arrays["contains_rows"], arrays["contains_starts"], arrays["contains_held"]
        )
        works.contains = _FrozenSets(contains)
        works.omnibuses = np.asarray(arrays["contains_rows"], dtype=np.int64)
        works.held_by = contains.inverse()
        works.entries = _Entries(
            arrays["entries_starts"], arrays["entries_position"], arrays["entries_row"]
        )
        return works

    # ----------------------------------------------------------------- queries
    def is_ordered(self, sid: int, overrides: dict[str, bool] | None = None) -> bool:
        """Read in order? ``overrides`` maps series keys to the reader's say (True: in order)."""
        if overrides:
            say = overrides.get(self.series_keys[sid])
            if say is not None:
                return bool(say)
        return not self.any_order[sid]

    def read_closure(self, rows: Iterable[int]) -> set[int]:
        """Rows read when ``rows`` are: each book, the main edition of a partial one, and
        everything inside an omnibus (not the implied earlier entries: see
        :meth:`progress`)."""
        out: set[int] = set()
        for r in rows:
            r = int(r)
            out.add(r)
            out.add(int(self.main[r]))
            out |= self.contains.get(r, frozenset())
        return out

    def progress(self, read_rows: Iterable[int]) -> dict[int, float]:
        """Series id -> the furthest whole entry read (omnibus ranges count to their end)."""
        out: dict[int, float] = {}
        for r in self.read_closure(read_rows):
            sid = int(self.series[r])
            p = self.position[r]
            if sid >= 0 and not np.isnan(p) and p == int(p) and p > out.get(sid, 0.0):
                out[sid] = float(p)
        return out

    def implied_read(
        self, read_rows: Iterable[int], overrides: dict[str, bool] | None = None
    ) -> set[int]:
        """Rows a reader has read, given ``read_rows``: those, what omnibuses hold, and in a
        series read in order the whole entries before the furthest one read."""
        read = self.read_closure(read_rows)
        for sid, upto in self.progress(read).items():
            if self.is_ordered(sid, overrides):
                read.update(r for p, r in self.entries[sid] if p < upto and p == int(p))
        return read

    def next_entry(self, sid: int, after: float, skip: set[int]) -> tuple[float, int] | None:
        """The first whole entry of series ``sid`` past ``after`` not in ``skip``."""
        for p, r in self.entries[sid]:
            if p > after and p == int(p) and r not in skip:
                return p, r
        return None

    def earlier_unread(self, sid: int, position: float, read: set[int]) -> bool:
        """Is there a whole entry before ``position`` (in the catalogue) not in ``read``?"""
        return any(p < position and p == int(p) and r not in read for p, r in self.entries[sid])

    def overlaps(self, row: int, covered: set[int]) -> bool:
        """Does ``row`` (a book or an omnibus) share a book with ``covered``?"""
        row = int(row)
        if row in covered or int(self.main[row]) in covered:
            return True
        held = self.contains.get(row)
        if held and not held.isdisjoint(covered):
            return True
        return any(o in covered for o in self.held_by.get(row, ()))


def _starts(lengths: Iterable[int]) -> np.ndarray:
    """Offsets of consecutive runs of these lengths: [0, l0, l0 + l1, ...]."""
    return np.concatenate([[0], np.cumsum(np.fromiter(lengths, dtype=np.int64))]).astype(np.int64)


class _RowLists(Mapping[int, list[int]]):
    """row -> list of rows, held as sorted keys, run offsets and values (CSR)."""

    def __init__(self, keys: np.ndarray, starts: np.ndarray, values: np.ndarray) -> None:
        self.keys, self.starts, self.values = keys, starts, values

    @functools.cached_property
    def _where(self) -> dict[int, int]:
        return {key: i for i, key in enumerate(self.keys.tolist())}

    def _find(self, row: int) -> int:
        return self._where.get(row, -1)

    def __getitem__(self, row: int) -> list[int]:
        i = self._find(int(row))
        if i < 0:
            raise KeyError(row)
        return self.values[self.starts[i] : self.starts[i + 1]].tolist()

    def __contains__(self, row: object) -> bool:
        return isinstance(row, (int, np.integer)) and self._find(int(row)) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys.tolist())

    def __len__(self) -> int:
        return len(self.keys)

    def inverse(self) -> _RowLists:
        """value -> the keys whose lists hold it (each list in key order)."""
        owners = np.repeat(np.asarray(self.keys), np.diff(self.starts))
        order = np.lexsort((owners, self.values))
        values = np.asarray(self.values)[order]
        keys, counts = np.unique(values, return_counts=True)
        return _RowLists(keys, _starts(counts.tolist()), owners[order])


class _FrozenSets(Mapping[int, frozenset[int]]):
    """The omnibus table as Works builds it (row -> frozenset of rows), over a _RowLists."""

    def __init__(self, lists: _RowLists) -> None:
        self.lists = lists

    def __getitem__(self, row: int) -> frozenset[int]:
        return frozenset(self.lists[row])

    def __contains__(self, row: object) -> bool:
        return row in self.lists

    def __iter__(self) -> Iterator[int]:
        return iter(self.lists)

    def __len__(self) -> int:
        return len(self.lists)


class _Entries(Sequence[list[tuple[float, int]]]):
    """entries[series id]: (position, row) of the series' single entries, in order."""

    def __init__(self, starts: np.ndarray, position: np.ndarray, row: np.ndarray) -> None:
        self.starts, self.position, self.row = starts, position, row

    def __getitem__(self, sid: int) -> list[tuple[float, int]]:  # type: ignore[override]
        lo, hi = int(self.starts[sid]), int(self.starts[sid + 1])
        return list(zip(self.position[lo:hi].tolist(), self.row[lo:hi].tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.starts) - 1
