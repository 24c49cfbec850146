"""Fuzzy title/author search over the catalogue (rapidfuzz), typo-tolerant.

"hary poter" must find Harry Potter #1 before a box set or a companion book, so the
string similarity is blended with a small popularity prior and a penalty for omnibus
editions. A query first shortlists candidates by shared character trigrams (an inverted
index in numpy, well under a millisecond), then scores only those with rapidfuzz.
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
        self.with_author = [f"{p} {a}" for p, a in zip(self.plain, authors, strict=True)]
        self.full_len = np.array([len(t) for t in self.full], dtype=np.float64)
        self.author_len = np.array([len(t) for t in self.with_author], dtype=np.float64)
        counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1.0))
        self.prior = 4.0 * counts / max(counts.max(), 1.0)  # 0..4 points
        self.penalty = np.array([4.0 if _OMNIBUS.search(t) else 0.0 for t in titles])
        self._build_trigrams([f"{f} {a}" for f, a in zip(self.full, authors, strict=True)])

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
        plain = [self.plain[r] for r in rows]
        sims = np.maximum(
            self._similarity(q, full, self.full_len[rows]),
            self._similarity(q, with_author, self.author_len[rows]) - 1.0,
        )
        # A (nearly) exact title beats any looser token match: "the two towers" is
        # The Two Towers, not "Two by Two".
        exact = process.cdist(
            [q], plain, scorer=fuzz.ratio, processor=None, score_cutoff=88, workers=1
        )[0]
        sims = np.where(exact > 0, np.maximum(sims, exact) + 10.0, sims)
        score = sims + self.prior[rows] - self.penalty[rows]
        order = np.argsort(-score, kind="stable")[:n]
        return [(int(rows[i]), float(min(sims[i], 100.0))) for i in order if sims[i] > 0]


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}
