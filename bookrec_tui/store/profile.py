"""A reader's shelf: their ratings, saved atomically after every change.

Every change takes an exclusive lock (``fcntl.flock`` on ``NAME.json.lock`` beside the
file), re-reads the file, applies just that change and writes the result (temp file, fsync,
rename), so a crash leaves the old or the new state and two copies of the app on one profile
never lose each other's ratings. Memory changes only after the write succeeded: a failed
save raises :class:`ProfileSaveError` and leaves memory agreeing with the disk.

Why a lock file and not SQLite: the profile stays one small human-readable JSON file the
reader can back up, diff or sync; the store's only concurrency need is to serialise the
read-modify-write of one file, which an advisory lock does with no new format. Reads take
no lock (a rename is atomic, so a reader sees the old or the new file).

A file that cannot be read is kept as a backup (a new name each time, never through a
symlink) and reported, never silently replaced. Fields this version does not know (a newer
format's) are kept as they are on every save; a symlinked profile is written through to its
target.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from bookrec_tui.errors import BookrecError
from bookrec_tui.fsutil import atomic_writer, remove_stale_temp_files
from bookrec_tui.paths import profiles_dir

if TYPE_CHECKING:
    from bookrec_tui.core.catalogue import Catalogue

FORMAT = 1
# A temp file this old cannot be another running copy's save in flight: it was left by a
# process killed mid-save.
STALE_TEMP_SECONDS = 600
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")  # \Z: "ann\n" must not pass
#: Profile fields that are sets of book ids, saved as sorted lists. A new one needs a name
#: here and a same-named ``set[int]`` field on :class:`Profile`; nothing else.
BOOK_SETS = ("not_read", "to_read", "read", "hidden")
_MAX_BOOK_ID = 2**31 - 1

T = TypeVar("T")


class ProfileError(BookrecError):
    pass


class ProfileSaveError(ProfileError):
    """The change could not be written; nothing changed, on disk or in memory."""


class UndoConflict(ProfileError):
    """Undo refused: another copy changed that book's rating since this copy did."""

    def __init__(self, book_id: int, stars_now: int | None) -> None:
        self.book_id, self.stars_now = book_id, stars_now
        now = f"{stars_now}★" if stars_now else "unrated"
        super().__init__(
            f"Not undone: book {book_id} was changed in another window since ({now} now); "
            "it stays as it is."
        )


def _check_stars(stars: int) -> None:
    if not 1 <= int(stars) <= 5:
        raise ProfileError(f"A rating is 1 to 5 stars, not {stars}.")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a rating")


def _book_id(value: Any) -> int:
    """A book id from a JSON key or list item: a positive whole number, nothing else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"book id {value!r} is not a whole number")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(f"book id {value[:20]!r} is not a whole number")
    if len(str(value)) > 10 or not 1 <= int(value) <= _MAX_BOOK_ID:
        raise ValueError(f"book id {str(value)[:20]} is out of range")
    return int(value)


def _star_value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"rating {value!r} is not 1..5 whole stars")
    return value


@dataclass(frozen=True)
class ImportStep:
    """One import, undone as a whole: each imported book's stars before it (None: unrated)
    and the stars it wrote, the books it added to to-read and the ones it took off
    not-read."""

    ratings_before: dict[int, int | None]
    to_read_added: frozenset[int]
    not_read_removed: frozenset[int]
    ratings_written: dict[int, int] = field(default_factory=dict)
    read_added: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SetStep:
    """A book marked read (no opinion) or hidden (not interested): undone by putting it
    back as it was."""

    book_id: int
    name: str  # "read" or "hidden"
    was_in: bool


@dataclass
class _Stored:
    """What one profile file holds."""

    ratings: dict[int, int] = field(default_factory=dict)
    sets: dict[str, set[int]] = field(default_factory=lambda: {n: set() for n in BOOK_SETS})
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, kept verbatim
    format: int = FORMAT

    @classmethod
    def parse(cls, text: str) -> _Stored:
        """Raises ValueError/TypeError/RecursionError for anything but a sound profile."""
        raw = json.loads(text, parse_constant=_reject_constant)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        stored = cls()
        ratings = raw.pop("ratings", {})
        if not isinstance(ratings, dict):
            raise ValueError("'ratings' is not a mapping")
        stored.ratings = {_book_id(k): _star_value(v) for k, v in ratings.items()}
        for name in BOOK_SETS:
            items = raw.pop(name, [])
            if not isinstance(items, list):
                raise ValueError(f"'{name}' is not a list")
            stored.sets[name] = {_book_id(b) for b in items}
        version = raw.pop("format", FORMAT)
        stored.format = (
            version if isinstance(version, int) and not isinstance(version, bool) else FORMAT
        )
        stored.extra = raw
        return stored

    def dumps(self) -> str:
        payload: dict[str, Any] = {
            **self.extra,
            "format": max(self.format, FORMAT),
            "ratings": {str(k): v for k, v in sorted(self.ratings.items())},
        }
        payload.update({name: sorted(self.sets[name]) for name in BOOK_SETS})
        return json.dumps(payload, indent=1)


@dataclass
class Profile:
    path: Path
    ratings: dict[int, int] = field(default_factory=dict)
    not_read: set[int] = field(default_factory=set)  # onboarding answers "haven't read it"
    to_read: set[int] = field(default_factory=set)  # shelved, not rated (Goodreads import)
    read: set[int] = field(default_factory=set)  # read, no opinion (never recommended)
    hidden: set[int] = field(default_factory=set)  # "not interested" (never recommended)
    # Undoable changes of this session: (book, stars before, stars this copy wrote) per
    # rating, or a whole import. Undo reverts a book only while the disk still holds what
    # this copy wrote there.
    history: list[tuple[int, int | None, int | None] | ImportStep | SetStep] = field(
        default_factory=list
    )
    warning: str | None = None  # set when the file on disk was unreadable (a backup was made)
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a newer format, kept

    @classmethod
    def open(cls, name: str = "default", directory: Path | None = None) -> Profile:
        if not _NAME.match(name):
            raise ProfileError(f"Profile name {name!r}: use 1-64 letters, digits, '.', '_' or '-'.")
        path = (directory or profiles_dir()) / f"{name}.json"
        profile = cls(path)
        with contextlib.suppress(OSError):
            remove_stale_temp_files(profile._target(), STALE_TEMP_SECONDS)
        profile._adopt(profile._load(locked=False))
        return profile

    # ----------------------------------------------------------------- storage
    def _target(self) -> Path:
        """The file really written: a symlinked profile is written through to its target."""
        return Path(os.path.realpath(self.path))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the profile's exclusive lock (across processes and threads)."""
        target = self._target()
        lock = target.with_name(target.name + ".lock")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise self._save_error(exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _save_error(self, exc: OSError) -> ProfileSaveError:
        why = exc.strerror or str(exc)
        return ProfileSaveError(
            f"That change was not saved: {self.path} could not be written ({why}). "
            "Your shelf is as it was; free some disk space or fix the folder's permissions, "
            "then try again."
        )

    def _load(self, locked: bool) -> _Stored:
        """The profile on disk. A damaged file is backed up and replaced by an empty one
        (taking the lock unless ``locked``), and :attr:`warning` says where the backup is."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _Stored()
        except OSError as exc:
            raise ProfileError(
                f"Your profile {self.path} cannot be read ({exc.strerror}). Fix its "
                "permissions and try again."
            ) from exc
        try:
            return _Stored.parse(raw.decode("utf-8"))
        except (ValueError, TypeError, RecursionError) as exc:
            problem = str(exc)[:200] or type(exc).__name__
        if not locked:
            with self._locked():
                return self._load(locked=True)  # re-read: another copy may have fixed it
        try:
            backup = self._backup(raw)
            self._write(_Stored())
        except OSError as exc:
            raise ProfileError(
                f"Your profile {self.path} could not be read ({problem}) and could not be "
                f"backed up ({exc.strerror}); nothing was changed. Move it aside and try again."
            ) from exc
        self.warning = (
            f"Your profile {self.path} could not be read ({problem}). It was kept as "
            f"{backup}; starting from an empty shelf."
        )
        return _Stored()

    def _backup(self, raw: bytes) -> Path:
        """Write ``raw`` to a new ``NAME.broken-<time>[-n].json`` beside the profile: never
        over an existing file, never through a symlink."""
        stem = self.path.name.removesuffix(".json")
        base = f"{stem}.broken-{int(time.time())}"
        for n in range(1, 1000):
            backup = self.path.with_name(f"{base}{'' if n == 1 else f'-{n}'}.json")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(backup, flags, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            return backup
        raise FileExistsError(f"too many backups named {base}*.json")

    def _write(self, stored: _Stored) -> None:
        with atomic_writer(self.path, "w", private=True) as handle:
            handle.write(stored.dumps())

    def _adopt(self, stored: _Stored) -> None:
        self.ratings = stored.ratings
        for name in BOOK_SETS:
            setattr(self, name, stored.sets[name])
        self.extra = stored.extra

    def _update(self, change: Callable[[_Stored], T]) -> T:
        """Apply ``change`` to the profile as it is on disk now, under the lock, and save;
        memory takes the new state only once it is written (still under the lock, so two
        threads of one app adopt their states in the order they were written)."""
        with self._locked():
            stored = self._load(locked=True)
            result = change(stored)
            try:
                self._write(stored)
            except OSError as exc:
                raise self._save_error(exc) from exc
            self._adopt(stored)
        return result

    def _set_rating(self, book_id: int, stars: int | None) -> int | None:
        """Apply one rating change (``None`` forgets it) on top of what is on disk now, then
        save; returns the stars the book had before."""

        def change(stored: _Stored) -> int | None:
            before = stored.ratings.get(book_id)
            if stars is None:
                stored.ratings.pop(book_id, None)
            else:
                stored.ratings[book_id] = stars
                stored.sets["not_read"].discard(book_id)
            return before

        return self._update(change)

    def _change(self, book_id: int, stars: int | None) -> None:
        """A reader's change: saved at once, and undoable."""
        self.history.append((book_id, self._set_rating(book_id, stars), stars))

    # ----------------------------------------------------------------- changes
    def rate(self, book_id: int, stars: int) -> None:
        _check_stars(stars)
        self._change(int(book_id), int(stars))

    def forget(self, book_id: int) -> bool:
        if int(book_id) not in self.ratings:
            return False
        self._change(int(book_id), None)
        return True

    @property
    def series_order(self) -> dict[str, bool]:
        """The reader's say on series (series key -> read in order?), kept in the file's
        ``series_order`` object."""
        raw = self.extra.get("series_order")
        if not isinstance(raw, dict):
            return {}
        return {str(k): v for k, v in raw.items() if isinstance(v, bool)}

    def set_series_order(self, series: str, in_order: bool) -> None:
        def change(stored: _Stored) -> None:
            raw = stored.extra.get("series_order")
            raw = dict(raw) if isinstance(raw, dict) else {}
            raw[str(series)] = bool(in_order)
            stored.extra["series_order"] = raw

        self._update(change)

    def _set_member(self, name: str, book_id: int, member: bool) -> bool:
        """Put ``book_id`` in (or take it out of) the set ``name`` ("read", "hidden") on
        top of what is on disk now; returns whether it was in before."""

        def change(stored: _Stored) -> bool:
            books = stored.sets[name]
            before = book_id in books
            if member:
                books.add(book_id)
                if name == "read":
                    stored.sets["to_read"].discard(book_id)
                    stored.sets["not_read"].discard(book_id)
            else:
                books.discard(book_id)
            return before

        return self._update(change)

    def mark_read(self, book_id: int) -> None:
        """Read, no opinion: undoable."""
        book_id = int(book_id)
        self.history.append(SetStep(book_id, "read", self._set_member("read", book_id, True)))

    def hide(self, book_id: int) -> None:
        """Not interested: never recommended again; undoable."""
        book_id = int(book_id)
        self.history.append(SetStep(book_id, "hidden", self._set_member("hidden", book_id, True)))

    def mark_not_read(self, book_id: int) -> None:
        self._update(lambda stored: stored.sets["not_read"].add(int(book_id)))

    def import_books(
        self,
        ratings: dict[int, int],
        to_read: set[int],
        seen: dict[int, int] | None = None,
        read: set[int] = frozenset(),
    ) -> int:
        """Add imported ratings (replacing existing ones for the same books) and shelved
        books (to read, and ``read`` without a rating) in one atomic save; :meth:`undo` takes
        the whole import back.

        ``seen`` is the shelf the import was previewed against: a book whose rating on disk
        differs from it now was rated after the preview, and keeps that rating. Returns how
        many imported ratings were skipped so."""
        for stars in ratings.values():
            _check_stars(stars)

        def change(stored: _Stored) -> tuple[int, ImportStep]:
            imported = {
                int(b): int(s)
                for b, s in ratings.items()
                if seen is None or stored.ratings.get(int(b)) == seen.get(int(b))
            }
            not_read, to_read_now = stored.sets["not_read"], stored.sets["to_read"]
            read_now = stored.sets["read"]
            known = set(stored.ratings) | set(imported)
            read_new = {int(b) for b in read} - known
            shelved = {int(b) for b in to_read} - known - read_new - read_now
            step = ImportStep(
                ratings_before={b: stored.ratings.get(b) for b in imported},
                to_read_added=frozenset(shelved - to_read_now),
                not_read_removed=frozenset(not_read & (set(imported) | read_new)),
                ratings_written=imported,
                read_added=frozenset(read_new - read_now),
            )
            stored.ratings.update(imported)
            to_read_now |= shelved
            read_now |= read_new
            not_read -= set(imported) | read_new
            return len(ratings) - len(imported), step

        skipped, step = self._update(change)
        self.history.append(step)
        return skipped

    def undo(self) -> tuple[int, int | None] | ImportStep | SetStep | None:
        """Revert the last change of this session: (book_id, restored stars) for a rating,
        the :class:`ImportStep` for an import, the :class:`SetStep` for a book marked read or
        hidden, or None when there is nothing to undo.

        A rating another copy has changed since is left as it is: for a single rating that
        raises :class:`UndoConflict` (and drops that step); an import is undone for every
        other book. :class:`ProfileSaveError` (keeping the step) when the save fails."""
        if not self.history:
            return None
        step = self.history[-1]
        if isinstance(step, ImportStep):

            def revert_import(stored: _Stored) -> None:
                for book_id, before in step.ratings_before.items():
                    if stored.ratings.get(book_id) != step.ratings_written.get(book_id):
                        continue  # re-rated since, in this copy or another
                    if before is None:
                        stored.ratings.pop(book_id, None)
                    else:
                        stored.ratings[book_id] = before
                stored.sets["to_read"] -= step.to_read_added
                stored.sets["read"] -= step.read_added
                stored.sets["not_read"] |= step.not_read_removed - set(stored.ratings)

            self._update(revert_import)
            self.history.pop()
            return step
        if isinstance(step, SetStep):
            self._set_member(step.name, step.book_id, step.was_in)
            self.history.pop()
            return step
        book_id, before, wrote = step

        def change(stored: _Stored) -> None:
            now = stored.ratings.get(book_id)
            if now != wrote:
                self.history.pop()
                self._adopt(copy.deepcopy(stored))
                raise UndoConflict(book_id, now)
            if before is None:
                stored.ratings.pop(book_id, None)
            else:
                stored.ratings[book_id] = before

        self._update(change)
        self.history.pop()
        return book_id, before


EXPORT_COLUMNS = ("book_id", "title", "authors", "rating")
#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` with a leading quote when a spreadsheet would run it as a formula."""
    return "'" + cell if cell[:1] in FORMULA_STARTS else cell


def unquote_formula(cell: str) -> str:
    """Undo :func:`spreadsheet_safe` (importing an export back)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell


def write_ratings_csv(profile: Profile, catalogue: Catalogue, handle: IO[str]) -> int:
    """The reader's ratings as CSV (``book_id,title,authors,rating``), best rated first;
    returns how many rows were written. Books missing from ``catalogue`` keep their id with
    an empty title, so nothing the reader rated is dropped."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    rows = sorted(profile.ratings.items(), key=lambda item: (-item[1], item[0]))
    for book_id, stars in rows:
        if book_id in catalogue:
            row = catalogue.row(book_id)
            title, authors = (str(catalogue.titles[row]), str(catalogue.authors[row]))
            writer.writerow([book_id, spreadsheet_safe(title), spreadsheet_safe(authors), stars])
        else:
            writer.writerow([book_id, "", "", stars])
    return len(rows)


def save_ratings_csv(profile: Profile, catalogue: Catalogue, path: Path) -> int:
    """:func:`write_ratings_csv` into the file ``path``, atomically (a crash leaves the old
    file or the new one); returns how many ratings were written."""
    from bookrec_tui.fsutil import atomic_writer

    with atomic_writer(path, "w") as handle:
        return write_ratings_csv(profile, catalogue, handle)
