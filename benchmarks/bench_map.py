"""Book map benchmarks: projections from scratch and from the cache, region naming, the
terminal canvas, the PNG; plus how well the map keeps series and genres together.

    python benchmarks/bench_map.py [--model-dir DIR] [--data-dir DIR] [--skip-tsne]
    python benchmarks/bench_map.py --synthetic 100000 [--dim 256]

``--synthetic N`` measures only the graph of learned vectors at scale: N synthetic book
vectors (store/synthetic.py: genre + author + noise), every book's 10 nearest books
(through the inverted file past 20,000 books) against the exact ones for 500 books, the
spectral step and PCA.

The map is drawn from the bundle's learned book vectors when it has them (the embedding
model: a graph of each book's nearest books by cosine), else from its links; ``"drawn_from"``
says which. For comparison it also projects vectors the map does not draw: the rating head's
book embeddings, and a vectors bundle's learned vectors projected directly (no graph).

Prints one JSON object. Uses a temporary cache directory, so every projection is computed
from scratch once and then read back from the cache. t-SNE and the PNG need the viz extra
(pip install '.[viz]').
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from scratch import scratch_home  # benchmarks/scratch.py (scripts run from this folder)
from stats import percentiles  # benchmarks/stats.py (scripts run from this folder)


def seconds(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 3)


SERIES = ("Harry Potter and the", "(The Dresden Files", "(Discworld", "(The Dark Tower")


def quality(xy: np.ndarray, genre: np.ndarray, titles) -> dict:
    """Series spread (median distance within a series / median distance of random pairs)
    and how often a book's 10 nearest books on the map share its strongest shelf."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(xy), size=(20_000, 2))
    typical = float(np.median(np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)))
    spread = {}
    for marker in SERIES:
        rows = [
            i
            for i, t in enumerate(titles)
            if marker in t and "#" in t and not any(w in t for w in ("Box", "Collection", "Set"))
        ]
        pts = xy[rows]
        d = np.linalg.norm(pts[:, None] - pts[None], axis=2)[np.triu_indices(len(rows), 1)]
        spread[marker] = round(float(np.median(d)) / typical, 3)
    other = genre.max()
    known = np.flatnonzero(genre != other)
    _, nn = cKDTree(xy).query(xy[known], k=11)
    agree = float(np.mean(genre[nn[:, 1:]] == genre[known][:, None]))
    share = np.bincount(genre[known]) / len(known)
    return {
        "series_spread_vs_random_pairs": spread,
        "knn10_same_shelf": round(agree, 3),
        "knn10_same_shelf_by_chance": round(float((share**2).sum()), 3),
    }


def at_scale(n_books: int, dim: int) -> dict:
    """The learned vectors' graph, spectral step and PCA on ``n_books`` synthetic vectors."""
    from bookrec_tui.core.vector_index import cosine_neighbours
    from bookrec_tui.map import projection
    from bookrec_tui.store.synthetic import SyntheticConfig, book_vectors, make_catalogue

    catalogue, *_ = make_catalogue(SyntheticConfig(n_books, seed=0))
    vectors, _ = book_vectors(catalogue, dim)
    out: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "books": n_books,
        "dim": dim,
    }
    (ids, cosines), out["nearest_10_s"] = seconds(lambda: cosine_neighbours(vectors, 10))
    sample = np.random.default_rng(0).choice(n_books, size=500, replace=False)
    exact = vectors[sample] @ vectors.T
    exact[np.arange(len(sample)), sample] = -np.inf
    truth = np.argpartition(-exact, 10, axis=1)[:, :10]
    out["nearest_10_recall_vs_exact"] = round(
        float(
            np.mean(
                [len(np.intersect1d(a, b)) / 10 for a, b in zip(ids[sample], truth, strict=True)]
            )
        ),
        3,
    )
    graph = projection._symmetric(ids, cosines)  # what neighbour_graph builds
    spectral, out["spectral_s"] = seconds(lambda: projection.spectral_vectors(graph))
    _, out["pca_s"] = seconds(lambda: projection.pca_2d(spectral))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--model-dir", help="a bundle other than the shipped one")
    parser.add_argument("--skip-tsne", action="store_true")
    parser.add_argument("--synthetic", type=int, help="books of a synthetic catalogue")
    parser.add_argument("--dim", type=int, default=256, help="with --synthetic")
    args = parser.parse_args()
    scratch_home("bookrec-bench-map-")
    if args.synthetic:
        print(json.dumps(at_scale(args.synthetic, args.dim), indent=2))
        return 0

    from bookrec_tui.core.recommender import Recommender
    from bookrec_tui.map import projection, regions
    from bookrec_tui.map.view import MapView

    rec = Recommender.load(model_dir=args.model_dir, data_dir=args.data_dir)
    bundle, catalogue = rec.bundle, rec.catalogue
    out: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "books": len(catalogue),
        "drawn_from": "links" if bundle.learned_vectors() is None else "learned vectors",
    }
    _, out["graph_and_spectral_vectors_s"] = seconds(lambda: projection.map_vectors(bundle))
    genre, _ = regions.dominant_genres(regions.folded_shelves(catalogue))
    for method in ("pca", "tsne"):
        if method == "tsne" and args.skip_tsne:
            continue
        xy, fresh = seconds(lambda m=method: projection.projection(bundle, m))
        _, cached = seconds(lambda m=method: projection.projection(bundle, m))
        book_map, built = seconds(lambda m=method: regions.build_map(bundle, catalogue, m))
        view = MapView(book_map, marks={"rated": np.arange(20), "recommended": np.arange(20, 40)})
        samples = []
        for i in range(60):
            view.zoom = (1.0, 4.0)[i % 2]
            start = time.perf_counter()
            view.render(118, 32)
            samples.append(time.perf_counter() - start)
        out[method] = {
            "projection_from_scratch_s": fresh,
            "projection_from_cache_s": cached,
            "build_map_cached_s (projection + genres + region names)": built,
            "terminal_render_118x32": percentiles(samples),
            **quality(xy.astype(np.float64), genre, [str(t) for t in catalogue.titles]),
        }
        try:
            from bookrec_tui.map.image import render_png

            png = os.path.join(os.environ["BOOKREC_HOME"], f"{method}.png")
            _, out[method]["png_s"] = seconds(
                lambda b=book_map, p=png: render_png(b, catalogue, p, {2: 5}, [3, 4])
            )
        except projection.MapError as exc:
            out[method]["png_s"] = str(exc)
    # Vectors projected directly, with no graph: what the map would show if it drew them
    # (docs/benchmarks.md explains the choice).
    titles = [str(t) for t in catalogue.titles]
    direct = {"rating_head_embeddings": bundle.rate_emb[1:]}
    learned = bundle.learned_vectors()
    if learned is not None:
        direct["learned_vectors_direct"] = learned
    for name, vectors in direct.items():
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        unit = unit.astype(np.float64)
        out[name] = {
            "pca": quality(
                projection._scaled(projection.pca_2d(unit)).astype(np.float64), genre, titles
            )
        }
        if not args.skip_tsne:
            xy = projection._scaled(projection.tsne_2d(unit)).astype(np.float64)
            out[name]["tsne"] = quality(xy, genre, titles)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
