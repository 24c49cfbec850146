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


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, squeeze spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NON_WORD.sub(" ", text.lower())
    return " ".join(text.split())


class TitleIndex:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        titles = [str(t) for t in catalogue.titles]
        self.plain = [normalise(_SERIES.sub("", t)) for t in titles]
        self.full = [normalise(t) for t in titles]
        self.authors = [normalise(str(a)) for a in catalogue.authors]
        self.with_author = [f"{t} {a}" for t, a in zip(self.plain, self.authors, strict=True)]
        counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1.0))
        self.prior = 4.0 * counts / max(counts.max(), 1.0)  # 0..4 points
        self.penalty = np.array([4.0 if _OMNIBUS.search(t) else 0.0 for t in titles])

    def search(self, query: str, n: int = 10) -> list[tuple[int, float]]:
        """(row, score 0..100) best first."""
        q = normalise(query)
        if not q:
            return []
        sims = np.max(
            np.stack(
                [
                    process.cdist([q], self.plain, scorer=fuzz.WRatio, processor=None, workers=1)[
                        0
                    ],
                    process.cdist([q], self.full, scorer=fuzz.WRatio, processor=None, workers=1)[0],
                    process.cdist([q], self.authors, scorer=fuzz.WRatio, processor=None, workers=1)[
                        0
                    ]
                    - 3.0,
                    process.cdist(
                        [q],
                        self.with_author,
                        scorer=fuzz.token_set_ratio,
                        processor=None,
                        workers=1,
                    )[0]
                    - 2.0,
                ]
            ),
            axis=0,
        )
        score = sims + self.prior - self.penalty
        n = min(n, len(score))
        top = np.argpartition(-score, n - 1)[:n]
        top = top[np.argsort(-score[top], kind="stable")]
        return [(int(r), float(min(sims[r], 100.0))) for r in top]
