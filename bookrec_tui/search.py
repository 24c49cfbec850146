"""Fuzzy title/author search over the catalogue (rapidfuzz), typo-tolerant.

"hary poter" must find Harry Potter #1 before a box set or a companion book, so the
string similarity is blended with a small popularity prior and a penalty for omnibus
editions. Everything is precomputed once; a query is one vectorised rapidfuzz pass.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from rapidfuzz import fuzz, process

from .data import Catalogue

_SERIES = re.compile(r"\s*\([^)]*#[^)]*\)\s*$")
_NON_WORD = re.compile(r"[^\w\s]+")
_OMNIBUS = re.compile(
    r"box(ed)? ?set|collection|complete|omnibus|#\d+\s*-\s*\d+|books? \d+-\d+", re.IGNORECASE
)


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
        self.plain = [normalise(_SERIES.sub("", t)) for t in titles]  # "the hunger games"
        self.with_author = [
            f"{normalise(_SERIES.sub('', t))} {a}" for t, a in zip(titles, authors, strict=True)
        ]
        self.full_len = np.array([len(t) for t in self.full], dtype=np.float64)
        self.author_len = np.array([len(t) for t in self.with_author], dtype=np.float64)
        counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1.0))
        self.prior = 4.0 * counts / max(counts.max(), 1.0)  # 0..4 points
        self.penalty = np.array([4.0 if _OMNIBUS.search(t) else 0.0 for t in titles])

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
        sims = np.maximum(
            self._similarity(q, self.full, self.full_len),
            self._similarity(q, self.with_author, self.author_len) - 1.0,
        )
        # A (nearly) exact title beats any looser token match: "the two towers" is
        # The Two Towers, not "Two by Two".
        exact = process.cdist(
            [q], self.plain, scorer=fuzz.ratio, processor=None, score_cutoff=88, workers=1
        )[0]
        sims = np.where(exact > 0, np.maximum(sims, exact) + 10.0, sims)
        score = sims + self.prior - self.penalty
        n = min(n, len(score))
        top = np.argpartition(-score, n - 1)[:n]
        top = top[np.argsort(-score[top], kind="stable")]
        return [(int(r), float(min(sims[r], 100.0))) for r in top if sims[r] > 0]
