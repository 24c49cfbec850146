"""How "more like this" keeps genres and series together, how far it follows readers, and
how much it leans on the books everyone reads; for any bundle.

Seed books are drawn apart from the ones the weights were chosen on (``--seeds tune``: 300
random books and the even-ranked of the 400 most-rated; ``--seeds report``, the default:
``--books`` other random books and the odd-ranked of the 400 most-rated). For each seed
set, the 10 books the app's ``similar`` scores rank first (before the series and author
caps) and, for comparison, the 10 nearest by the cosine of the book vectors alone:

- ``top10_same_shelf``: share of them whose strongest shelf (the map's dominant genres) is
  the seed's. Partly circular since the score uses the genre shelvings itself.
- ``heldout_shelf``: the genres split in two halves (alternate columns of the catalogue's
  genre counts); the score sees one half of the shelf evidence and the share is measured
  on the strongest genre of the other half (both ways, averaged); not circular.
- ``co_liked``: among readers who rated the seed >= 4, the share who rated each of the 10
  >= 4 too (averaged); ``like_lift``: that share over the share of all readers who rated
  them >= 4 (1.0: no better than those books' popularity). Behavioural, but from the same
  ratings the model's links were trained on (in-sample for the links).
- ``popularity_rank``: the mean rank of the 10 by Goodreads ratings count (1 = the most
  rated book; higher is less "everyone's books").
- ``series_kept_together``: for seeds in a series of >= 2 books, how often another book of
  the series is among the 10.

And for the lists the reader sees (``similar(seed, 10)``: series, editions and the author
cap applied), on the seeds among the ``MOST_RATED`` most-rated books and on the others
apart (``lists``):

- ``author_expected``: seeds whose first author has another book the list could show (not
  implied read by the seed, e.g. an earlier entry of its series) averaging
  >= ``WELL_RATED`` stars; ``author_kept``: the share of those whose 10 hold one;
- ``seed_author_places``: how many lists hold 0, 1, 2, 3 books by the seed's author;
  ``one_author_over_2``: the share of lists where one author (any) holds 3 places or more;
- ``same_shelf`` and ``co_liked``: as above, for the 10 listed.

Prints one JSON object.

    python benchmarks/bench_similar.py [--model-dir DIR] [--data-dir DIR] [--books 1000]
        [--seeds report|tune|most-rated]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scratch import scratch_home  # benchmarks/scratch.py (scripts run from this folder)

POPULAR = 400  # the most-rated books, split between tune (even ranks) and report (odd)
TUNE_RANDOM = 300
MIN_LIKERS = 20  # seeds with fewer readers who liked them are left out of co_liked
MOST_RATED = 600  # --seeds most-rated
WELL_RATED = 3.8  # an author's book a reader expects averages at least this many stars


def seed_sets(known: np.ndarray, counts: np.ndarray, books: int) -> dict[str, np.ndarray]:
    popular = np.argsort(-counts, kind="stable")[:POPULAR]
    order = np.random.default_rng(0).permutation(known)
    tune_popular, report_popular = popular[::2], popular[1::2]
    tune_random = order[:TUNE_RANDOM]
    rest = order[TUNE_RANDOM:]
    report_random = rest[~np.isin(rest, popular)][:books]
    return {
        "tune": np.concatenate([tune_random, tune_popular[np.isin(tune_popular, known)]]),
        "report": np.concatenate([report_random, report_popular[np.isin(report_popular, known)]]),
        # Where readers ask "more like this" most; overlaps the tune seeds: not for weights.
        "most-rated": np.argsort(-counts, kind="stable")[:MOST_RATED],
    }


def likes_matrix(data_dir: Path, catalogue) -> sp.csc_matrix:
    """(readers, books) 1 where a reader rated the book >= 4."""
    from bookrec_tui.store.goodbooks import load_ratings

    ratings = load_ratings(data_dir / "ratings.csv")
    liked = ratings.stars >= 4
    readers = np.unique(ratings.user_ids, return_inverse=True)[1]
    rows = catalogue.rows(ratings.book_ids)
    shape = (int(readers.max()) + 1, len(catalogue))
    return sp.csr_matrix(
        (np.ones(int(liked.sum()), dtype=np.float32), (readers[liked], rows[liked])), shape=shape
    ).tocsc()


def half_shelves(rec, half: int) -> np.ndarray:
    """The recommender's shelf vectors made from alternate genre columns only."""
    from bookrec_tui.core.genres import shelf_vectors

    counts = np.asarray(rec.catalogue.genre_counts).copy()
    counts[:, 1 - half :: 2] = 0
    return shelf_vectors(counts)


def top10(scores: np.ndarray) -> np.ndarray:
    return np.argpartition(-scores, 10)[:10]


def measure(
    rec, score: Callable[[int], np.ndarray], seeds: np.ndarray, genre: np.ndarray, likes
) -> dict:
    series = np.asarray(rec.catalogue.works.series)  # -1 outside a series
    counts = rec.catalogue.ratings_counts
    rank = np.empty(len(counts))
    rank[np.argsort(-counts, kind="stable")] = np.arange(1, len(counts) + 1)
    p_like = np.asarray(likes.sum(axis=0)).ravel() / likes.shape[0]
    same, kept, co, lift, pop = [], [], [], [], []
    for row in seeds:
        row = int(row)
        top = top10(score(row))
        same.append(float(np.mean(genre[top] == genre[row])))
        pop.append(float(rank[top].mean()))
        if series[row] >= 0 and (series == series[row]).sum() > 1:
            kept.append(bool((series[top] == series[row]).any()))
        likers = likes[:, row]
        if likers.nnz >= MIN_LIKERS:
            together = (likers.T @ likes[:, top]).toarray().ravel() / likers.nnz
            co.append(float(together.mean()))
            lift.append(float(together.mean() / max(p_like[top].mean(), 1e-12)))
    return {
        "top10_same_shelf": round(float(np.mean(same)), 3),
        "co_liked": round(float(np.mean(co)), 3),
        "like_lift": round(float(np.mean(lift)), 2),
        "popularity_rank": round(float(np.mean(pop))),
        "series_kept_together": round(float(np.mean(kept)), 3) if kept else None,
        "seeds_with_likers": len(co),
        "books_in_a_series": len(kept),
    }


def heldout_shelf(rec, score: Callable[[int], np.ndarray], seeds: np.ndarray) -> float:
    """Score with half the genre columns, measure on the strongest of the other half."""
    counts = np.asarray(rec.catalogue.genre_counts)
    shares = []
    saved = rec.__dict__.get("shelf_vectors")
    # A recommender without shelf vectors (the code before they came in) is measured as is.
    uses_shelves = hasattr(type(rec), "shelf_vectors")
    try:
        for half in (0, 1):
            if uses_shelves:
                rec.__dict__["shelf_vectors"] = half_shelves(rec, half)
            other = counts[:, 1 - half :: 2]
            strongest = np.where(other.max(axis=1) > 0, other.argmax(axis=1), -1)
            for row in seeds:
                row = int(row)
                if strongest[row] < 0:
                    continue
                shares.append(float(np.mean(strongest[top10(score(row))] == strongest[row])))
    finally:
        rec.__dict__.pop("shelf_vectors", None)
        if saved is not None:
            rec.__dict__["shelf_vectors"] = saved
    return round(float(np.mean(shares)), 3)


def listed_authors(rec, seeds: np.ndarray, genre: np.ndarray, likes) -> dict:
    """The author measures of the lists the reader sees (see the module's docstring)."""
    c = rec.catalogue
    codes = c.first_author_codes
    expected = kept = over = 0
    places, same, co = [], [], []
    for row in seeds:
        row = int(row)
        book_id = int(c.book_ids[row])
        top = np.array([c.row(h.book_id) for h in rec.similar(book_id, 10)], dtype=np.int64)
        mine = np.flatnonzero((codes == codes[row]) & (c.average_ratings >= WELL_RATED))
        scores = np.full(len(mine), 1.0)
        scores[mine == row] = -np.inf
        reader = rec.reader_books({book_id: 5})
        shown = rec.lists.assemble(scores, reader, 3, series_cap=2, author_cap=None, rows=mine)
        if any(codes[b.row] == codes[row] for b in shown):
            expected += 1
            kept += bool((codes[top] == codes[row]).any())
        places.append(int((codes[top] == codes[row]).sum()))
        over += int(np.unique(codes[top], return_counts=True)[1].max() > 2)
        same.append(float(np.mean(genre[top] == genre[row])))
        likers = likes[:, row]
        if likers.nnz >= MIN_LIKERS:
            co.append(float(((likers.T @ likes[:, top]).toarray().ravel() / likers.nnz).mean()))
    return {
        "seeds": len(seeds),
        "author_expected": expected,
        "author_kept": round(kept / max(expected, 1), 4),
        "author_missed": expected - kept,
        "seed_author_places": np.bincount(places, minlength=4).tolist(),
        "one_author_over_2": round(over / len(seeds), 3),
        "same_shelf": round(float(np.mean(same)), 3),
        "co_liked": round(float(np.mean(co)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--model-dir")
    parser.add_argument("--books", type=int, default=1000, help="random report seeds (seed 0)")
    parser.add_argument("--seeds", choices=("report", "tune", "most-rated"), default="report")
    args = parser.parse_args()
    scratch_home("bookrec-bench-similar-")

    from bookrec_tui.core.recommender import Recommender
    from bookrec_tui.map import regions
    from bookrec_tui.paths import resolve_data_dir

    rec = Recommender.load(model_dir=args.model_dir, data_dir=args.data_dir)
    likes = likes_matrix(resolve_data_dir(args.data_dir), rec.catalogue)
    genre, _ = regions.dominant_genres(regions.folded_shelves(rec.catalogue))
    known = np.flatnonzero(genre != genre.max())
    share = np.bincount(genre[known]) / len(known)
    seeds = seed_sets(known, rec.catalogue.ratings_counts, args.books)[args.seeds]
    unit = rec.unit_embeddings
    out: dict = {
        "bundle_model": rec.bundle.meta.get("model", "links"),
        "seeds": args.seeds,
        "books": len(seeds),
    }
    for name, scores in (
        ("similar", rec.similar_scores),
        (
            "cosine of book vectors",
            lambda r: np.where(np.arange(len(unit)) == r, -9.0, unit @ unit[r]),
        ),
    ):
        out[name] = measure(rec, scores, seeds, genre, likes)
        out[name]["heldout_shelf"] = heldout_shelf(rec, scores, seeds)
    popular = np.argsort(-rec.catalogue.ratings_counts, kind="stable")[:MOST_RATED]
    most_rated = np.isin(seeds, popular)
    out["lists"] = {
        name: listed_authors(rec, part, genre, likes)
        for name, part in (("others", seeds[~most_rated]), ("most_rated", seeds[most_rated]))
        if len(part)
    }
    out["same_shelf_by_chance"] = round(float((share**2).sum()), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
