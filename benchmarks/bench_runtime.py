"""Runtime benchmarks of the numpy path: load, fold-in + ranking, similar, search, onboarding
questions (next_question), memory.

    python benchmarks/bench_runtime.py [--data-dir DIR] [--model-dir DIR] [--repeat N]

Prints one JSON object (milliseconds unless named otherwise). Needs the data (warm caches:
run once before measuring, the script does a warm-up load itself).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time

import numpy as np
from stats import percentiles  # benchmarks/stats.py (scripts run from this folder)

TYPO_QUERIES = [
    "hary poter",
    "lord of the rngs",
    "hitchikers guide",
    "the hobit",
    "dune",
    "pride and prejudise",
    "to kill a mokingbird",
    "game of throns",
    "catcher in rye",
    "harry potter prisoner azkaban",
    "tolkein",
    "brandon sanderson mistborn",
    "the girl with the dragon tatoo",
    "1984 orwell",
    "gone girl",
    "the martain",
    "name of the wind",
    "hunger gmes",
    "little women",
    "jane eyre",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--model-dir", help="a bundle folder (default: the shipped model)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    from bookrec_tui.core.recommender import Recommender

    import_s = time.perf_counter() - t0
    Recommender.load(
        model_dir=args.model_dir, data_dir=args.data_dir
    )  # warm-up: builds caches if needed
    loads = []
    for _ in range(5):
        t = time.perf_counter()
        rec = Recommender.load(model_dir=args.model_dir, data_dir=args.data_dir)
        loads.append(time.perf_counter() - t)
    t = time.perf_counter()
    rec.search("warm up")
    index_s = time.perf_counter() - t

    rng = np.random.default_rng(0)
    ids = rec.catalogue.book_ids
    out: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "import_s": round(import_s, 3),
        "load": percentiles(loads),
        "search_index_build_s": round(index_s, 3),
    }
    for k in (5, 20, 100):
        times = []
        for _ in range(args.repeat):
            profile = {
                int(b): int(s)
                for b, s in zip(
                    rng.choice(ids, k, replace=False), rng.integers(1, 6, k), strict=True
                )
            }
            t = time.perf_counter()
            rec.recommend(profile, n=20)
            times.append(time.perf_counter() - t)
        out[f"recommend_{k}_ratings"] = percentiles(times)
    times = []
    for b in rng.choice(ids, args.repeat):
        t = time.perf_counter()
        rec.similar(int(b), 10)
        times.append(time.perf_counter() - t)
    out["similar"] = percentiles(times)
    times = []
    for i in range(args.repeat):
        q = TYPO_QUERIES[i % len(TYPO_QUERIES)]
        t = time.perf_counter()
        rec.search(q, 10)
        times.append(time.perf_counter() - t)
    out["search"] = percentiles(times)
    t = time.perf_counter()
    rec.next_question({})  # first call sets up the question picker
    out["next_question_setup_s"] = round(time.perf_counter() - t, 3)
    times = []
    for _ in range(max(args.repeat // 10, 1)):  # onboardings of 10 questions, random answers
        answers: dict[int, int | None] = {}
        for _ in range(10):
            t = time.perf_counter()
            book = rec.next_question(answers)
            times.append(time.perf_counter() - t)
            answers[book] = [None, None, 0, 3, 4, 5][int(rng.integers(6))]
    out["next_question"] = percentiles(times)
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["tensorflow_imported"] = "tensorflow" in sys.modules
    out["load_median_ms"] = round(statistics.median(loads) * 1000, 2)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
