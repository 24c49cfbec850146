"""Fuzzy title/author search over the catalogue (rapidfuzz), typo-tolerant.

"hary poter" must find Harry Potter #1 before a box set or a companion book, and "wicked"
Maguire's Wicked (500k ratings) before a namesake with a hundredth of its readers, so the
string similarity is blended with a popularity prior worth up to ``POPULARITY_POINTS`` (it
decides near ties, never a clearly better match) and a penalty for omnibus editions. Titles
are matched as shown, without their subtitle ("Sapiens: A Brief History..." is an exact
"sapiens"), and by their original title ("Cien años de soledad"); accents and case are
ignored. A query that names an author ("stephen king") lists that author's best-known books.
A query first shortlists candidates by shared character trigrams (an inverted index in numpy,
well under a millisecond), then scores only those with rapidfuzz.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from rapidfuzz import fuzz, process

from .data import SERIES_NOTE, Catalogue

_NON_WORD = re.compile(r"[^\w\s]+")
_OMNIBUS = re.compile(
    r"box(ed)? ?set|collection|complete|omnibus|#\d+\s*-\s*\d+|books? \d+-\d+", re.IGNORECASE
)


MIN_COVERAGE = 0.35  # share of the query's character trigrams a match must contain
POPULARITY_POINTS = 8.0  # the most-rated book gets this many points, a 1-rating book none
EXACT_BONUS = 10.0  # a (nearly) exact title beats any looser token match
AUTHOR_MATCH = 90  # fuzz.ratio of the query to an author's name to list their books
#: A search hit is a plausible reading of what the reader typed from this similarity (0..100)
#: up: the one threshold the chat, the app's suggestions and the CLI share.
MATCH_THRESHOLD = 60.0
#: Another hit rivals the best one (so a title does not "clearly win") when its similarity is
#: within RIVAL_MARGIN and it has at least RIVAL_POPULARITY of the best one's ratings:
#: "harry potter" is ambiguous between the books, "twilight" is the Meyer novel, not a
#: namesake with a hundredth of its readers.
RIVAL_MARGIN = 3.0
RIVAL_POPULARITY = 0.2

_STOPWORDS = frozenset(
    (
        "the",
        "a",
        "an",
        "of",
        "and",
        "to",
        "in",
        "on",
        "for",
        "at",
        "by",
        "with",
        "from",
        "or",
        "is",
        "as",
    )
)


def normalise(text: str) -> str:
    """Lower-case, strip accents, punctuation and little words, squeeze spaces.

    Little words go because fuzzy token matching otherwise pairs "lord of the rngs" with any
    title that has "of the" in it.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = _NON_WORD.sub(" ", text.lower()).split()
    kept = [w for w in words if w not in _STOPWORDS]
    return " ".join(kept or words)


class TitleIndex:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        titles = [str(t) for t in catalogue.titles]
        authors = [normalise(str(a)) for a in catalogue.authors]
        self.full = [normalise(t) for t in titles]  # keeps the series note: "percy jackson"
        self.plain = [normalise(SERIES_NOTE.sub("", t)) for t in titles]  # "the hunger games"
        # Without the subtitle: "sapiens" for "Sapiens: A Brief History of Humankind".
        self.core = [normalise(SERIES_NOTE.sub("", t).split(":")[0]) for t in titles]
        self.original = [normalise(str(t)) for t in catalogue.original_titles]
        # A series is searched by its name through its first book: "harry potter" is
        # Harry Potter #1 (before "Harry Potter: Film Wizardry", which only has the name).
        self.series = [_first_of_series_name(t) for t in titles]
        self.original_len = np.array([len(t) for t in self.original], dtype=np.float64)
        self.first_author = [normalise(str(a)) for a in catalogue.first_authors]
        # The name without initials: "tolkien" for "J.R.R. Tolkien", "rowling" for J.K.'s.
        self.author_surname = [
            " ".join(w for w in a.split() if len(w) > 1) for a in self.first_author
        ]
        self.with_author = [f"{p} {a}" for p, a in zip(self.plain, authors, strict=True)]
        self.full_len = np.array([len(t) for t in self.full], dtype=np.float64)
        self.author_len = np.array([len(t) for t in self.with_author], dtype=np.float64)
        counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1.0))
        self.prior = POPULARITY_POINTS * counts / max(counts.max(), 1.0)
        self.penalty = np.array([4.0 if _OMNIBUS.search(t) else 0.0 for t in titles])
        self._build_trigrams(
            [
                f"{f} {a} {o}" if o != p else f"{f} {a}"
                for f, a, o, p in zip(self.full, authors, self.original, self.plain, strict=True)
            ]
        )

    def _build_trigrams(self, docs: list[str]) -> None:
        vocab: dict[str, int] = {}
        pairs: list[tuple[int, int]] = []
        sizes = np.zeros(len(docs), dtype=np.float64)
        for doc, text in enumerate(docs):
            grams = _trigrams(text)
            sizes[doc] = max(len(grams), 1)
            pairs.extend((vocab.setdefault(g, len(vocab)), doc) for g in grams)
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        order = np.argsort(arr[:, 0], kind="stable")
        self._gram_ids = vocab
        self._postings = arr[order, 1]
        self._starts = np.searchsorted(arr[order, 0], np.arange(len(vocab) + 1))
        self._doc_norm = np.sqrt(sizes)

    def shortlist(self, query: str, k: int = 300) -> np.ndarray:
        """Rows sharing the most character trigrams with ``query`` (cosine), best first,
        among those holding at least MIN_COVERAGE of the query's trigrams.

        The coverage floor keeps junk from matching: WRatio gives "[2J ü [2J ü" 86 against
        "American Sniper ... U.S. Military History" through the lone "u", yet the title
        holds 1 of its 6 trigrams. Real typos keep half or more ("the martain": 0.5).
        """
        grams = _trigrams(query)
        ids = [self._gram_ids[g] for g in grams if g in self._gram_ids]
        if not ids:
            return np.array([], dtype=np.int64)
        hits = np.concatenate([self._postings[self._starts[i] : self._starts[i + 1]] for i in ids])
        shared = np.bincount(hits, minlength=len(self._doc_norm))
        score = np.where(shared >= MIN_COVERAGE * len(grams), shared / self._doc_norm, 0.0)
        k = min(k, int((score > 0).sum()))
        top = np.argpartition(-score, k - 1)[:k] if k else np.array([], dtype=np.int64)
        return top

    @staticmethod
    def _similarity(query: str, choices: list[str], lengths: np.ndarray) -> np.ndarray:
        """WRatio, discounted when the choice is much shorter than the query: otherwise a
        title like "It" or "Son" matches inside "hitchikers guide" or "percy jackson"."""
        sims = process.cdist(
            [query], choices, scorer=fuzz.WRatio, processor=None, score_cutoff=40, workers=1
        )[0].astype(np.float64)
        return sims * np.minimum(1.0, (lengths + 3.0) / len(query)) ** 0.5

    def search(self, query: str, n: int = 10) -> list[tuple[int, float]]:
        """(row, score 0..100) best first."""
        q = normalise(query)
        if not q:
            return []
        rows = self.shortlist(q)
        if len(rows) == 0:
            return []
        full = [self.full[r] for r in rows]
        with_author = [self.with_author[r] for r in rows]
        original = [self.original[r] for r in rows]
        sims = np.maximum.reduce(
            [
                self._similarity(q, full, self.full_len[rows]),
                self._similarity(q, with_author, self.author_len[rows]) - 1.0,
                self._similarity(q, original, self.original_len[rows]),
            ]
        )
        # A (nearly) exact title beats any looser token match: "the two towers" is
        # The Two Towers, not "Two by Two"; "sapiens" is Sapiens, not "Simon vs. the Homo
        # Sapiens Agenda".
        # The title as shown may be off by a typo; a title cut at its subtitle or in its
        # original language must match closely ("twilight meyer" is not "Twilight Eyes").
        exact = np.maximum.reduce(
            [
                self._exact(q, self.plain, rows, 88),
                self._exact(q, self.core, rows, 95),
                self._exact(q, self.original, rows, 95),
            ]
        )
        sims = np.where(exact > 0, np.maximum(sims, exact) + EXACT_BONUS, sims)
        # The series name ranks its first book first but is not reported as an exact match
        # of it: "harry potter" still names seven books as well as one.
        series = self._exact(q, self.series, rows, 88)
        ranking = np.where(series > 0, np.maximum(sims, series + EXACT_BONUS), sims)
        # "stephen king": the author's books (those the trigrams shortlisted, which for a
        # name are the author's) match as well as an exact title; popularity orders them.
        by_author = np.maximum(
            self._exact(q, self.first_author, rows, AUTHOR_MATCH),
            self._exact(q, self.author_surname, rows, AUTHOR_MATCH),
        )
        sims = np.where(by_author > 0, np.maximum(sims, 100.0), sims)
        ranking = np.maximum(ranking, sims)
        score = ranking + self.prior[rows] - self.penalty[rows]
        order = np.argsort(-score, kind="stable")[:n]
        return [(int(rows[i]), float(min(sims[i], 100.0))) for i in order if ranking[i] > 0]

    @staticmethod
    def _exact(query: str, names, rows: np.ndarray, cutoff: float) -> np.ndarray:
        """fuzz.ratio of ``query`` to each row's name where it is ``cutoff`` or more, else 0."""
        return process.cdist(
            [query],
            [names[r] for r in rows],
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=cutoff,
            workers=1,
        )[0]


_FIRST_OF_SERIES = re.compile(r"\(([^()#]+?),?\s*#1\)\s*$")


def _first_of_series_name(title: str) -> str:
    """'harry potter' for 'Harry Potter and the Sorcerer's Stone (Harry Potter, #1)'; ''
    for any other book."""
    match = _FIRST_OF_SERIES.search(title)
    return normalise(match.group(1)) if match else ""


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}
