"""The one Python API every face (CLI, TUI) uses. numpy only: no TensorFlow import.

rec = Recommender.load()
rec.recommend({book_id: stars}, n=20)
rec.predict_ratings({book_id: stars}, [book_ids])
rec.similar(book_id, n=10)
rec.search("hary poter", n=10)
rec.next_question({book_id: stars, other_id: None})   # adaptive onboarding
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bookrec_tui.core import genres
from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.core.listing import BLEND_PAGE, ListAssembler, ListedBook, ReaderBooks
from bookrec_tui.core.npz import cached_arrays
from bookrec_tui.core.onboarding import QuestionPicker
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.core.search import MATCH_THRESHOLD, RIVAL_MARGIN, RIVAL_POPULARITY, TitleIndex
from bookrec_tui.core.vector_index import EXACT_UP_TO, IVFIndex
from bookrec_tui.core.vector_index import INDEX_VERSION as VECTOR_INDEX_VERSION
from bookrec_tui.errors import BookrecError, ModelError
from bookrec_tui.paths import cache_dir, shipped_model_dir

MODEL_ENV = "BOOKREC_MODEL_DIR"
#: Pseudo-stars a book read without a rating brings to the fold-in (a weak positive).
READ_STARS: int | None = 4
#: Weight of the predicted stars (standardised) next to the ranking score (standardised)
#: when ordering the final list: see docs/benchmarks.md ("Lists a reader trusts").
STAR_BLEND = 1.0
#: Weight of the reader's genres in the final list (Steck's calibration, see
#: ListAssembler.assemble; 0 = none). Off: at 0.95 the lists read better but the lists
#: protocol's Recall@20 fell by 0.0095 (docs/benchmarks.md, "Lists calibrated to the
#: reader's genres").
LIST_CALIBRATION = 0.0
#: Share of a recommendation's positive score one rated book must hold to be named in
#: "because you ...": at 0.5 and above, 94 % of named books really drive it (without that
#: rating the book leaves the top 20); at 0.3-0.4 only 54 % do (docs/benchmarks.md).
BECAUSE_SHARE = 0.5
#: Books the vector index proposes per request in a large catalogue (the list assembler
#: looks at 400 for a page of 20; the rest is room for books the reader has read).
CANDIDATES = 1000
#: "More like this" (see :meth:`Recommender.similar_scores`), chosen on 300 random and 200
#: popular seed books of goodbooks-10k, apart from the books reported (benchmarks/
#: bench_similar.py, docs/benchmarks.md "More like this"): the weight of the cosine of the
#: genre shelvings, of the book vectors' cosine and of the same first author, next to the
#: links (0..1); and the power of a book's incoming link mass its links are divided by, so
#: the book everyone goes on to does not follow every seed.
SIMILAR_SHELF = 1.0
SIMILAR_COSINE = 0.3
SIMILAR_AUTHOR = 0.8
SIMILAR_LINK_DEBIAS = 0.5
#: A "more like this" list of at least this many books holds one of the seed author's other
#: books among its first this-many places: when none scored its way in, the author's best
#: scoring listable book rated at least SIMILAR_AUTHOR_STARS on average takes the last of
#: them. "More like The Road" then holds Blood Meridian, whose western shelving lost it to
#: the dystopias; one book, and only where none came in, so lists already holding the
#: author's books are unchanged (docs/benchmarks.md "More like this": 8 of the 600
#: most-rated seeds lacked one).
SIMILAR_AUTHOR_PLACE = 10
#: The lowest average rating of an author's book given that place (goodbooks-10k: about the
#: catalogue's lowest fifth averages below it).
SIMILAR_AUTHOR_STARS = 3.8
#: In a catalogue of more than EXACT_UP_TO books, "more like this" scores only candidates:
#: the books linked to the seed either way, the seed author's books, and this many books
#: whose genre shelving and book vector come nearest the seed's, found through an inverted
#: file (see :meth:`Recommender.similar`).
SIMILAR_CANDIDATES = 1000
#: ...and, of the books linked to the seed, at first only this many: those whose link part
#: of the score is strongest. A bestseller can have tens of thousands of incoming links,
#: and scoring them all costs as much as scoring every book; the rest are scored only where
#: the bound says one could enter the list (see :meth:`Recommender.similar`).
SIMILAR_LINKED = 2000


class SimilarCandidates(NamedTuple):
    """The books a large catalogue scores for "more like this" of one seed."""

    rows: np.ndarray  # sorted catalogue rows
    bound: float  # no book outside ``rows`` scores more (see Recommender.similar_candidates)
    rest_bound: float  # ...nor more than this plus its link part (0 for a book not linked)


@dataclass(frozen=True)
class Recommendation:
    book_id: int
    title: str
    authors: str
    score: float  # ranking score (higher first); comparable within one list only
    predicted_rating: float  # 1..5 stars
    because: int | None  # book_id of the rated book that drives it (None: similar readers)
    note: str = ""  # "start of a series", "next in the series", or ""


@dataclass(frozen=True)
class BookHit:
    """A search result: a book and how closely the query matches its title, original title
    or author."""

    book_id: int
    title: str
    authors: str
    match: float  # similarity 0..100 (MATCH_THRESHOLD and up: a match worth offering)


@dataclass(frozen=True)
class SimilarBook:
    """A "more like this" result."""

    book_id: int
    title: str
    authors: str
    score: float  # blended link/taste/author score (higher first); within one list only
    note: str = ""  # "start of a series", "next in the series", or ""


@dataclass(frozen=True)
class Lookup:
    """What a title, typed by a reader, names: ``book_id`` when one book clearly wins,
    else ``candidates`` (best first; empty when nothing matches)."""

    book_id: int | None
    candidates: list[BookHit]


_EXPLICIT_ID = re.compile(r"^\s*id\s*:\s*(\d+)\s*$", re.IGNORECASE)


def shipped_bundle_path() -> Path:
    """The bundle packaged with bookrec-tui (trained on all of goodbooks-10k v1)."""
    return shipped_model_dir() / BUNDLE_NAME


def default_bundle_path(model_dir: str | os.PathLike[str] | None = None) -> Path:
    if model_dir:
        return Path(model_dir) / BUNDLE_NAME
    env = os.environ.get(MODEL_ENV)
    return Path(env) / BUNDLE_NAME if env else shipped_bundle_path()


class Recommender:
    def __init__(self, bundle: Bundle, catalogue: Catalogue) -> None:
        rows = catalogue.rows(bundle.book_ids)
        books_sha = bundle.meta.get("books_sha256")
        if (rows < 0).any() or len(rows) != len(catalogue) or (rows != np.arange(len(rows))).any():
            raise ModelError(
                "The model was trained on a different books.csv than the one in the data "
                f"directory ({'fingerprint ' + books_sha[:12] if books_sha else 'unknown'} vs "
                f"{catalogue.sha256[:12]}). Use the matching data, or retrain with "
                "`bookrec-tui train`."
            )
        self.bundle = bundle
        self.catalogue = catalogue
        self.scorer = FoldInScorer(bundle)
        self._index: TitleIndex | None = None
        self._questions: QuestionPicker | None = None
        self._index_lock = threading.Lock()  # built once, by whichever thread asks first

    # Derived tables are made on first use, not at start-up: at a million books the
    # incoming links alone are a sort of 100 million entries.
    @functools.cached_property
    def unit_embeddings(self) -> np.ndarray:
        """Book vectors for cosine look-ups: the ranking embeddings when the model learned
        them (the embedding model), else the rating head's book embeddings (the link
        model's ranking embeddings stay at their zero start)."""
        emb = self.bundle.learned_vectors()
        if emb is None:
            emb = self.bundle.rate_emb[1:]
        return (emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)).astype(
            np.float32
        )

    def book_vectors(self) -> np.ndarray:
        """(n_books, d) float32 book vectors in catalogue order: the embedding part of the
        ranking is ``book_vectors() @ reader_vector(ratings)`` (plus a per-book bias: in the
        embedding model its Goodreads-popularity term, outside the embeddings)."""
        return np.asarray(self.scorer.ranking_table()[0], dtype=np.float32)

    def reader_vector(self, ratings: Mapping[int, float]) -> np.ndarray:
        """The reader folded in from ``ratings`` (book id -> stars): d floats."""
        rows, stars = self._profile_arrays(ratings)
        return self.scorer.ranking_query(rows, stars)

    @functools.cached_property
    def _links_in(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incoming links sorted by target (target ids, source rows, weights), so "who links
        to this book" is a slice. Kept in the cache folder per bundle file: at a million
        books it is a sort of 100 million links, done once."""
        b = self.bundle

        def build() -> dict[str, np.ndarray]:
            flat = b.nbr_ids[1:].ravel()
            order = np.argsort(flat, kind="stable")
            return {
                "target": flat[order],
                "source": (order // max(b.nbr_ids.shape[1], 1)).astype(np.int32),
                "weight": b.nbr_w[1:].ravel()[order].astype(np.float32),
            }

        links = self._derived("links-in", build)
        return links["target"], links["source"], links["weight"]

    @functools.cached_property
    def lists(self) -> ListAssembler:
        """Series, editions and author limits for the final lists (see :mod:`.listing`);
        the series/editions table is read from the titles on first use (~0.2 s)."""
        c = self.catalogue
        return ListAssembler(c.works, c.first_authors, c.first_author_codes, c.genre_counts)

    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> Recommender:
        """The model bundle (shipped unless ``model_dir``/``$BOOKREC_MODEL_DIR``) and the
        catalogue: from the data directory when there is one, else the one packed beside the
        model (see :mod:`bookrec_tui.store.packed_catalogue`)."""
        from bookrec_tui.store.packed_catalogue import load_runtime_catalogue

        path = default_bundle_path(model_dir)
        bundle = Bundle.load(path)
        return cls(bundle, load_runtime_catalogue(path, data_dir))

    # ------------------------------------------------------------------ helpers
    @property
    def index(self) -> TitleIndex:
        with self._index_lock:
            if self._index is None:
                self._index = TitleIndex(self.catalogue)
        return self._index

    @property
    def index_ready(self) -> bool:
        """Whether search is instant now (the index is built on first use, ~0.5 s)."""
        return self._index is not None

    def _profile_arrays(self, ratings: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
        rows, stars = [], []
        for book_id, value in ratings.items():
            if int(book_id) not in self.catalogue:
                raise BookrecError(f"Unknown book id {book_id}: search for the title instead.")
            star = int(round(float(value)))
            if not 1 <= star <= 5:
                raise BookrecError(f"A rating must be 1 to 5 stars, got {value} for {book_id}.")
            rows.append(self.catalogue.row(int(book_id)))
            stars.append(star)
        return np.array(rows, dtype=np.int64), np.array(stars, dtype=np.int64)

    def reader_arrays(
        self, ratings: Mapping[int, float], read: Iterable[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """The fold-in's (rows, stars): the ratings, then books read without a rating as a
        weak positive (pseudo-stars :data:`READ_STARS`, chosen on validation readers)."""
        rows, stars = self._profile_arrays(ratings)
        extra = [
            self.catalogue.row(int(b))
            for b in read
            if int(b) in self.catalogue and int(b) not in ratings
        ]
        if not extra or READ_STARS is None:
            return rows, stars
        return (
            np.concatenate([rows, np.array(extra, dtype=np.int64)]),
            np.concatenate([stars, np.full(len(extra), READ_STARS, dtype=np.int64)]),
        )

    def reader_books(
        self,
        ratings: Mapping[int, float],
        read: Iterable[int] = (),
        hidden: Iterable[int] = (),
        series_order: dict[str, bool] | None = None,
        continue_series: bool = False,
    ) -> ReaderBooks:
        """``continue_series``: the list continues the series the reader loved (see
        :mod:`.listing`): recommendations do; "more like this" continues only the seed's
        series (:meth:`similar`)."""
        c = self.catalogue
        known = [c.row(int(b)) for b in (*ratings, *read) if int(b) in c]
        blocked = [c.row(int(b)) for b in hidden if int(b) in c]
        stars = (
            {c.row(int(b)): float(s) for b, s in ratings.items() if int(b) in c}
            if continue_series
            else None
        )
        return ReaderBooks.of(known, blocked, series_order, stars)

    # ------------------------------------------------------------------ API
    def recommend(
        self,
        ratings: Mapping[int, float],
        n: int = 20,
        shelf: str | None = None,
        exclude: Iterable[int] = (),
        read: Iterable[int] = (),
        series_order: dict[str, bool] | None = None,
        author: str | None = None,
    ) -> list[Recommendation]:
        """Top ``n`` books for a reader, as the reader sees them (see :mod:`.listing`): never
        one they rated, read (``read``, implied by a series or an omnibus) or ``exclude``
        (hidden, not interested); series in order; no overlapping editions; at most three
        by one author in ten, unless ``author`` asks for that author's books only.

        With no ratings this is the model's prior: popular, well-liked books.
        ``shelf`` keeps only books in that genre (e.g. "fantasy", "non-fiction"; see
        :mod:`.genres`); an unknown genre raises UnknownGenreError listing the known ones.
        """
        read = [int(b) for b in read]
        rows, stars = self.reader_arrays(ratings, read)
        reader = self.reader_books(ratings, read, exclude, series_order, continue_series=True)
        # Whole pages are listed and ordered, then cut to n: recommend(n=10) is the start of
        # recommend(n=20), whatever the star blend does within a page.
        pages = -(-n // BLEND_PAGE) * BLEND_PAGE
        listed = None
        if self.vector_index is not None and not shelf and author is None:
            listed = self._assemble_candidates(rows, stars, reader, pages)
        if listed is None:
            scores = self.scorer.rank_scores(rows, stars) if len(rows) else self.popular_scores()
            scores = scores.astype(np.float64)
            if shelf:
                allowed = self.catalogue.genre_rows(shelf)
                keep = np.full(len(scores), -np.inf)
                keep[allowed] = 0.0
                scores = scores + keep
            if author is not None:
                scores = np.where(self.catalogue.first_authors == author, scores, -np.inf)
            listed = self.lists.assemble(
                scores,
                reader,
                pages,
                series_cap=1,
                author_cap=None if author else 3,
                calibration=0.0 if shelf or author else LIST_CALIBRATION,
            )
        top = np.array([b.row for b in listed], dtype=np.int64)
        n_rated = len(ratings)
        predicted = self.scorer.predict_stars(rows[:n_rated], stars[:n_rated], top)
        # The order the reader sees agrees with the stars shown beside it.
        order = self.lists.reorder(listed, predicted, STAR_BLEND, None if author else 3)[:n]
        listed = [listed[i] for i in order]
        top, predicted = top[order], predicted[order]
        because = self.drivers(rows[:n_rated], stars[:n_rated], top)
        c = self.catalogue
        return [
            Recommendation(
                book_id=int(c.book_ids[b.row]),
                title=str(c.titles[b.row]),
                authors=str(c.authors[b.row]),
                score=b.score,
                predicted_rating=float(p),
                because=int(c.book_ids[rows[d]]) if d >= 0 else None,
                note=b.note,
            )
            for b, p, d in zip(listed, predicted, because, strict=True)
        ]

    def _assemble_candidates(
        self, rows: np.ndarray, stars: np.ndarray, reader: ReaderBooks, pages: int
    ) -> list[ListedBook] | None:
        """A large catalogue's list from candidates instead of every book: the vector
        index's best books for this reader, plus every book the rated books link to and the
        next entries of the series they loved, scored exactly (for a reader with no ratings:
        the most popular books). None when the candidates run out before ``pages`` books are
        listed (the caller then scores every book)."""
        if len(rows):
            query = self.scorer.ranking_query(rows, stars)
            found = self.vector_index.top(query, CANDIDATES)
            loved_next = np.array(self.lists.continuations(reader), dtype=np.int64)
            linked = np.union1d(self.scorer.linked_rows(rows), loved_next)
            candidates = np.union1d(found, linked)
            scores = self.scorer.rank_scores_at(rows, stars, candidates, query)
        else:
            candidates = self._popular_rows
            scores = self.popular_scores()[candidates]
        listed = self.lists.assemble(
            scores, reader, pages, series_cap=1, rows=candidates, calibration=LIST_CALIBRATION
        )
        return listed if len(listed) == pages else None

    @functools.cached_property
    def _popular_rows(self) -> np.ndarray:
        scores = self.popular_scores()
        k = min(CANDIDATES, len(scores))
        return np.sort(np.argpartition(-scores, k - 1)[:k])

    @functools.cached_property
    def vector_index(self) -> IVFIndex | None:
        """The inverted file over the ranking vectors (see :mod:`.vector_index`) for a
        catalogue of more than EXACT_UP_TO books, else None (every book is scored). Built
        on first use, about 10-30 s at a million books, and kept in the cache folder per
        bundle file."""
        if self.scorer.n_books <= EXACT_UP_TO:
            return None
        vectors, bias = self.scorer.ranking_table()

        def build() -> dict[str, np.ndarray]:
            return vars(IVFIndex.build(vectors, bias))

        arrays = self._derived(f"ivf-v{VECTOR_INDEX_VERSION}", build)
        return IVFIndex(*(arrays[name] for name in IVFIndex.FILES))

    def _derived(self, name: str, build) -> dict[str, np.ndarray]:
        """Arrays derived from the bundle, cached (memory-mapped) in the cache folder under
        ``name`` and the bundle file's identity; built afresh for a bundle made in memory."""
        origin = getattr(self.bundle, "origin", None)
        if not origin:
            return build()
        key = hashlib.sha256(origin.encode()).hexdigest()[:20]
        return cached_arrays(cache_dir() / f"{name}-{key}", build)

    def drivers(self, rows: np.ndarray, stars: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """For each target, the index into ``rows`` of the liked book that drives it, or -1
        when none holds :data:`BECAUSE_SHARE` of the target's positive score (the
        recommendation then comes from readers with similar taste, not from one book)."""
        out = np.full(len(targets), -1)
        liked = np.flatnonzero(np.asarray(stars) >= 3)
        if len(liked) == 0 or len(targets) == 0:
            return out
        contrib = np.maximum(self.scorer.contributions(rows, stars, targets), 0.0)
        total = contrib.sum(axis=0)
        best = liked[contrib[liked].argmax(axis=0)]
        share = contrib[best, np.arange(len(targets))] / np.maximum(total, 1e-12)
        return np.where((share >= BECAUSE_SHARE) & (total > 0), best, -1)

    def popular_scores(self) -> np.ndarray:
        """For a reader with no ratings: widely read and well rated (Goodreads-wide counts,
        average rating shrunk towards the catalogue mean). Read-only: computed once per
        catalogue (a pass over every book, milliseconds at a million)."""
        return self._popular_scores

    @functools.cached_property
    def _popular_scores(self) -> np.ndarray:
        c = self.catalogue
        counts = c.ratings_counts.astype(np.float64)
        prior = float(np.average(c.average_ratings, weights=np.maximum(counts, 1.0)))
        shrunk = (c.average_ratings * counts + prior * 1e4) / (counts + 1e4)
        scores = np.log10(np.maximum(counts, 1.0)) * (shrunk - 3.0)
        scores.setflags(write=False)
        return scores

    def predict_ratings(self, ratings: Mapping[int, float], book_ids: Iterable[int]) -> np.ndarray:
        """Predicted stars (1..5, float) the reader would give each of ``book_ids``."""
        rows, stars = self._profile_arrays(ratings)
        targets = np.array([self.catalogue.row(int(b)) for b in book_ids], dtype=np.int64)
        return self.scorer.predict_stars(rows, stars, targets)

    def similar(
        self,
        book_id: int,
        n: int = 10,
        ratings: Mapping[int, float] | None = None,
        read: Iterable[int] = (),
        hidden: Iterable[int] = (),
        series_order: dict[str, bool] | None = None,
    ) -> list[SimilarBook]:
        """ "More like this", best first, as the reader sees it: the book counts as read
        (its series continues from it, the next unread entry first in the list), at most two
        entries of one series (the next unread first) and three books by one author; nothing
        the reader rated, read or hid.

        A list of SIMILAR_AUTHOR_PLACE books or more holds one of the seed author's other
        books among its first SIMILAR_AUTHOR_PLACE (see :meth:`_author_place`).

        Past EXACT_UP_TO books only candidates are scored (:meth:`similar_candidates`);
        the list is the one scoring every book would give whenever the candidates hold the
        seed's nearest books by genre shelving and vector, which the inverted file finds
        for all but a few seeds in a thousand (docs/benchmarks.md). When the candidates
        cannot vouch for the list, every book is scored (:meth:`_similar_from_candidates`)."""
        row = self.catalogue.row(int(book_id))
        reader = self.reader_books({**(ratings or {}), int(book_id): 5}, read, hidden, series_order)
        # The seed's own series continues first (its next unread entry leads, whatever the
        # model scores it), the reader's other series do not.
        reader = replace(reader, loved=((row, 5.0),))
        listed, rows, scores = None, None, None
        if self.similar_index is not None:
            listed, rows, scores = self._similar_from_candidates(row, reader, n)
        if listed is None or scores is None:
            rows, scores = None, self.similar_scores(row)
            listed = self.lists.assemble(scores, reader, n, series_cap=2, author_cap=3)
        listed = self._author_place(row, listed, scores, rows, reader)
        c = self.catalogue
        return [
            SimilarBook(
                int(c.book_ids[b.row]), str(c.titles[b.row]), str(c.authors[b.row]), b.score, b.note
            )
            for b in listed
        ]

    def _similar_from_candidates(
        self, row: int, reader: ReaderBooks, n: int
    ) -> tuple[list[ListedBook] | None, np.ndarray | None, np.ndarray | None]:
        """A large catalogue's "more like this" list of ``row`` from candidates, with the
        candidate rows and their scores; Nones when the candidates cannot vouch for it.

        A book left out scores at most the candidates' bound: the list stands when every
        book it passed over (all scoring at least its last) beat that. The first try scores
        only the SIMILAR_LINKED most strongly linked books; when its last book does not
        clear the bound, the second adds every linked book whose link part could lift it
        past that last book (a left-out book's score is at most its link part plus
        ``rest_bound``), so it is exact whenever the first would have been with every linked
        book scored."""
        link = self._link_part(row)
        seed_next = np.array(self.lists.continuations(reader), dtype=np.int64)
        floor = None
        for _ in range(2):
            cands = self.similar_candidates(row, floor, link)
            rows = np.union1d(cands.rows, seed_next)  # the seed's next entry leads the list
            scores = self.similar_scores(row, rows, link)
            listed = self.lists.assemble(scores, reader, n, series_cap=2, author_cap=3, rows=rows)
            if len(listed) < n:
                break  # the candidates ran out
            if not listed or listed[-1].score > cands.bound:
                return listed, rows, scores
            if cands.bound <= cands.rest_bound:
                break  # no linked book was left out: only the full pass can do better
            floor = listed[-1].score - cands.rest_bound
        return None, None, None

    def _author_place(
        self,
        row: int,
        listed: list[ListedBook],
        scores: np.ndarray,
        rows: np.ndarray | None,
        reader: ReaderBooks,
    ) -> list[ListedBook]:
        """``listed`` with one of the seed author's other books among its first
        SIMILAR_AUTHOR_PLACE: unchanged when one is there already or none qualifies, else
        the author's best scoring book the reader may be shown (series in order, no edition
        of a book above) rated SIMILAR_AUTHOR_STARS or more takes the last of those places
        and the books from there move down one (the list keeps its length). ``scores`` are
        every book's, or those of the candidate ``rows``, which hold every book by the
        seed's author: the same book either way."""
        place = SIMILAR_AUTHOR_PLACE
        codes = self.catalogue.first_author_codes
        if len(listed) < place or any(codes[b.row] == codes[row] for b in listed[:place]):
            return listed
        mine = self._books_by_author(row)  # sorted rows, the seed among them
        own = scores[mine] if rows is None else scores[np.searchsorted(rows, mine)]
        own = np.where(self.catalogue.average_ratings[mine] >= SIMILAR_AUTHOR_STARS, own, -np.inf)
        above = self.lists.works.read_closure(b.row for b in listed[: place - 1])
        for book in self.lists.assemble(own, reader, 3, series_cap=2, author_cap=None, rows=mine):
            # (A series entry by another hand, e.g. a graphic novel, may stand in: skip it.)
            if codes[book.row] == codes[row] and not self.lists.works.overlaps(book.row, above):
                rest = [b for b in listed[place - 1 :] if b.row != book.row]
                return [*listed[: place - 1], book, *rest][: len(listed)]
        return listed

    def similar_scores(
        self,
        row: int,
        rows: np.ndarray | None = None,
        link: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Raw "more like this" scores for every book (or for the sorted, distinct
        ``rows`` only: their genre and vector part then comes from :attr:`similar_index`).
        The score blends the model's learned item-to-item links (:meth:`_link_part`: taken
        both ways, each divided by the square root of the target's incoming link mass, then
        normalised to 0..1 over every linked book), the cosine of the books' genre
        shelvings (:attr:`shelf_vectors`), the cosine of the books' vectors, and a bonus
        for the same author, so series, authors and genres stay together instead of
        drifting to whatever everyone reads. Weights: the ``SIMILAR_*`` constants.
        ``link``: :meth:`_link_part` of ``row``, when the caller has it."""
        linked, part = self._link_part(row) if link is None else link
        authors = self.catalogue.first_author_codes
        if rows is None:
            shelf = SIMILAR_SHELF * (self.shelf_vectors @ self.shelf_vectors[row])
            cosine = SIMILAR_COSINE * (self.unit_embeddings @ self.unit_embeddings[row])
            links = np.zeros(len(self.catalogue))
            links[linked] = part
        else:
            authors = authors[rows]
            shelf, cosine = self._similar_parts(row, rows)
            links = np.zeros(len(rows))
            if len(linked):
                at = np.minimum(np.searchsorted(linked, rows), len(linked) - 1)
                links = np.where(linked[at] == rows, part[at], 0.0)
        author = authors == self.catalogue.first_author_codes[row]
        score = (links + shelf + cosine + SIMILAR_AUTHOR * author).astype(np.float64)
        if rows is None:
            score[row] = -np.inf
        else:
            score[rows == row] = -np.inf
        return score

    def similar_candidates(
        self,
        row: int,
        link_floor: float | None = None,
        link: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> SimilarCandidates:
        """The books worth scoring for "more like this" of ``row`` in a large catalogue and
        a bound on the score of any other book it probed: every book by its first author,
        the :data:`SIMILAR_CANDIDATES` best of the inverted file's probed books by the
        blend's genre and vector part, and the books linked to ``row`` either way whose
        link part (:meth:`_link_part`) is at least ``link_floor`` (None: the
        :data:`SIMILAR_LINKED` strongest). A book outside these has no author bonus and
        its genre and vector part is at most the lowest found (``rest_bound``;
        minus-infinity when the probed books all came in), so it scores at most that plus
        its link part: ``bound`` adds the strongest link part left out."""
        index = self.similar_index
        found = index.top(self._similar_row(row)[:-1], SIMILAR_CANDIDATES)
        rest = -np.inf
        if len(found) == SIMILAR_CANDIDATES:
            rest = float(np.add(*self._similar_parts(row, found)).min()) + 1e-5
        linked, part = self._link_part(row) if link is None else link
        if link_floor is None:
            many = len(part) > SIMILAR_LINKED
            link_floor = np.partition(part, -SIMILAR_LINKED)[-SIMILAR_LINKED] if many else 0.0
        mine = self._books_by_author(row)
        kept = (part >= link_floor) | np.isin(linked, np.concatenate([found, mine]))
        bound = rest
        if not kept.all():
            # Without the probed books' bound (all came in) the part is at most its weights.
            rest = rest if np.isfinite(rest) else SIMILAR_SHELF + SIMILAR_COSINE + 1e-5
            bound = rest + float(part[~kept].max())
        rows = np.union1d(np.union1d(found, linked[kept]), mine).astype(np.int64)
        return SimilarCandidates(rows, bound, rest)

    @functools.cached_property
    def similar_index(self) -> IVFIndex | None:
        """An inverted file over :meth:`_similar_table` for a catalogue of more than
        EXACT_UP_TO books, else None (every book is scored). Built on first use (about
        26 s of CPU at a million books) and kept in the cache folder per bundle file,
        catalogue and weights."""
        if len(self.catalogue) <= EXACT_UP_TO:
            return None
        n = len(self.catalogue)

        def build() -> dict[str, np.ndarray]:
            table = self._similar_table(np.arange(n))
            return vars(IVFIndex.build(table, np.zeros(n, np.float32)))

        made_of = "|".join(
            map(str, (self.catalogue.sha256, genres.DEFINITION_KEY, SIMILAR_SHELF, SIMILAR_COSINE))
        )
        key = hashlib.sha256(made_of.encode()).hexdigest()[:12]
        arrays = self._derived(f"similar-ivf-v{VECTOR_INDEX_VERSION}-{key}", build)
        return IVFIndex(*(arrays[name] for name in IVFIndex.FILES))

    def _similar_table(self, rows: np.ndarray) -> np.ndarray:
        """The books' genre shelvings and vectors side by side, weighted so that one
        row's inner product with another is the genre and vector part of their "more
        like this" score (``SIMILAR_SHELF`` x shelf cosine + ``SIMILAR_COSINE`` x vector
        cosine): the rows of :attr:`similar_index`."""
        return np.hstack(
            [
                np.sqrt(SIMILAR_SHELF) * self.shelf_vectors[rows],
                np.sqrt(SIMILAR_COSINE) * self.unit_embeddings[rows],
            ]
        ).astype(np.float32)

    def _similar_row(self, row: int) -> np.ndarray:
        """``row``'s line of :attr:`similar_index`'s table (its last column is the zero
        bias)."""
        return self.similar_index.table[self._similar_places[row]]

    def _similar_parts(self, row: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The genre and the vector part of ``rows``' "more like this" score for ``row``,
        weighted, from :attr:`similar_index`'s table: a large catalogue's candidates are
        scored without making every book's unit vector and genre row (1.3 s and 384 MB
        at a million books)."""
        table, seed = self.similar_index.table, self._similar_row(row)
        block = table[self._similar_places[rows]]
        g = self.catalogue.genre_counts.shape[1]
        return block[:, :g] @ seed[:g], block[:, g:-1] @ seed[g:-1]

    @functools.cached_property
    def _similar_places(self) -> np.ndarray:
        """Each book row's line in :attr:`similar_index`'s table (grouped by cluster)."""
        index_rows = self.similar_index.rows
        places = np.empty(len(index_rows), dtype=np.int64)
        places[index_rows] = np.arange(len(index_rows))
        return places

    @functools.cached_property
    def _author_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by first author (stable) and their author codes, so one author's
        books are a slice."""
        codes = self.catalogue.first_author_codes
        order = np.argsort(codes, kind="stable")
        return order, codes[order]

    def _books_by_author(self, row: int) -> np.ndarray:
        """Rows of the books whose first author is ``row``'s."""
        order, codes = self._author_order
        code = codes.dtype.type(self.catalogue.first_author_codes[row])
        lo, hi = np.searchsorted(codes, [code, code + 1])
        return order[lo:hi]

    @functools.cached_property
    def shelf_vectors(self) -> np.ndarray:
        """(n_books, n_genres) unit rows of the books' genre shelvings (see
        :func:`.genres.shelf_vectors`): one column per genre, so a look-up costs less than
        the book vectors' cosine at any catalogue size."""
        return genres.shelf_vectors(self.catalogue.genre_counts)

    @functools.cached_property
    def _incoming_mass(self) -> np.ndarray:
        """Each book's total incoming link weight (absolute): how much every other book's
        readers go on to it, the popularity that "more like this" divides out. Summed in
        blocks (a million books' 100 million links would take 0.8 GB at once) and kept in
        the cache folder beside the incoming links."""
        n = len(self.catalogue)
        target, _, weight = self._links_in

        def build() -> dict[str, np.ndarray]:
            mass = np.zeros(n + 1, dtype=np.float64)
            step = 1 << 24
            for lo in range(0, len(target), step):
                mass += np.bincount(
                    target[lo : lo + step],
                    weights=np.abs(weight[lo : lo + step]),
                    minlength=n + 1,
                )
            return {"mass": mass[1:]}

        return self._derived("incoming-mass", build)["mass"]

    def _incoming(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Source rows and weights of the links into ``row``."""
        target, source, weight = self._links_in
        # Searched with the table's own integer type: a Python int list would make numpy
        # convert all 100 million targets first (0.1 s at a million books).
        lo, hi = np.searchsorted(target, np.array([row + 1, row + 2], dtype=target.dtype))
        return source[lo:hi], weight[lo:hi]

    def linked_rows(self, row: int) -> np.ndarray:
        """Rows linked to ``row`` either way (its links, and the books linking to it)."""
        ids = self.bundle.nbr_ids[row + 1]
        return np.union1d(ids[ids > 0] - 1, self._incoming(row)[0])

    def _link_part(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The books linked to ``row`` either way (sorted rows) and the link part of their
        "more like this" score: how strongly each is linked to ``row``, both ways (its
        readers go on to it, and its readers come from it: symmetric, so a bestseller that
        everyone goes on to does not outrank the same series), divided by the square root
        of its incoming link mass, then by the largest (0..1). Every other book's is 0."""
        b = self.bundle
        ids, w = b.nbr_ids[row + 1], b.nbr_w[row + 1]
        source, weight = self._incoming(row)
        # Its links first, then the links into it: each book's sum adds in that order.
        ends = np.concatenate([ids[ids > 0] - 1, source]).astype(np.int64)
        linked, at = np.unique(ends, return_inverse=True)
        weights = np.concatenate([w[ids > 0], weight]).astype(np.float64)
        strength = np.bincount(at, weights=weights, minlength=len(linked))
        part = np.maximum(strength, 0.0)
        part /= np.maximum(self._incoming_mass[linked], 1e-12) ** SIMILAR_LINK_DEBIAS
        if part.size and part.max() > 0:
            part /= part.max()
        return linked, part

    def next_question(self, answers: Mapping[int, int | None]) -> int | None:
        """The book to ask a new reader about next, given their ``answers`` so far (book id
        -> 1..5 stars, 0 = read it with no opinion, None = have not read it); None when
        nothing useful is left to ask. Favours books this reader has likely read, that
        readers disagree about, unlike those already asked (see :mod:`.onboarding`)."""
        return self.questions.next_question(answers)

    @property
    def questions(self) -> QuestionPicker:
        """The onboarding question picker, set up on first use (about 0.1-0.2 s)."""
        if self._questions is None:
            self._questions = QuestionPicker(self)
        return self._questions

    def search(self, query: str, n: int = 10) -> list[BookHit]:
        """Typo-tolerant title/author search, best match first."""
        c = self.catalogue
        return [
            BookHit(int(c.book_ids[r]), str(c.titles[r]), str(c.authors[r]), s)
            for r, s in self.index.search(query, n)
        ]

    def lookup(self, text: str) -> Lookup:
        """The book ``text`` names: an explicit id ('id:4'), or a title that clearly wins
        (its best reading with no rival, see search.RIVAL_*). A bare number is a title
        ("1984", "11/22/63"), never an id."""
        if match := _EXPLICIT_ID.match(text):
            book_id = int(match.group(1))
            if book_id not in self.catalogue:
                raise BookrecError(f"There is no book with id {book_id} in the catalogue.")
            return Lookup(book_id, [])
        hits = [h for h in self.search(text.strip(), 6) if h.match >= MATCH_THRESHOLD]
        if not hits:
            return Lookup(None, [])
        top = hits[0]
        rivals = [h for h in hits[1:] if self._rivals(top, h)]
        return Lookup(None, [top, *rivals]) if rivals else Lookup(top.book_id, [])

    def _rivals(self, top: BookHit, other: BookHit) -> bool:
        if (other.title, other.authors) == (top.title, top.authors):
            return False  # the same book twice in goodbooks: either will do
        if other.match < top.match - RIVAL_MARGIN:
            return False
        counts = self.catalogue.ratings_counts
        c = self.catalogue
        return counts[c.row(other.book_id)] >= RIVAL_POPULARITY * counts[c.row(top.book_id)]

    def resolve(self, text: str) -> int | None:
        """The book ``text`` clearly names (see :meth:`lookup`), else None."""
        return self.lookup(text).book_id
