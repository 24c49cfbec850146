"""Choices behind the final lists, measured on the cold-start split's VALIDATION readers
(never the reported test readers), with our model trained without them:

* read-unrated weight: pseudo-stars a book read without a rating brings to the fold-in
  (readers reveal 10 books: 5 rated, 5 as "read, no opinion");
* "because" threshold: how often the rated book with the largest share of a listed book's
  score really drives it (without that rating the book leaves the top 20), by share;
* with ``--real``: also the lists protocol and trust audit (`bookrec_tui/evaluation/list_audit.py`)
  on those readers, ours (final order as the app shows it) and Goodreads-wide popularity;
* order and stars: blending predicted stars into the final order, what it costs in
  series-aware NDCG@10 and how many adjacent slots it leaves with the lower one predicted
  >= 0.5 star higher.

Prints one JSON object. The trained split bundle is cached in runs/ (first run ~4 min).

    OMP_NUM_THREADS=1 python benchmarks/tune_lists.py --data-dir ../shared/goodbooks-10k
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def split_bundle(dataset, cache: Path):
    from bookrec_tui.core.bundle import Bundle
    from bookrec_tui.evaluation.protocols import cold_start_split
    from bookrec_tui.training.interactions import UserItems
    from bookrec_tui.training.model import TrainConfig, export_bundle, train_model

    split = cold_start_split(dataset)
    if cache.exists():
        return Bundle.load(cache), split
    cat = dataset.catalogue
    items = UserItems.build(split.train, cat)
    cfg = TrainConfig()
    model, _ = train_model(items, len(cat), cfg, None)
    bundle = export_bundle(model, items, np.arange(len(cat)), cfg, {})
    bundle.meta["books_sha256"] = cat.sha256
    cache.parent.mkdir(parents=True, exist_ok=True)
    bundle.save(cache)
    return bundle, split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--readers", type=int, default=600)
    parser.add_argument("--cache", default="runs/split-bundle.npz")
    parser.add_argument(
        "--real",
        metavar="EXPORTS",
        help="instead: real Goodreads readers (a folder of exports) and the shipped bundle "
        "(no training; these readers are also the evaluation's, so this is a check, not tuning)",
    )
    args = parser.parse_args()

    from bookrec_tui.core.listing import ReaderBooks
    from bookrec_tui.core.metrics import ndcg_at, top_n
    from bookrec_tui.core.recommender import Recommender
    from bookrec_tui.evaluation.list_audit import series_relevant
    from bookrec_tui.store.goodbooks import load_dataset

    dataset = load_dataset(args.data_dir)
    if args.real:
        from bookrec_tui.core.bundle import Bundle
        from bookrec_tui.core.recommender import default_bundle_path
        from bookrec_tui.evaluation.protocols import RealReaders

        rec = Recommender(Bundle.load(default_bundle_path()), dataset.catalogue)
        libraries = RealReaders.read(Path(args.real), dataset.catalogue).libraries()
        readers = [
            (rows[o], stars[o])
            for rows, stars in libraries.values()
            for o in (np.random.default_rng(rep).permutation(len(rows)) for rep in range(5))
        ]
        out: dict = {"real_readers": len(libraries), "orders": len(readers)}
        from bookrec_tui.core.recommender import STAR_BLEND
        from bookrec_tui.evaluation.list_audit import evaluate_lists
        from bookrec_tui.training.baselines import CataloguePopularity

        popularity = CataloguePopularity(dataset.catalogue)
        methods = {
            "ours (shipped bundle)": (rec.scorer.rank_scores, rec.scorer.predict_stars),
            "popularity (Goodreads-wide)": popularity.rank_scores,
        }
        out["lists (k=10, top 20): series-aware protocol and trust audit"] = evaluate_lists(
            methods, readers, rec.lists, star_blend=STAR_BLEND
        )
    else:
        bundle, split = split_bundle(dataset, Path(args.cache))
        rec = Recommender(bundle, dataset.catalogue)
        readers = [(r, s) for r, s in split.validation if len(r) >= 20][: args.readers]
        out = {"validation_readers": len(readers)}
    works, lists, scorer = rec.catalogue.works, rec.lists, rec.scorer

    # --- read-unrated pseudo-stars
    weights: dict = {}
    for pseudo in (None, 2, 3, 4, 5):
        ndcgs = []
        for rows, stars in readers:
            rated, read = rows[:5], rows[5:10]
            relevant = series_relevant(works, rows[:10], rows[10:], stars[10:])
            if not relevant:
                continue
            fold_rows, fold_stars = rated, stars[:5]
            if pseudo is not None:
                fold_rows = np.concatenate([rated, read])
                fold_stars = np.concatenate([stars[:5], np.full(5, pseudo)])
            scores = scorer.rank_scores(fold_rows, fold_stars).astype(np.float64)
            shown = [b.row for b in lists.assemble(scores, ReaderBooks.of(rows[:10]), 20)]
            ndcgs.append(ndcg_at(np.array(shown), relevant, 10))
        weights["ignored" if pseudo is None else f"{pseudo} stars"] = round(
            float(np.mean(ndcgs)), 4
        )
    out["read_unrated_ndcg@10 (5 rated + 5 read, series-aware, final lists)"] = weights

    # --- because: does the top-share book drive the recommendation?
    bins = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.01])
    driven = np.zeros(len(bins) - 1)
    total = np.zeros(len(bins) - 1)
    for rows, stars in readers[:300]:
        rows, stars = rows[:10], stars[:10]
        scores = scorer.rank_scores(rows, stars).astype(np.float64)
        shown = np.array([b.row for b in lists.assemble(scores, ReaderBooks.of(rows), 10)])
        contrib = np.maximum(scorer.contributions(rows, stars, shown), 0.0)
        liked = np.flatnonzero(stars >= 3)
        if len(liked) == 0:
            continue
        for col, target in enumerate(shown):
            best = liked[contrib[liked, col].argmax()]
            share = contrib[best, col] / max(contrib[:, col].sum(), 1e-12)
            keep = np.arange(len(rows)) != best
            without = scorer.rank_scores(rows[keep], stars[keep]).astype(np.float64)
            drops = target not in top_n(without, rows[keep], 20)
            b = min(np.searchsorted(bins, share, side="right") - 1, len(total) - 1)
            total[b] += 1
            driven[b] += drops
    out["because: share of the score -> listed books that leave the top 20 without it"] = {
        f"{bins[i]:.1f}-{min(bins[i + 1], 1.0):.1f}": {
            "books": int(total[i]),
            "driven": round(float(driven[i] / total[i]), 3) if total[i] else None,
        }
        for i in range(len(total))
    }

    # --- order vs stars
    blends: dict = {}
    for beta in (0.0, 0.25, 0.5, 1.0):
        ndcgs, inversions, pairs = [], 0, 0
        for rows, stars in readers:
            rev, rs = rows[:10], stars[:10]
            relevant = series_relevant(works, rev, rows[10:], stars[10:])
            scores = scorer.rank_scores(rev, rs).astype(np.float64)
            listed = lists.assemble(scores, ReaderBooks.of(rev), 20)
            shown = np.array([b.row for b in listed])
            pred = scorer.predict_stars(rev, rs, shown)
            raw = np.array([b.score for b in listed])
            z = (raw - raw.mean()) / max(raw.std(), 1e-9)
            zp = (pred - pred.mean()) / max(pred.std(), 1e-9)
            order = np.argsort(-(z + beta * zp), kind="stable")
            shown, pred = shown[order], pred[order]
            if relevant:
                ndcgs.append(ndcg_at(shown, relevant, 10))
            inversions += int(np.sum(pred[1:] - pred[:-1] >= 0.5))
            pairs += len(pred) - 1
        blends[f"beta={beta}"] = {
            "ndcg@10": round(float(np.mean(ndcgs)), 4),
            "adjacent slots where the lower is >= 0.5 star higher": round(inversions / pairs, 4),
        }
    out["order: z(score) + beta * z(predicted stars) within the final top 20"] = blends
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
