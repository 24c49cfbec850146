"""What a reader sees at the top of their list: famous books over taste, and the next book
of a series they loved. An audit of final lists (the app's `recommend`, top 10), side by
side for several bundles; no accuracy metric, which would reward ranking famous books a
reader has read but not entered (the offline protocols hide part of a library).

Per bundle and reader group, averaged over readers:

* famous: share of the 10 slots held by the catalogue's 100 most-rated books on Goodreads
  (the top 1 %);
* lift: median log10 Goodreads ratings count of the 10 books minus that of the reader's own
  rated books (0: the list is as famous as the shelf);
* next@5 / next@10: of the readers who rated a book of a series read in order >= 4 stars
  and have not read its next entry (in the catalogue), the share whose top 5 / 10 holds
  that next entry;
* named / other genre: slots whose reason names a driving rated book, and the share of
  those where that book is by another author and in none of the listed book's genres
  ("loved by readers of X").

Readers: the real Goodreads exports (every matched book, rated or read-unrated, as after
`import`), and goodbooks readers (seeded sample with >= 20 ratings, 10 ratings revealed;
they are in every shipped bundle's training data, so only the lists' shape is judged). Each
group again as a new reader after onboarding, which asks about widely read books: only
their 5 rated books with the most Goodreads ratings revealed.

    python benchmarks/audit_famous.py --data-dir ../shared/goodbooks-10k \
        --exports ../shared/goodreads-exports --model-dir models /tmp/other-bundle

Prints one JSON object: bundle -> group -> the figures above.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FAMOUS_TOP = 100
TOP = 10


def loved_series_next(rec, rated: dict[int, int], read: set[int]) -> set[int]:
    """Next unread entries of ordered series whose book the reader rated >= 4. Written
    apart from ``ListAssembler.continuations`` on purpose: the audit does not measure the
    list rule with the rule (no cap, no disliked-entry exception here)."""
    works = rec.lists.works
    cat = rec.catalogue
    read_rows = {cat.row(b) for b in read}
    implied = works.implied_read(read_rows)
    progress = works.progress(read_rows)
    out = set()
    for book_id, stars in rated.items():
        row = cat.row(book_id)
        sid = int(works.series[row])
        pos = works.position[row]
        if stars < 4 or sid < 0 or np.isnan(pos) or not works.is_ordered(sid):
            continue
        nxt = works.next_entry(sid, float(progress.get(sid, pos)), implied)
        if nxt is not None:
            out.add(int(cat.book_ids[nxt[1]]))
    return out


def most_famous(rec, readers: list[tuple[dict[int, int], list]], n: int = 5) -> list:
    """Each reader with only their ``n`` rated books with the most Goodreads ratings."""
    counts = rec.catalogue.ratings_counts
    out = []
    for rated, _ in readers:
        ids = sorted(rated, key=lambda b: -counts[rec.catalogue.row(b)])[:n]
        out.append(({b: rated[b] for b in ids}, []))
    return out


def audit(rec, readers: list[tuple[dict[int, int], list[int]]]) -> dict:
    """``readers``: (ratings, read-unrated book ids)."""
    counts = np.log10(np.maximum(rec.catalogue.ratings_counts, 1).astype(np.float64))
    famous = set(rec.catalogue.book_ids[np.argsort(-counts)[:FAMOUS_TOP]].tolist())
    shares, lifts, hit5, hit10 = [], [], [], []
    named = other_genre = 0
    for rated, unrated in readers:
        listed = rec.recommend(rated, n=TOP, read=unrated)
        drivers = [(r.book_id, r.because) for r in listed if r.because is not None]
        named += len(drivers)
        other_genre += sum(rec.catalogue.alike(b, d) is False for b, d in drivers)
        recs = [r.book_id for r in listed]
        if not recs:
            continue
        shares.append(sum(b in famous for b in recs) / len(recs))
        own = np.median(counts[rec.catalogue.rows(np.fromiter(rated, np.int64))])
        lifts.append(float(np.median(counts[rec.catalogue.rows(np.array(recs))]) - own))
        wanted = loved_series_next(rec, rated, set(rated) | set(unrated))
        if wanted:
            hit5.append(bool(wanted & set(recs[:5])))
            hit10.append(bool(wanted & set(recs)))
    return {
        "readers": len(shares),
        "famous": round(float(np.mean(shares)), 4),
        "lift": round(float(np.mean(lifts)), 3),
        "series_readers": len(hit10),
        "next@5": round(float(np.mean(hit5)), 4) if hit5 else None,
        "next@10": round(float(np.mean(hit10)), 4) if hit10 else None,
        "named": named,
        "other genre": round(other_genre / named, 4) if named else None,
    }


def goodbooks_readers(rec, data_dir, n: int, seed: int) -> list[tuple[dict[int, int], list]]:
    from bookrec_tui.store.goodbooks import load_dataset

    ratings = load_dataset(data_dir).ratings
    order = np.argsort(ratings.user_ids, kind="stable")
    users, starts, sizes = np.unique(ratings.user_ids[order], return_index=True, return_counts=True)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.flatnonzero(sizes >= 20), size=n, replace=False)
    out = []
    for u in chosen:
        idx = order[starts[u] : starts[u] + sizes[u]]
        idx = rng.permutation(idx)[:10]  # (the famous view picks its 5 from these 10)
        out.append(
            (
                {
                    int(b): int(s)
                    for b, s in zip(ratings.book_ids[idx], ratings.stars[idx], strict=True)
                },
                [],
            )
        )
    return out


def export_readers(rec, exports: Path) -> list[tuple[dict[int, int], list[int]]]:
    from bookrec_tui.evaluation.protocols import RealReaders

    shelves = RealReaders.read(exports, rec.catalogue).shelves(min_rated=5)
    return [
        ({b: s for b, s in shelf.items() if s}, [b for b, s in shelf.items() if not s])
        for shelf in shelves.values()
    ]


def main() -> int:
    from bookrec_tui.core.recommender import Recommender

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--exports", type=Path)
    parser.add_argument("--model-dir", nargs="+", default=["models"])
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {}
    for model_dir in args.model_dir:
        rec = Recommender.load(model_dir=model_dir, data_dir=args.data_dir)
        groups = {
            "goodbooks readers": goodbooks_readers(rec, args.data_dir, args.readers, args.seed)
        }
        if args.exports:
            groups["real readers"] = export_readers(rec, args.exports)
        groups |= {f"{name}, 5 most famous": most_famous(rec, rs) for name, rs in groups.items()}
        results[str(model_dir)] = {name: audit(rec, rs) for name, rs in groups.items()}
        print(model_dir, results[str(model_dir)], file=sys.stderr)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
