"""Throughput of the UCSD Goodreads loader (bookrec_tui/store/bookgraph.py) on generated files in
the published format, since the real files are not on this machine.

    python benchmarks/bench_bookgraph.py [--books 100000] [--editions 1.5] [--rows 5000000]

Writes goodreads_interactions.csv, book_id_map.csv, goodreads_books.json.gz (each line
padded with a description and similar_books, like the real ~3.5 KB lines),
goodreads_book_works.json.gz and goodreads_book_authors.json.gz to a temporary folder, then
times parse_bookgraph in a fresh process and prints one JSON object: seconds per stage
total, rows per second, and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stats import run_header  # benchmarks/stats.py (beside this script)

FILLER = "A story of " + "words " * 300  # real book lines carry a long description


def write_files(folder: Path, n_works: int, editions: float, rows: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n_books = int(n_works * editions)
    work_of = np.concatenate([np.arange(n_works), rng.integers(0, n_works, n_books - n_works)])
    book_ids = rng.choice(np.arange(1, 40_000_000), n_books, replace=False)
    (folder / "book_id_map.csv").write_text(
        "book_id_csv,book_id\n" + "".join(f"{i},{b}\n" for i, b in enumerate(book_ids))
    )
    with gzip.open(folder / "goodreads_books.json.gz", "wt", compresslevel=1) as handle:
        for i in range(n_books):
            record = {
                "isbn": "",
                "series": [],
                "language_code": "eng",
                "popular_shelves": [
                    {"count": str(c), "name": n}
                    for n, c in (("to-read", 90), ("fantasy", 40), ("fiction", 30))
                ],
                "average_rating": "3.9",
                "similar_books": [str(x) for x in rng.integers(1, 10**7, 18)],
                "description": FILLER,
                "authors": [{"author_id": str(int(work_of[i]) % 50_000), "role": ""}],
                "publication_year": "2001",
                "book_id": str(book_ids[i]),
                "ratings_count": str(int(rng.integers(0, 1000))),
                "work_id": str(int(work_of[i]) + 1),
                "title": f"Book {i} (Saga, #{i % 5 + 1})",
                "title_without_series": f"Book {i}",
            }
            handle.write(json.dumps(record) + "\n")
    with gzip.open(folder / "goodreads_book_works.json.gz", "wt", compresslevel=1) as handle:
        first = {}
        for i in range(n_books):
            first.setdefault(int(work_of[i]), int(book_ids[i]))
        for w in range(n_works):
            handle.write(
                json.dumps(
                    {
                        "work_id": str(w + 1),
                        "best_book_id": str(first[w]),
                        "original_title": f"Work {w}",
                        "original_publication_year": "1999",
                        "ratings_count": "10",
                        "ratings_sum": "39",
                        "rating_dist": "5:3|4:4|3:2|2:1|1:0|total:10",
                    }
                )
                + "\n"
            )
    with gzip.open(folder / "goodreads_book_authors.json.gz", "wt", compresslevel=1) as handle:
        for a in range(50_000):
            handle.write(json.dumps({"author_id": str(a), "name": f"Author {a}"}) + "\n")
    zipf = 1.0 / np.arange(1, n_books + 1)
    books = rng.choice(n_books, rows, p=zipf / zipf.sum())
    users = np.sort(rng.integers(0, max(rows // 100, 1), rows))
    is_read = (rng.random(rows) < 0.5).astype(np.int8)
    rating = np.where(is_read > 0, rng.integers(0, 6, rows), 0)
    with open(folder / "goodreads_interactions.csv", "w") as handle:
        handle.write("user_id,book_id,is_read,rating,is_reviewed\n")
        block = 1_000_000
        for lo in range(0, rows, block):
            sl = slice(lo, lo + block)
            lines = np.char.add(
                np.char.add(users[sl].astype(str), ","),
                np.char.add(
                    np.char.add(books[sl].astype(str), ","),
                    np.char.add(
                        np.char.add(is_read[sl].astype(str), ","),
                        np.char.add(rating[sl].astype(str), ",0"),
                    ),
                ),
            )
            handle.write("\n".join(lines.tolist()) + "\n")
    return {
        "works": n_works,
        "editions": n_books,
        "interaction_rows": rows,
        "bytes": {p.name: p.stat().st_size for p in folder.iterdir()},
    }


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from bookrec_tui.store.bookgraph import Subsample, parse_bookgraph
stages, state = {}, {"stage": "start", "at": time.perf_counter()}
def progress(msg):  # the time until the next message belongs to this message's stage
    now = time.perf_counter()
    stages[state["stage"]] = stages.get(state["stage"], 0.0) + now - state["at"]
    state["stage"], state["at"] = " ".join(msg.split(" ")[:3]), now
import pandas  # imported by the loader; not counted as loading
t = time.perf_counter()
state["at"] = t
g = parse_bookgraph(Path(sys.argv[1]), Subsample(max_books=int(sys.argv[2]) or None), progress)
total = time.perf_counter() - t
progress("end")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
stages = {k: round(v, 1) for k, v in stages.items()}
print(json.dumps({"seconds": round(total, 1), "stages_s": stages, "stats": g.stats,
                  "peak_rss_mb": peak}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--books", type=int, default=100_000, help="works")
    parser.add_argument("--editions", type=float, default=1.5, help="editions per work")
    parser.add_argument("--rows", type=int, default=5_000_000, help="interaction rows")
    parser.add_argument("--max-books", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bookgraph-") as tmp:
        t = time.perf_counter()
        files = write_files(Path(tmp), args.books, args.editions, args.rows)
        written = time.perf_counter() - t
        res = subprocess.run(
            [sys.executable, "-c", CHILD, tmp, str(args.max_books)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            print(res.stderr[-2000:], file=sys.stderr)
            return 1
        load = json.loads(res.stdout.strip().splitlines()[-1])
    load["rows_per_s"] = round(args.rows / load["seconds"])
    print(
        json.dumps(
            {
                **run_header(),
                "files": files,
                "write_s": round(written, 1),
                "load": load,
                "writer_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
