"""Adaptive onboarding: which book to ask a new reader about next.

A question is only useful when the reader can answer it, so each candidate is scored by

    value = P(read) * (1 + INFO_WEIGHT * disagreement) * variety

* P(read): a logistic blend of Goodreads-wide popularity (log ratings count) and what the
  model infers from the answers so far: the fold-in ranking scores ("readers of these go on
  to ...") from the books the reader has read, minus those from the books they have not. The
  scores come from the model's public scorer (``FoldInScorer.rank_scores``), so this keeps
  working whatever the bundle holds.
* disagreement: the spread of the book's Goodreads star histogram; an answer about a book
  everyone loves tells little about taste.
* variety: never the same first author twice, nor another edition or adaptation of a book
  already asked.

Only first books of series (or standalones); never study guides and companions, box sets and
omnibuses, graphic-novel adaptations, nor a book in a language the reader has not shown
(English to start).

The weights were chosen on the real Goodreads exports (the only real-reader data there is;
goodbooks-10k v1 readers cannot tune it: v1 keeps about 100 ratings per book, so
popularity-first questions landed on 0.04 of 10 of their books), so the onboarding figures in
docs/benchmarks.md are in-sample. Over a 180-setting grid (model weight 0-4, not-read weight
0-2, spread weight 0-1) the mean first-10 hit rate ranged 3.36-4.73; a finer look at the
model and spread weights (0-0.25) traded hits (4.55-4.82) against NDCG@10 after the questions
(0.298-0.358), and the shipped setting is the one with the best NDCG (4.64 hits, 0.358).
Reading a book moves the model's scores towards books like it that real readers, who lean to
famous books, often have not read, hence the small MODEL_WEIGHT; books the reader has not
read are the stronger signal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from bookrec_tui.core.catalogue import SERIES_NOTE, series_number

if TYPE_CHECKING:
    from bookrec_tui.core.catalogue import Catalogue
    from bookrec_tui.core.recommender import Recommender

#: Answers: 1..5 stars; READ_NO_OPINION = "read it, no opinion"; None = "have not read it".
READ_NO_OPINION = 0
NEUTRAL_STARS = 3  # how a "read, no opinion" answer enters the model's fold-in

POPULARITY_WEIGHT = 1.0  # per decade of Goodreads ratings
# The model's part is counted in units of its own score spread (SCORE_UNIT_BOOKS), so one
# setting serves bundles whose scores differ in scale: the learned embedding model's move
# about 6 times as far as the link model's, and with the same raw weights its questions
# followed taste past what real readers have read (2.5 of the first 10 read, against 4.6).
# The weights were chosen on the link model as 0.1 and 0.5 per unit of its raw score; its
# spread is 0.027744, so in the new unit they are those times it, and the link model asks
# what it asked before.
LINK_MODEL_SPREAD = 0.027744
MODEL_WEIGHT = 0.1 * LINK_MODEL_SPREAD  # per unit of fold-in score spread, from read books
NOT_READ_WEIGHT = 0.5 * LINK_MODEL_SPREAD  # the same, from books not read (pushes down)
#: The score spread unit: the standard deviation over all books of the fold-in of one
#: 5-star rating, averaged over the catalogue's this-many most-rated books (8 fold-ins at
#: the first answer; the unit moves by 1 % between 8 and 16 books).
SCORE_UNIT_BOOKS = 8
INFO_WEIGHT = 0.25  # per star of rating spread

ENGLISH = frozenset(("eng", "en-US", "en-GB", "en-CA", "en", ""))
# Companions, guides and other books about a book rather than the book.
_NOT_A_NOVEL = re.compile(
    r"sparknotes|cliffs ?notes|study guide|reader'?s guide|\bcompanion\b|guide to\b|"
    r"handbook|tribute guide|the art of\b|the making of|the world of\b|official|"
    r"colou?ring book|coloring|quotes|journal\b|calendar|cookbook|\bnotes on\b|"
    r"history of the hobbit|how to draw|drawing|activity book",
    re.IGNORECASE,
)
_GRAPHIC_ADAPTATION = re.compile(r"graphic novel|\bmanga\b|comic adaptation", re.IGNORECASE)
# Box sets and omnibuses. TODO(lists): switch to the works table once it lands on main.
_OMNIBUS = re.compile(
    r"box(ed)? ?set|collection|complete|omnibus|trilogy|#\d+\s*-\s*\d+|books? \d+\s*-\s*\d+|"
    r"\d+ books? in 1|, part \d|#\d+\.\d",
    re.IGNORECASE,
)


_NEVER_ASKED = re.compile(
    "|".join(f"(?:{r.pattern})" for r in (_NOT_A_NOVEL, _GRAPHIC_ADAPTATION, _OMNIBUS)),
    re.IGNORECASE,
)


def known_answers(
    ratings: Mapping[int, int],
    read: Iterable[int] = (),
    not_read: Iterable[int] = (),
    to_read: Iterable[int] = (),
) -> dict[int, int | None]:
    """The answers a reader's profile already gives, so no question asks them again: their
    stars, READ_NO_OPINION for a book read without a rating, None for a book they have not
    read or only mean to (a rating wins over any shelf)."""
    known: dict[int, int | None] = dict.fromkeys((*not_read, *to_read))
    known.update(dict.fromkeys(read, READ_NO_OPINION))
    known.update(ratings)
    return known


def _core_title(title: str) -> str:
    """'Twilight: The Graphic Novel (Twilight, #1)' -> 'twilight'."""
    return SERIES_NOTE.sub("", title).split(":")[0].split(" - ")[0].strip().lower()


class QuestionPicker:
    """The static part of onboarding (eligibility, priors), built once per Recommender."""

    def __init__(self, rec: Recommender) -> None:
        c = rec.catalogue
        self.rec = rec
        # Read from the titles once per catalogue (kept in the cache folder at a million
        # books, where this is seconds of Python).
        static = c.derived(f"question-picker-v{PICKER_VERSION}", lambda: _static_tables(c))
        self.eligible = static["eligible"]
        # Integer codes, so "same author / same core title / same language" are cheap.
        self.core = static["core"]
        self.authors = c.first_author_codes
        self.languages = static["languages"]
        self.english = static["english"]
        counts = np.maximum(c.ratings_counts.astype(np.float64), 1.0)
        self.popularity = np.log10(counts)
        self.info = 1.0 + INFO_WEIGHT * c.rating_stds.astype(np.float64)

    @functools.cached_property
    def base_scores(self) -> np.ndarray:
        """The model's scores for a reader with no books (made at the first answer, not
        for the first question: at a million books it reads every book vector)."""
        empty = np.array([], dtype=np.int64)
        return self.rec.scorer.rank_scores(empty, empty).astype(np.float64)

    @functools.cached_property
    def score_unit(self) -> float:
        """How far one rating typically moves the model's scores (see SCORE_UNIT_BOOKS)."""
        counts = self.rec.catalogue.ratings_counts
        top = np.argsort(-counts, kind="stable")[:SCORE_UNIT_BOOKS]
        spreads = [self._raw_fold_in([int(r)], [5]).std() for r in top]
        return float(np.mean(spreads)) or 1.0

    def _raw_fold_in(self, rows: list[int], stars: list[int]) -> np.ndarray:
        scores = self.rec.scorer.rank_scores(np.array(rows, np.int64), np.array(stars, np.int64))
        return scores.astype(np.float64) - self.base_scores

    def _fold_in(self, rows: list[int], stars: list[int]) -> np.ndarray:
        """How much the model's scores move from the empty reader's, given these books, in
        units of :attr:`score_unit`."""
        if not rows:
            return np.zeros_like(self.base_scores)
        return self._raw_fold_in(rows, stars) / self.score_unit

    def read_logits(self, answers: Mapping[int, int | None]) -> np.ndarray:
        """log-odds (up to a constant) that the reader has read each book."""
        c = self.rec.catalogue
        read_rows, read_stars, unread_rows = [], [], []
        for book_id, answer in answers.items():
            if book_id not in c:
                continue
            if answer is None:
                unread_rows.append(c.row(int(book_id)))
            else:
                read_rows.append(c.row(int(book_id)))
                read_stars.append(int(answer) if 1 <= int(answer) <= 5 else NEUTRAL_STARS)
        logit = POPULARITY_WEIGHT * self.popularity
        if read_rows:
            logit = logit + MODEL_WEIGHT * self._fold_in(read_rows, read_stars)
        if unread_rows:
            logit = logit - NOT_READ_WEIGHT * self._fold_in(
                unread_rows, [NEUTRAL_STARS] * len(unread_rows)
            )
        return logit

    def next_question(self, answers: Mapping[int, int | None]) -> int | None:
        c = self.rec.catalogue
        asked = [c.row(int(b)) for b in answers if int(b) in c]
        allowed = self.eligible.copy()
        shown = [c.row(int(b)) for b, a in answers.items() if a is not None and int(b) in c]
        allowed &= self.english | _isin_codes(self.languages, self.languages[shown])
        if asked:
            allowed[asked] = False
            allowed &= ~_isin_codes(self.authors, self.authors[asked])
            allowed &= ~_isin_codes(self.core, self.core[asked])
        if not allowed.any():
            return None
        logit = self.read_logits(answers)
        # P(read) on a scale where the most likely book is 1: exp(logit - max) keeps the
        # blend with the other factors multiplicative and free of overflow.
        value = np.exp(logit - logit[allowed].max()) * self.info
        value = np.where(allowed, value, -np.inf)
        return int(c.book_ids[int(np.argmax(value))])


#: Bump when what _static_tables reads from the titles changes (it is cached per catalogue).
PICKER_VERSION = 1


def _static_tables(c: Catalogue) -> dict[str, np.ndarray]:
    """Which books may be asked about, and each book's core-title and language codes."""
    titles = [str(t) for t in c.titles]
    # TODO(lists): "first book of a series" and box sets from the series and works
    # tables once they land on main.
    first = np.array([series_number(t) in (None, 1) for t in titles], dtype=bool)
    never = np.array([_NEVER_ASKED.search(t) is not None for t in titles], dtype=bool)
    return {
        "eligible": first & ~never,
        "core": np.unique([_core_title(t) for t in titles], return_inverse=True)[1],
        "languages": np.unique(c.languages, return_inverse=True)[1],
        "english": np.isin(c.languages, list(ENGLISH)),
    }


def _isin_codes(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.isin`` for small non-negative integer codes, by a lookup table (no sort)."""
    table = np.zeros(int(codes.max()) + 1, dtype=bool)
    table[wanted] = True
    return table[codes]
