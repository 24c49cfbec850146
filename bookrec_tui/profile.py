"""A reader's shelf: their ratings, saved atomically after every change.

Each change re-reads the file, applies just that change and writes the result (temp file,
fsync, rename), so a crash leaves the old or the new state, and two copies of the app on
one profile do not overwrite each other's ratings. A file that cannot be read is kept
as a backup and reported, never silently replaced.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import BookrecError
from .fsutil import atomic_writer, remove_stale_temp_files
from .paths import profiles_dir

if TYPE_CHECKING:
    from .data import Catalogue

FORMAT = 1
# A temp file this old cannot be another running copy's save in flight: it was left by a
# process killed mid-save.
STALE_TEMP_SECONDS = 600
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ProfileError(BookrecError):
    pass


def _check_stars(stars: int) -> None:
    if not 1 <= int(stars) <= 5:
        raise ProfileError(f"A rating is 1 to 5 stars, not {stars}.")


@dataclass(frozen=True)
class ImportStep:
    """One import, undone as a whole: each imported book's stars before it (None: unrated),
    the books it added to to-read and the ones it took off not-read."""

    ratings_before: dict[int, int | None]
    to_read_added: frozenset[int]
    not_read_removed: frozenset[int]


@dataclass
class Profile:
    path: Path
    ratings: dict[int, int] = field(default_factory=dict)
    not_read: set[int] = field(default_factory=set)  # onboarding answers "haven't read it"
    to_read: set[int] = field(default_factory=set)  # shelved, not rated (Goodreads import)
    # Undoable changes of this session: (book, stars before) per rating, or a whole import.
    history: list[tuple[int, int | None] | ImportStep] = field(default_factory=list)
    warning: str | None = None  # set when the file on disk was unreadable (a backup was made)

    @classmethod
    def open(cls, name: str = "default", directory: Path | None = None) -> Profile:
        if not _NAME.match(name):
            raise ProfileError(f"Profile name {name!r}: use letters, digits, '.', '_' or '-'.")
        path = (directory or profiles_dir()) / f"{name}.json"
        remove_stale_temp_files(path, STALE_TEMP_SECONDS)
        profile = cls(path)
        profile._reload()
        return profile

    # ----------------------------------------------------------------- storage
    def _read(self) -> tuple[dict[int, int], set[int], set[int]]:
        if not self.path.exists():
            return {}, set(), set()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            ratings = {int(k): int(v) for k, v in raw.get("ratings", {}).items()}
            bad = {k: v for k, v in ratings.items() if not 1 <= v <= 5}
            if bad:
                raise ValueError(f"ratings outside 1..5: {bad}")
            return (
                ratings,
                {int(b) for b in raw.get("not_read", [])},
                {int(b) for b in raw.get("to_read", [])},
            )
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            backup = self.path.with_name(f"{self.path.stem}.broken-{int(time.time())}.json")
            shutil.copy2(self.path, backup)
            self.warning = (
                f"Your profile {self.path} could not be read ({exc}). It was kept as "
                f"{backup}; starting from an empty shelf."
            )
            self.path.unlink()
            return {}, set(), set()

    def _reload(self) -> None:
        self.ratings, self.not_read, self.to_read = self._read()

    def _write(self) -> None:
        payload = {
            "format": FORMAT,
            "ratings": {str(k): v for k, v in sorted(self.ratings.items())},
            "not_read": sorted(self.not_read),
            "to_read": sorted(self.to_read),
        }
        with atomic_writer(self.path, "w", private=True) as handle:
            json.dump(payload, handle, indent=1)

    def _set_rating(self, book_id: int, stars: int | None) -> int | None:
        """Apply one rating change (``None`` forgets it) on top of what is on disk now, then
        save; returns the stars the book had before."""
        self._reload()
        before = self.ratings.get(book_id)
        if stars is None:
            self.ratings.pop(book_id, None)
        else:
            self.ratings[book_id] = stars
            self.not_read.discard(book_id)
        self._write()
        return before

    def _change(self, book_id: int, stars: int | None) -> None:
        """A reader's change: saved at once, and undoable."""
        self.history.append((book_id, self._set_rating(book_id, stars)))

    # ----------------------------------------------------------------- changes
    def rate(self, book_id: int, stars: int) -> None:
        _check_stars(stars)
        self._change(int(book_id), int(stars))

    def forget(self, book_id: int) -> bool:
        if int(book_id) not in self.ratings:
            return False
        self._change(int(book_id), None)
        return True

    def mark_not_read(self, book_id: int) -> None:
        self._reload()
        self.not_read.add(int(book_id))
        self._write()

    def import_books(self, ratings: dict[int, int], to_read: set[int]) -> None:
        """Add imported ratings (replacing existing ones for the same books) and shelved
        books in one atomic save; :meth:`undo` takes the whole import back."""
        self._reload()
        for stars in ratings.values():
            _check_stars(stars)
        imported = {int(b): int(s) for b, s in ratings.items()}
        shelved = {int(b) for b in to_read} - set(self.ratings) - set(imported)
        step = ImportStep(
            ratings_before={b: self.ratings.get(b) for b in imported},
            to_read_added=frozenset(shelved - self.to_read),
            not_read_removed=frozenset(self.not_read & set(imported)),
        )
        self.ratings.update(imported)
        self.to_read |= shelved
        self.not_read -= set(imported)
        self._write()
        self.history.append(step)

    def undo(self) -> tuple[int, int | None] | ImportStep | None:
        """Revert the last change of this session: (book_id, restored stars) for a rating,
        the :class:`ImportStep` for an import, or None when there is nothing to undo."""
        if not self.history:
            return None
        step = self.history.pop()
        if isinstance(step, ImportStep):
            self._reload()
            for book_id, before in step.ratings_before.items():
                if before is None:
                    self.ratings.pop(book_id, None)
                else:
                    self.ratings[book_id] = before
            self.to_read -= step.to_read_added
            self.not_read |= step.not_read_removed
            self._write()
            return step
        book_id, before = step
        self._set_rating(book_id, before)
        return book_id, before


EXPORT_COLUMNS = ("book_id", "title", "authors", "rating")


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
            writer.writerow([book_id, catalogue.titles[row], catalogue.authors[row], stars])
        else:
            writer.writerow([book_id, "", "", stars])
    return len(rows)
