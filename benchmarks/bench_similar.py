"""How "more like this" keeps genres and series together, for any bundle.

For every book with a known strongest genre shelf (the map's dominant genres), its 10
nearest books by (a) the app's `similar` scores (links both ways, cosine of the book vectors,
same author) and (b) the cosine of the book vectors alone (`Recommender.unit_embeddings`):
how often they share that shelf; and for every book in a series of >= 2 books, how often
another book of its series is among its 10 nearest. Prints one JSON object.

    python benchmarks/bench_similar.py [--model-dir DIR] [--data-dir DIR] [--books 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--model-dir")
    parser.add_argument("--books", type=int, default=2000, help="books sampled (seed 0)")
    args = parser.parse_args()
    os.environ["BOOKREC_HOME"] = tempfile.mkdtemp(prefix="bookrec-bench-similar-")

    from bookrec_tui.core.recommender import Recommender
    from bookrec_tui.map import regions

    rec = Recommender.load(model_dir=args.model_dir, data_dir=args.data_dir)
    genre, _ = regions.dominant_genres(regions.folded_shelves(rec.catalogue))
    known = np.flatnonzero(genre != genre.max())
    share = np.bincount(genre[known]) / len(known)
    series = np.asarray(rec.catalogue.works.series)  # -1 outside a series
    rng = np.random.default_rng(0)
    sample = rng.choice(known, size=min(args.books, len(known)), replace=False)
    unit = rec.unit_embeddings
    out: dict = {"bundle_model": rec.bundle.meta.get("model", "links"), "books": len(sample)}
    for name, scores in (
        ("similar", rec.similar_scores),
        (
            "cosine of book vectors",
            lambda r: np.where(np.arange(len(unit)) == r, -9.0, unit @ unit[r]),
        ),
    ):
        same_genre, same_series, in_series = [], [], 0
        for row in sample:
            top = np.argpartition(-scores(int(row)), 10)[:10]
            same_genre.append(float(np.mean(genre[top] == genre[row])))
            if series[row] >= 0 and (series == series[row]).sum() > 1:
                in_series += 1
                same_series.append(bool((series[top] == series[row]).any()))
        out[name] = {
            "top10_same_shelf": round(float(np.mean(same_genre)), 3),
            "series_kept_together": round(float(np.mean(same_series)), 3) if same_series else None,
            "books_in_a_series": in_series,
        }
    out["same_shelf_by_chance"] = round(float((share**2).sum()), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
