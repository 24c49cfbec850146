"""Real readers' to-read shelves: what a reader whose whole library is imported wants next.

The real-reader protocol hides part of a library at random, so a model that ranks famous
books high is rewarded for finding famous books the reader has already read. In the app an
importer's whole library is known and read books are never listed; what the reader wants
then is closer to their Goodreads ``to-read`` shelf. Here each export's whole library goes
in as after `import` (rated books with their stars, read-unrated books as read), the app's
final list (``recommend(n=20)``) comes out, and the relevant books are the ones on the
reader's to-read shelf (in the catalogue, not rated or read).

Readers: exports with >= 20 rated books and >= 5 to-read books in the catalogue. Baseline:
the catalogue's most-rated books on Goodreads that the reader has not read. Deterministic
(no reveal orders): one list per reader and bundle. Differences are paired over readers
against the first bundle, with a seeded bootstrap interval.

    python benchmarks/to_read_shelves.py --exports ../shared/goodreads-exports \
        --model-dir models /tmp/other-bundle

Prints one JSON object: bundle -> mean NDCG@10, Recall@20, per reader, and the paired
difference against the first bundle.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

MIN_RATED = 20
MIN_TO_READ = 5
LIST = 20


def shelves(catalogue, exports: Path) -> dict[str, tuple[dict[int, int], list[int], set[int]]]:
    """Export name -> (ratings, read-unrated book ids, to-read book ids), for the readers the
    protocol keeps."""
    from bookrec_tui.evaluation.protocols import RealReaders
    from bookrec_tui.store.goodreads import TO_READ_SHELVES

    readers = RealReaders.read(exports, catalogue)
    out = {}
    for name, read in readers.shelves(min_rated=MIN_RATED).items():
        wanted = {
            m.book_id
            for m in readers.matches[name]
            if m.book_id is not None
            and m.entry.shelf.strip().lower() in TO_READ_SHELVES
            and not m.entry.rating
        } - set(read)
        if len(wanted) >= MIN_TO_READ:
            ratings = {b: s for b, s in read.items() if s}
            out[name] = (ratings, [b for b, s in read.items() if not s], wanted)
    return out


def score(lists: dict[str, list[int]], readers: dict) -> dict[str, dict[str, float]]:
    from bookrec_tui.core.metrics import ndcg_at, recall_at

    return {
        name: {
            "ndcg@10": ndcg_at(np.array(lists[name]), readers[name][2], 10),
            "recall@20": recall_at(np.array(lists[name]), readers[name][2], LIST),
        }
        for name in readers
    }


def popular_lists(catalogue, readers: dict) -> dict[str, list[int]]:
    from bookrec_tui.evaluation.protocols import most_rated_list

    out = {}
    for name, (ratings, unrated, _) in readers.items():
        seen = set(ratings) | set(unrated)
        out[name] = [b for b in most_rated_list(catalogue, LIST + len(seen)) if b not in seen]
        out[name] = out[name][:LIST]
    return out


def summary(per_reader: dict, base: dict | None) -> dict:
    from bookrec_tui.evaluation.paired import bootstrap_interval

    out: dict = {"per_reader": per_reader}
    for metric in ("ndcg@10", "recall@20"):
        values = np.array([r[metric] for r in per_reader.values()])
        out[metric] = round(float(values.mean()), 4)
        if base is not None:
            diff = values - np.array([base[n][metric] for n in per_reader])
            low, high = bootstrap_interval(diff)
            out[f"{metric} vs first"] = [
                round(float(diff.mean()), 4),
                round(low, 4),
                round(high, 4),
            ]
            out[f"{metric} readers above/below"] = [int((diff > 0).sum()), int((diff < 0).sum())]
    return out


def main() -> int:
    from bookrec_tui.core.recommender import Recommender

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--exports", type=Path, required=True)
    parser.add_argument("--model-dir", nargs="+", default=["models"])
    args = parser.parse_args()
    results: dict = {}
    base = None
    readers = None
    for model_dir in args.model_dir:
        rec = Recommender.load(model_dir=model_dir, data_dir=args.data_dir)
        if readers is None:
            readers = shelves(rec.catalogue, args.exports)
            per = score(popular_lists(rec.catalogue, readers), readers)
            results["popularity (most rated, not read)"] = summary(per, None)
        lists = {
            name: [r.book_id for r in rec.recommend(ratings, n=LIST, read=unrated)]
            for name, (ratings, unrated, _) in readers.items()
        }
        per = score(lists, readers)
        results[str(model_dir)] = summary(per, base)
        base = base or per
        print(
            model_dir,
            {k: v for k, v in results[str(model_dir)].items() if k != "per_reader"},
            file=sys.stderr,
        )
    results["readers"] = {name: len(r[2]) for name, r in (readers or {}).items()}
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
