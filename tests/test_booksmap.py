"""The book map: projection, caching, region names and the terminal canvas, on small data."""

from __future__ import annotations

import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from bookrec_tui.core.vector_index import cosine_neighbours
from bookrec_tui.map import projection as map_projection
from bookrec_tui.map.projection import MapError, projection
from bookrec_tui.map.regions import BookMap, Cluster, kmeans_2d, label_clusters
from bookrec_tui.map.view import MapView


def camps(sizes: tuple[int, ...], links: int = 5, seed: int = 0) -> SimpleNamespace:
    """A bundle-like object whose books link only within their own camp (one camp per size,
    books numbered camp after camp): a link graph with one component per camp."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    ids = np.zeros((n + 1, links), dtype=np.int32)  # row 0 = padding, as in a bundle
    weights = np.zeros((n + 1, links), dtype=np.float32)
    start = 1
    for size in sizes:
        camp = range(start, start + size)
        for book in camp:
            ids[book] = rng.choice([b for b in camp if b != book], size=links, replace=False)
            weights[book] = rng.uniform(0.5, 1.0, size=links)
        start += size
    return SimpleNamespace(nbr_ids=ids, nbr_w=weights, learned_vectors=lambda: None)


def two_camps(n: int = 60, links: int = 5, seed: int = 0) -> SimpleNamespace:
    """Books 1..n/2 link only among themselves, and so do the rest."""
    return camps((n // 2, n - n // 2), links, seed)


def test_pca_map_puts_linked_books_together():
    xy = projection(two_camps(), "pca")
    assert xy.shape == (60, 2) and np.abs(xy).max() <= 1.0
    a, b = xy[:30], xy[30:]
    within = np.mean(
        [np.linalg.norm(a - a.mean(0), axis=1).mean(), np.linalg.norm(b - b.mean(0), axis=1).mean()]
    )
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > 3 * within


def test_disconnected_catalogue_keeps_every_component_apart():
    """Three camps that share no link (a catalogue trained on separate reader groups): the
    spectral vectors tell the camps apart, whatever the eigen-solver's order, and twice the
    same."""
    from scipy.sparse.csgraph import connected_components

    bundle = camps((20, 30, 40))
    assert connected_components(map_projection.link_graph(bundle))[0] == 3  # really disconnected
    vecs = map_projection.map_vectors(bundle, dim=8)
    assert np.array_equal(vecs, map_projection.map_vectors(bundle, dim=8))
    label = np.repeat([0, 1, 2], [20, 30, 40])
    cos = vecs @ vecs.T
    same = label[:, None] == label[None, :]
    assert cos[same].mean() - cos[~same].mean() > 0.5
    # Every book is closer to its own camp's centre than to any other camp's.
    centres = np.stack([vecs[label == k].mean(0) for k in range(3)])
    nearest = np.linalg.norm(vecs[:, None, :] - centres[None], axis=2).argmin(axis=1)
    assert (nearest == label).all()


def test_projection_is_cached_per_bundle(monkeypatch):
    bundle = two_camps()
    first = projection(bundle, "pca")

    def recompute(*_):
        raise RuntimeError("recomputed")

    monkeypatch.setattr(map_projection, "map_vectors", recompute)
    assert np.array_equal(projection(bundle, "pca"), first)
    with pytest.raises(RuntimeError, match="recomputed"):  # another bundle: not that cache
        projection(two_camps(seed=1), "pca")


def test_tsne_without_the_viz_extra_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # import fails as if not installed
    with pytest.raises(MapError, match=r"pip install openTSNE matplotlib"):
        projection(two_camps(), "tsne")
    with pytest.raises(MapError, match="pca, tsne"):
        projection(two_camps(), "umap")


def test_tsne_map_separates_the_camps_and_reports_progress():
    seen = []
    xy = projection(two_camps(n=200), "tsne", progress=lambda d, t, info: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and len(seen) > 5
    labels = kmeans_2d(xy.astype(np.float64), 2)
    # each camp ends up (almost) entirely in one k-means cluster of the map
    assert max(np.mean(labels[:100] == labels[0]), np.mean(labels[:100] != labels[0])) > 0.95
    assert labels[0] != labels[150]


def small_map() -> BookMap:
    xy = np.array([[-0.9, -0.9], [0.9, 0.9], [0.0, 0.0], [0.5, -0.5]], dtype=np.float32)
    return BookMap(
        xy=xy,
        method="pca",
        genre=np.array([0, 1, 1, 2], dtype=np.int16),
        genre_names=["fantasy", "romance", "other"],
        clusters=[Cluster("fantasy · magic", -0.9, -0.9, 2)],
    )


def text_of(lines) -> list[str]:
    return ["".join(t for t, _ in line) for line in lines]


def test_canvas_draws_every_book_marks_and_region_names():
    view = MapView(small_map(), marks={"rated": np.array([1]), "recommended": np.array([3])})
    lines = view.render(40, 12)
    assert len(lines) == 12 and all(len(t) == 40 for t in text_of(lines))
    screen = "\n".join(text_of(lines))
    assert "●" in screen and "★" in screen and "fantasy · magic" in screen
    dots = sum(ch != " " and 0x2800 < ord(ch) <= 0x28FF for ch in screen)
    assert dots >= 1  # book 2 (book 0 lies under its region's name)
    styles = {s for line in lines for _, s in line}
    assert {"rated", "recommended", "label", "cursor"} <= styles


def test_cursor_zoom_and_pick():
    view = MapView(small_map())
    cols, rows = 40, 12
    assert view.nearest_to_cursor() == 2  # the cursor starts at the centre
    for _ in range(30):
        view.move_cursor(1, -1, cols, rows)  # up and right, towards book 1
    assert view.nearest_to_cursor() == 1
    view.zoom_by(4)
    col, row = view.cell_of(*view.cursor, cols, rows)
    assert (col, row) == (cols // 2, rows // 2)  # zoom centres on the cursor
    x, y = view.point_at(col, row, cols, rows)
    assert abs(x - view.cursor[0]) < 0.05 and abs(y - view.cursor[1]) < 0.05
    view.reset()
    assert (view.zoom, view.cx, view.cy) == (1.0, 0.0, 0.0)
    view.jump_to(0, cols, rows)
    assert view.nearest_to_cursor() == 0


def test_png_without_the_viz_extra_says_how_to_get_it(monkeypatch, tmp_path, tiny_data):
    from bookrec_tui.map.image import render_png
    from bookrec_tui.store.goodbooks import load_catalogue

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MapError, match=r"pip install openTSNE matplotlib"):
        render_png(small_map(), load_catalogue(tiny_data), tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_every_books_nearest_by_cosine_found_by_blocks_equal_the_full_product():
    vectors = np.random.default_rng(3).normal(size=(300, 12)).astype(np.float32)
    ids, cosines = cosine_neighbours(vectors, 7, block=64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    full = unit @ unit.T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1)[:, :7]
    assert np.array_equal(ids, expected)
    assert np.allclose(cosines, np.take_along_axis(full, expected, axis=1), atol=1e-5)


def test_nearest_books_through_the_inverted_file_are_almost_all_the_exact_ones():
    """Past NEIGHBOURS_EXACT_UP_TO books the search compares each cluster with the clusters
    near it only: on 40 planted groups it still finds nearly every exact neighbour, never
    the book itself."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(40, 16))
    vectors = (np.repeat(centres, 60, axis=0) + 0.4 * rng.normal(size=(2400, 16))).astype(
        np.float32
    )
    exact, _ = cosine_neighbours(vectors, 10)
    found, cosines = cosine_neighbours(vectors, 10, exact_up_to=0)
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(exact, found, strict=True)])
    assert recall > 0.95
    assert not (found == np.arange(2400)[:, None]).any()
    assert (np.diff(cosines, axis=1) <= 1e-6).all()  # nearest first


def genre_neighbours(xy: np.ndarray, genre: np.ndarray, k: int = 5) -> float:
    """How often a book's ``k`` nearest books on the map share its genre."""
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(genre[np.argsort(d, axis=1)[:, :k]] == genre[:, None]))


def test_map_of_a_bundle_with_learned_vectors_is_drawn_from_them(tiny_world):
    """The tiny world's book vectors carry its readers' genre tastes and series. With its
    links scrambled into noise, the map (the vectors' nearest books joined by the links)
    still puts a genre's books and Harry Potter together: it reads the vectors. The same
    bundle with zero vectors (the link model) draws the noise. With its true links, the
    t-SNE map keeps them together too."""
    import tiny_world as world

    bundle = tiny_world.bundle()
    genre = np.array([g for *_, g, _ in world.BOOKS])
    hp = [i for i, (*_, series) in enumerate(world.BOOKS) if series and series[0] == world.HP]
    noise = np.random.default_rng(0).integers(1, len(genre) + 1, size=bundle.nbr_ids.shape)
    scrambled = replace(bundle, nbr_ids=np.where(bundle.nbr_ids > 0, noise, 0).astype(np.int32))
    chance = np.mean(genre[:, None] == genre[None])
    for drawn, method in ((scrambled, "pca"), (bundle, "tsne")):
        xy = projection(drawn, method).astype(np.float64)
        assert genre_neighbours(xy, genre) > 4 * chance, method
        pairs = np.linalg.norm(xy[:, None] - xy[None], axis=2)
        assert np.median(pairs[np.ix_(hp, hp)]) < 0.4 * np.median(pairs), method
    links_only = replace(scrambled, out_emb=np.zeros_like(bundle.out_emb))
    assert links_only.learned_vectors() is None
    assert genre_neighbours(projection(links_only, "pca"), genre) < 2 * chance


def test_a_bundle_with_other_vectors_is_another_map(tiny_world):
    """The cache key covers the learned vectors: retrained vectors with the same links are
    not drawn from the old map's cache. A link bundle's key is its links alone (the shipped
    maps stay valid)."""
    bundle = tiny_world.bundle()
    other = replace(bundle, out_emb=bundle.out_emb[:, ::-1].copy())
    assert map_projection.bundle_key(bundle) != map_projection.bundle_key(other)
    link_model = replace(bundle, out_emb=np.zeros_like(bundle.out_emb))
    assert map_projection.bundle_key(link_model) == map_projection.bundle_key(
        SimpleNamespace(nbr_ids=bundle.nbr_ids, nbr_w=bundle.nbr_w, learned_vectors=lambda: None)
    )


def test_regions_without_a_dominant_shelf_get_distinct_names():
    """Two regions whose shelves are all spread thin (each on a fifth of their books) are
    named by those shelves, differently, instead of both "mixed" (which failed outright
    when the second one came)."""
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(c, 0.05, size=(60, 2)) for c in (-0.8, 0.0, 0.8)])
    thin = ["alpha", "beta", "gamma", "delta", "epsilon"]
    shelves = [["fantasy"]] * 60 + [[thin[i % 5]] for i in range(120)]
    labels = [c.label for c in label_clusters(xy, shelves, k=3)]
    assert "mixed" not in labels and len(set(labels)) == 3, labels
    assert "fantasy" in labels
