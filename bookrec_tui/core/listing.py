"""From raw model scores to the list a reader sees: one place, used by recommend and "more
like this", so the CLI, the app and the evaluation all judge the same lists.

Whatever model made the scores, the list:

* never holds a book the reader has read (rated, shelved as read, inside an omnibus they
  read, or an earlier entry of a series read in order that they are past), hidden, or
  excluded;
* in a series read in order, shows the next unread entry: where the model scores a later
  entry (or a novella or omnibus starting later) the next one takes its place, labelled
  "start of a series" or "next in the series";
* holds at most ``series_cap`` entries of one series (the next unread first);
* never holds an edition, omnibus or box set that shares a book with one read or already
  listed; a partial edition ("#5, Part 1") collapses onto the main one;
* holds at most ``author_cap`` books by one first author in each ten slots;
* continues the series a reader loved: the next unread entry of a series read in order of
  which they rated a book LOVED_STARS or more (and none DISLIKED_STARS or less) is listed
  first, up to CONTINUE_MAX such series (those the reader gave the most stars, then those
  the model scores highest), whatever stars are predicted for it (the note says why it is
  there). Models rank a famous book's sequel
  under other famous books (goodbooks-10k readers of famous books read much the same
  famous books): The Two Towers came 7th (link model) and 25th (learned embeddings) for a
  reader who gave The Hobbit and The Fellowship of the Ring 5 stars.

numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from bookrec_tui.core.genres import genre_shares
from bookrec_tui.core.works import Works

START = "start of a series"
NEXT = "next in the series"

LOVED_STARS = 4
DISLIKED_STARS = 2
CONTINUE_MAX = 2
#: Calibrated lists (:meth:`ListAssembler.assemble`): picked from this many times the list's
#: length, with this much of the reader's genre shares mixed into the list's.
CALIBRATION_POOL = 5
CALIBRATION_MIX = 0.01


@dataclass(frozen=True)
class ListedBook:
    row: int  # the catalogue row shown
    scored_row: int  # the row the model scored (differs when a series entry stood in)
    score: float  # the model's score of ``scored_row``: the list's order
    note: str = ""  # START, NEXT or ""
    continues: bool = False  # a loved series' next entry: kept first by the star blend


@dataclass(frozen=True)
class ReaderBooks:
    """What the list must respect, as catalogue rows."""

    known: frozenset[int] = frozenset()  # rated or read: count as read, set series progress
    blocked: frozenset[int] = frozenset()  # hidden or excluded: never listed
    overrides: tuple[tuple[str, bool], ...] = ()  # series key -> read in order?
    # Rated >= LOVED_STARS (row, stars) / <= DISLIKED_STARS (rows): which series to continue
    # ("more like this" holds only its seed, as loved: no series of the reader's continues).
    loved: tuple[tuple[int, float], ...] = ()
    disliked: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls,
        known: Iterable[int] = (),
        blocked: Iterable[int] = (),
        overrides: dict[str, bool] | None = None,
        stars: Mapping[int, float] | None = None,
    ) -> ReaderBooks:
        """``stars``: the reader's ratings by row, when their loved series are continued."""
        stars = stars or {}
        return cls(
            frozenset(int(r) for r in known),
            frozenset(int(r) for r in blocked),
            tuple(sorted((overrides or {}).items())),
            tuple(sorted((int(r), float(s)) for r, s in stars.items() if s >= LOVED_STARS)),
            frozenset(int(r) for r, s in stars.items() if 0 < s <= DISLIKED_STARS),
        )


class ListAssembler:
    def __init__(
        self,
        works: Works,
        first_authors: np.ndarray,
        author_codes: np.ndarray | None = None,
        genre_counts: np.ndarray | None = None,
    ) -> None:
        """``author_codes``: the first authors as integers, when the caller has them
        (``Catalogue.first_author_codes``), else made from ``first_authors``.
        ``genre_counts``: the catalogue's (n_books, n_genres) genre shelf counts, for lists
        calibrated to the reader's genres (:meth:`assemble`; only the rows a calibrated list
        looks at are turned into shares)."""
        self.works = works
        if author_codes is None:
            author_codes = np.unique(np.asarray(first_authors, dtype=str), return_inverse=True)[1]
        self.author_ids = author_codes
        self.genre_counts = genre_counts

    def read_rows(self, reader: ReaderBooks) -> set[int]:
        """Every row the reader has read, stated or implied."""
        return self.works.implied_read(reader.known, dict(reader.overrides))

    def assemble(
        self,
        scores: np.ndarray,
        reader: ReaderBooks,
        n: int,
        series_cap: int = 1,
        author_cap: int | None = 3,
        rows: np.ndarray | None = None,
        calibration: float = 0.0,
    ) -> list[ListedBook]:
        """The top ``n`` of ``scores`` (one per catalogue row; -inf = never) under the rules
        above. ``author_cap=None`` lifts the author limit ("more by <author>").

        ``rows``: ``scores`` are those of these distinct rows only (a candidate set, e.g.
        from core/vector_index.py); every other book counts as -inf.

        ``calibration`` > 0: the ``n`` are picked from the top ``CALIBRATION_POOL`` × ``n``
        so that their genres follow the genres of the books the reader loved (see
        :meth:`_calibrated`); 0, or a reader who loved nothing: the top ``n``."""
        if calibration <= 0 or self.genre_counts is None or not reader.loved:
            return self._assemble(scores, reader, n, series_cap, author_cap, rows)
        pool = self._assemble(scores, reader, n * CALIBRATION_POOL, series_cap, author_cap, rows)
        return self._calibrated(pool, reader, n, calibration, author_cap)

    def _calibrated(
        self,
        pool: list[ListedBook],
        reader: ReaderBooks,
        n: int,
        weight: float,
        author_cap: int | None,
    ) -> list[ListedBook]:
        """``n`` of ``pool`` (its order: best first) chosen greedily, as in Steck's calibrated
        recommendations (RecSys 2018): each next book maximises (1 - weight) x the summed
        scores of the list (min-max scaled over the pool) - weight x KL(p || q), p the
        genre shares of the books the reader loved (weighted by stars above 3), q those of
        the list (mixed with 1 % of p, so KL stays finite). Without it, a reader of fantasy
        and science fiction got The Great Gatsby and The Help from the famous books every
        reader's vector leans to. Continued series stay first; the author limit holds for
        each ten slots."""

        def shares(rows: list[int] | np.ndarray) -> np.ndarray:
            return genre_shares(self.genre_counts[np.asarray(rows, dtype=np.int64)])

        loved = np.array([r for r, _ in reader.loved], dtype=np.int64)
        love = np.array([s - LOVED_STARS + 1 for _, s in reader.loved])
        p = love @ shares(loved)
        if p.sum() <= 0:
            return pool[:n]
        p = p / p.sum()
        held = p > 0
        chosen = [b for b in pool if b.continues][:n]
        rest = [b for b in pool if not b.continues]
        if not rest:
            return chosen
        scores = np.array([b.score for b in rest])
        span = scores.max() - scores.min()
        gain = (scores - scores.min()) / span if span > 0 else np.ones(len(rest))
        genres = shares([b.row for b in rest])
        q_sum = shares([b.row for b in chosen]).sum(axis=0) if chosen else np.zeros_like(p)
        free = np.ones(len(rest), dtype=bool)
        authors = self.author_ids[[b.row for b in rest]]
        while len(chosen) < n and free.any():
            allowed = free
            if author_cap is not None:  # an author full in this ten waits for the next
                ten = [int(self.author_ids[b.row]) for b in chosen[len(chosen) // 10 * 10 :]]
                full = [a for a in set(ten) if ten.count(a) >= author_cap]
                fits = free & ~np.isin(authors, full)
                allowed = fits if fits.any() else free
            q = (q_sum + genres) / (len(chosen) + 1)
            q = (1 - CALIBRATION_MIX) * q + CALIBRATION_MIX * p
            kl = (p[held] * np.log(p[held] / q[:, held])).sum(axis=1)
            objective = np.where(allowed, (1 - weight) * gain - weight * kl, -np.inf)
            best = int(objective.argmax())
            chosen.append(rest[best])
            q_sum = q_sum + genres[best]
            free[best] = False
        return chosen

    def _assemble(
        self,
        scores: np.ndarray,
        reader: ReaderBooks,
        n: int,
        series_cap: int,
        author_cap: int | None,
        rows: np.ndarray | None,
    ) -> list[ListedBook]:
        w = self.works
        overrides = dict(reader.overrides)
        read = w.implied_read(reader.known, overrides)
        progress = w.progress(reader.known)
        covered = read | set(reader.blocked)
        # Books never listed do not take places in the candidate pool.
        scores = np.array(scores, dtype=np.float64)
        never = np.fromiter(covered, np.int64, len(covered))
        if rows is None:
            scores[never] = -np.inf
        else:
            rows = np.asarray(rows, dtype=np.int64)
            scores[np.isin(rows, never)] = -np.inf
        lifted = self._continue_loved_series(scores, rows, reader, read, progress)
        listed: list[ListedBook] = []
        per_series: dict[int, int] = {}
        last_listed: dict[int, float] = {}
        per_author: dict[int, int] = {}
        pool = min(len(scores), max(20 * n, 400))
        seen = 0
        while len(listed) < n and seen < len(scores):
            order = _top(scores, pool)
            for i in order[seen:]:
                score = float(scores[i])
                r = i if rows is None else rows[i]
                if not np.isfinite(score):
                    seen = len(scores)
                    break
                shown, note = self._place(
                    int(r), w, covered, read, progress, last_listed, overrides, reader.blocked
                )
                if shown is None:
                    continue
                sid = int(w.series[shown])
                if sid >= 0 and per_series.get(sid, 0) >= series_cap:
                    continue
                author = int(self.author_ids[shown])
                if author_cap is not None and per_author.get(author, 0) >= author_cap * (
                    len(listed) // 10 + 1
                ):
                    continue
                listed.append(ListedBook(shown, int(r), score, note, int(i) in lifted))
                covered |= w.read_closure([shown])
                per_author[author] = per_author.get(author, 0) + 1
                if sid >= 0:
                    per_series[sid] = per_series.get(sid, 0) + 1
                    pos = _start(w, shown)
                    last_listed[sid] = max(last_listed.get(sid, 0.0), _end(w, shown, pos))
                if len(listed) == n:
                    break
            seen = len(order)
            pool = min(len(scores), pool * 4)
        return listed

    def continuations(
        self,
        reader: ReaderBooks,
        read: set[int] | None = None,
        progress: dict[int, float] | None = None,
    ) -> list[int]:
        """The next unread entry of each series read in order that the reader loved (rows
        a candidate set must hold for :meth:`assemble` to list them), the series given the
        most stars first. ``read`` and ``progress``: the reader's, when the caller has them
        (:meth:`assemble` does)."""
        return list(self._loved_next(reader, read, progress))

    def _loved_next(
        self,
        reader: ReaderBooks,
        read: set[int] | None = None,
        progress: dict[int, float] | None = None,
    ) -> dict[int, float]:
        """:meth:`continuations` with the most stars the reader gave a book of each one's
        series."""
        if not reader.loved:
            return {}
        w = self.works
        overrides = dict(reader.overrides)
        if read is None:
            read = w.implied_read(reader.known, overrides)
        if progress is None:
            progress = w.progress(reader.known)

        def series(row: int) -> int:
            return int(w.series[int(w.main[row])])

        love: dict[int, float] = {}
        for row, stars in reader.loved:
            sid = series(row)
            love[sid] = max(love.get(sid, 0.0), stars)
        for sid in {series(r) for r in reader.disliked} | {-1}:
            love.pop(sid, None)
        out = {}
        for sid in sorted(love, key=lambda sid: (-love[sid], sid)):
            if not w.is_ordered(sid, overrides):
                continue
            nxt = w.next_entry(sid, progress.get(sid, 0.0), read)
            if nxt is not None and nxt[1] not in reader.blocked:
                out[nxt[1]] = love[sid]
        return out

    def _continue_loved_series(
        self,
        scores: np.ndarray,
        rows: np.ndarray | None,
        reader: ReaderBooks,
        read: set[int],
        progress: dict[int, float],
    ) -> set[int]:
        """Lift (in place) CONTINUE_MAX :meth:`continuations` just above the best score,
        those of the series given the most stars first (a 5-star series before a 4-star
        one), then the best-scored, so they are listed first in that order; the indices into
        ``scores`` lifted. A book another rule left out (-inf) stays out."""
        nexts = self._loved_next(reader, read, progress)
        at = list(nexts) if rows is None else np.flatnonzero(np.isin(rows, list(nexts))).tolist()
        at = [i for i in at if np.isfinite(scores[i])]
        if not at:
            return set()
        top = float(scores[np.isfinite(scores)].max())
        step = 1e-6 * max(1.0, abs(top))
        love = nexts if rows is None else {i: nexts[int(rows[i])] for i in at}
        chosen = sorted(at, key=lambda i: (-love[i], -scores[i]))[:CONTINUE_MAX]
        for place, i in enumerate(chosen):
            scores[i] = top + step * (len(chosen) - place)
        return set(chosen)

    def reorder(
        self, listed: list[ListedBook], stars: np.ndarray, weight: float, author_cap: int | None = 3
    ) -> np.ndarray:
        """Indices into ``listed``: the continued series first, then :func:`blend_order`
        within each page of :data:`BLEND_PAGE` books, then the author limit kept for each
        ten slots (a book that would be the fourth by one author in a ten waits for the next
        ten).

        Blending page by page keeps a longer list's start equal to a shorter one's (the side
        panel's 20 and the chat's 10 agree), as long as the caller lists whole pages."""
        scores = np.array([b.score for b in listed])
        pinned = [i for i, b in enumerate(listed) if b.continues]
        pages = []
        for start in range(0, len(listed), BLEND_PAGE):
            page = np.array(
                [
                    i
                    for i in range(start, min(start + BLEND_PAGE, len(listed)))
                    if not listed[i].continues
                ],
                dtype=np.int64,
            )
            pages.append(page[blend_order(scores[page], stars[page], weight)])
        order = np.concatenate([np.array(pinned, dtype=np.int64), *pages]).astype(np.int64)
        if author_cap is None:
            return order
        return self._author_cap(listed, order, author_cap)

    def _author_cap(
        self, listed: list[ListedBook], order: np.ndarray, author_cap: int
    ) -> np.ndarray:
        out: list[int] = []
        waiting = list(order)
        while waiting:
            per_author: dict[int, int] = {}
            for i in out[len(out) - len(out) % 10 :]:
                a = int(self.author_ids[listed[i].row])
                per_author[a] = per_author.get(a, 0) + 1
            fits = (
                j
                for j, i in enumerate(waiting)
                if per_author.get(int(self.author_ids[listed[i].row]), 0) < author_cap
            )
            # Nothing fits this ten: keep the blended order.
            out.append(int(waiting.pop(next(fits, 0))))
        return np.array(out, dtype=np.int64)

    def _place(
        self,
        row: int,
        w: Works,
        covered: set[int],
        read: set[int],
        progress: dict[int, float],
        last_listed: dict[int, float],
        overrides: dict[str, bool],
        blocked: frozenset[int],
    ) -> tuple[int | None, str]:
        """The row to show for a scored ``row`` (None: nothing) and its series note."""
        main = int(w.main[row])
        if w.overlaps(main, covered) or w.overlaps(row, covered):
            return None, ""
        sid = int(w.series[main])
        if sid < 0 or not w.is_ordered(sid, overrides):
            return main, ""
        after = max(progress.get(sid, 0.0), last_listed.get(sid, 0.0))
        note = START if after == 0 else NEXT
        start = _start(w, main)
        single = not np.isnan(w.position[main])
        if single and start != int(start):  # noqa: SIM102 - two reasons, two tests
            # A novella ("#2.5"): fine once the reader is that far, else the next entry.
            if after >= max(1.0, float(int(start))):
                return main, ""
        nxt = w.next_entry(sid, after, read)
        if nxt is None:
            return None, ""  # nothing whole left past the reader in this series
        if start == nxt[0]:
            return main, note
        novella = single and start != int(start)
        if start < nxt[0] and not novella:
            return None, ""  # below the reader's progress: implied read
        # A later entry, an early novella, or an omnibus starting later: the next unread
        # entry takes its place.
        stand_in = nxt[1]
        if stand_in in blocked or w.overlaps(stand_in, covered):
            return None, ""
        return stand_in, note


# The star blend reorders books within pages of this many, so a list of n books is the first n
# of a list of more (see ListAssembler.reorder).
BLEND_PAGE = 20


def blend_order(scores: np.ndarray, stars: np.ndarray, weight: float) -> np.ndarray:
    """The order of a final list by standardised score plus ``weight`` times standardised
    predicted stars, so the order agrees with the stars shown beside it (weight 0: as
    scored). Only the listed books move; none comes in or goes."""
    scores, stars = np.asarray(scores, np.float64), np.asarray(stars, np.float64)
    if weight == 0 or len(scores) < 2:
        return np.arange(len(scores))
    z = (scores - scores.mean()) / max(float(scores.std()), 1e-9)
    zs = (stars - stars.mean()) / max(float(stars.std()), 1e-9)
    return np.argsort(-(z + weight * zs), kind="stable")


def _start(w: Works, row: int) -> float:
    """Where ``row`` starts in its series: its place, or an omnibus' first entry."""
    p = w.position[row]
    if not np.isnan(p):
        return float(p)
    held = [w.position[r] for r in w.contains.get(row, ()) if not np.isnan(w.position[r])]
    return float(min(held)) if held else 0.0


def _end(w: Works, row: int, start: float) -> float:
    held = [w.position[r] for r in w.contains.get(row, ()) if not np.isnan(w.position[r])]
    return float(max(held)) if held else start


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties in row order)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
