"""The book map on the real data and the shipped model: does it mean something?"""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.core.recommender import Recommender
from bookrec_tui.map.regions import build_map


@pytest.fixture(scope="module")
def pca_map(real_data_dir):
    rec = Recommender.load(data_dir=real_data_dir)
    return rec, build_map(rec.bundle, rec.catalogue, "pca")


def series_rows(rec, marker: str) -> list[int]:
    """Numbered books of one series, without box sets."""
    return [
        i
        for i, t in enumerate(rec.catalogue.titles)
        if marker in t and "#" in t and not any(w in t for w in ("Box", "Collection", "Set"))
    ]


@pytest.mark.parametrize(
    "marker, at_least",
    [("Harry Potter and the", 7), ("(The Dresden Files", 12), ("(Discworld", 30)],
)
def test_books_of_one_series_land_close_together(pca_map, marker, at_least):
    rec, book_map = pca_map
    xy = book_map.xy.astype(np.float64)
    rows = series_rows(rec, marker)
    assert len(rows) >= at_least
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(xy), size=(20_000, 2))
    typical = np.median(np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1))
    pts = xy[rows]
    within = np.linalg.norm(pts[:, None] - pts[None], axis=2)[np.triu_indices(len(rows), 1)]
    assert np.median(within) < 0.15 * typical


def test_map_neighbours_share_a_genre_far_more_than_chance(pca_map):
    """A book's 10 nearest books on the map carry its strongest shelf about twice as often
    as random books would: regions of the map are genres."""
    from scipy.spatial import cKDTree

    _, book_map = pca_map
    other = len(book_map.genre_names) - 1
    known = np.flatnonzero(book_map.genre != other)
    g = book_map.genre
    _, nn = cKDTree(book_map.xy).query(book_map.xy[known], k=11)
    agree = np.mean(g[nn[:, 1:]] == g[known][:, None])
    share = np.bincount(g[known]) / len(known)
    assert agree > 1.8 * (share**2).sum()


def test_biggest_regions_are_named_by_genres(pca_map):
    _, book_map = pca_map
    labels = [c.label for c in book_map.clusters]
    assert "mixed" not in labels and sum(c.size for c in book_map.clusters) == 10_000
    assert len({frozenset(label.split(" · ")) for label in labels}) == len(labels)  # distinct
    biggest = " ".join(labels[:8])
    for genre in ("classics", "young-adult", "fantasy", "historical-fiction"):
        assert genre in biggest, labels
    assert any("biography" in label or "memoir" in label for label in labels), labels
