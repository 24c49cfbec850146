"""What the book map means: regions named by the shelves their books share, and colours.

The 2-D positions come from :mod:`bookrec_tui.map.projection`; this module clusters them,
names each cluster by its distinctive genre shelves and picks a colour per genre.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.map.projection import Progress, projection

# Genre colours, shared by the PNG and the terminal map: Okabe-Ito (colour-blind friendly)
# first, then tab20 picks; "other" is grey.
PALETTE = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#8C564B",
    "#17BECF",
    "#BCBD22",
    "#7F7F7F",
    "#9467BD",
    "#AEC7E8",
)
OTHER_COLOUR = "#D9D9D9"


def genre_colours(genre_names: list[str]) -> list[str]:
    """One colour per genre index of a :class:`BookMap`; the last genre ("other") is grey."""
    return [PALETTE[i % len(PALETTE)] for i in range(len(genre_names) - 1)] + [OTHER_COLOUR]


# Shelf spellings folded together for colouring ("ya" is "young-adult").
_SHELF_ALIASES = {
    "ya": "young-adult",
    "sci-fi": "science-fiction",
    "classic": "classics",
    "children": "childrens",
    "children-s": "childrens",
    "children-s-books": "childrens",
    "mystery-thriller": "mystery",
    "historical": "historical-fiction",
    "sf": "science-fiction",
    "graphic-novel": "graphic-novels",
    "vampire": "vampires",
    "scifi": "science-fiction",
}
# Shelves that say how or where a book was read, not what it is: no region is named by them.
_NOT_A_REGION = frozenset(
    [
        "audio",
        "audiobook",
        "audiobooks",
        "audible",
        "adult",
        "1001-books",
        "1001",
        "american",
        "british",
        "english",
        "kindle",
        "ebook",
        "ebooks",
        "library",
        "book-club",
    ]
)


@dataclass(frozen=True)
class Cluster:
    label: str  # its most characteristic shelves, e.g. "manga · graphic-novels"
    x: float
    y: float
    size: int


@dataclass
class BookMap:
    xy: np.ndarray  # (n_books, 2) float32, in catalogue row order, scaled into [-1, 1]
    method: str
    genre: np.ndarray  # (n_books,) int: index into genre_names; the last name is "other"
    genre_names: list[str]
    clusters: list[Cluster]

    def nearest(self, x: float, y: float) -> int:
        """Catalogue row of the book closest to (x, y)."""
        d = ((self.xy - np.array([x, y], np.float32)) ** 2).sum(axis=1)
        return int(np.argmin(d))


# ---------------------------------------------------------------------------- meaning
def folded_shelves(catalogue: Catalogue) -> list[list[str]]:
    """Each book's shelves (catalogue row order), strongest first, spellings folded
    together ("ya" is "young-adult") and each named once."""
    out = []
    for book_id in catalogue.book_ids:
        folded = [_SHELF_ALIASES.get(s, s) for s in catalogue.shelf_list(int(book_id))]
        out.append(list(dict.fromkeys(folded)))
    return out


def dominant_genres(shelves: list[list[str]], n: int = 12) -> tuple[np.ndarray, list[str]]:
    """Each book's first (strongest) shelf, among the ``n`` most common; others: "other"."""
    first = [s[0] if s else "" for s in shelves]
    names = [g for g, _ in Counter(g for g in first if g).most_common(n)]
    index = {g: i for i, g in enumerate(names)}
    return np.array([index.get(g, len(names)) for g in first], dtype=np.int16), [
        *names,
        "other",
    ]


def kmeans_2d(xy: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> np.ndarray:
    """Plain k-means (k-means++ start) on the map; returns each point's cluster."""
    rng = np.random.default_rng(seed)
    centres = [xy[rng.integers(len(xy))]]
    for _ in range(1, k):
        d = np.min([((xy - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(xy[rng.choice(len(xy), p=d / d.sum())])
    c = np.array(centres)
    for _ in range(iterations):
        assign = np.argmin(((xy[:, None, :] - c[None]) ** 2).sum(axis=2), axis=1)
        new = np.array(
            [xy[assign == j].mean(axis=0) if (assign == j).any() else c[j] for j in range(k)]
        )
        if np.allclose(new, c):
            break
        c = new
    return assign


def _distinctive(local: Counter, size: int, overall: Counter, n: int, share: float) -> list[str]:
    """A region's shelves, most over-represented first (lift against the whole catalogue),
    among those at least ``share`` of its ``size`` books carry."""
    lift = sorted(
        ((local[s] / size) / (overall[s] / n), s)
        for s in local
        if local[s] / size >= share and overall[s] >= 20 and s not in _NOT_A_REGION
    )
    return [s for _, s in lift[::-1]]


def label_clusters(
    xy: np.ndarray, shelves: list[list[str]], k: int = 14, min_share: float = 0.25
) -> list[Cluster]:
    """Regions of the map named by their most over-represented shelves (lift against the
    whole catalogue, among shelves at least ``min_share`` of the region's books carry),
    biggest region first."""
    assign = kmeans_2d(xy.astype(np.float64), k)
    shelf_sets = [set(book) for book in shelves]
    overall = Counter(s for book in shelf_sets for s in book)
    n = len(shelves)
    regions = sorted(
        (np.flatnonzero(assign == j) for j in range(k) if (assign == j).any()),
        key=lambda members: -len(members),
    )
    clusters, used = [], set()
    for members in regions:  # biggest first: it gets the plainest name
        local = Counter(s for r in members for s in shelf_sets[r])

        # Two regions are never given the same pair of shelves ("classics · literature"
        # and "literature · classics"): a later one takes its next distinct shelf, if need
        # be one that fewer of its books carry.
        # A region where no shelf reaches ``min_share`` is named by the looser list.
        looser = _distinctive(local, len(members), overall, n, min_share / 2)
        names = _distinctive(local, len(members), overall, n, min_share)[:2] or looser[:2]
        for extra in looser[1:]:
            if frozenset(names) not in used:
                break
            if extra not in names:
                names = [names[0], extra]
        used.add(frozenset(names))
        cx, cy = np.median(xy[members], axis=0)
        clusters.append(Cluster(" · ".join(names) or "mixed", float(cx), float(cy), len(members)))
    return clusters


def build_map(
    bundle: Bundle, catalogue: Catalogue, method: str = "pca", progress: Progress | None = None
) -> BookMap:
    xy = projection(bundle, method, progress)
    shelves = folded_shelves(catalogue)
    genre, names = dominant_genres(shelves)
    return BookMap(xy, method, genre, names, label_clusters(xy, shelves))
