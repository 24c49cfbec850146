"""The lists a reader reads, side by side for several bundles: a few fixed readers' top 10
(`recommend`, as the app lists them) and "more like this" for a few books, one column per
bundle, so a change of model is read as a reader would read it before any metric is
trusted. No metric: the point is the titles and the reasons.

The readers are the ones the sessions' audits used (docs/benchmarks.md, "Shipping the
embedding model?" and "To-read shelvings as targets"): a reader of Outlander and The
Notebook, one of The Hobbit, The Name of the Wind and Dune, one of Gone Girl, The Girl with
the Dragon Tattoo and The Da Vinci Code; ``--rate`` reads another ("Title=5", repeatable,
one reader). Prints one JSON object (bundle -> reader -> list of "title — reason"), or with
``--text`` the lists as columns of text.

    BOOKREC_DATA_DIR=../shared/goodbooks-10k python benchmarks/read_lists.py \\
        --model-dir models /tmp/emb --text
"""

from __future__ import annotations

import argparse
import json
import textwrap

READERS = {
    "Outlander reader": {"Outlander": 5, "The Notebook": 5, "Fifty Shades of Grey": 4},
    "Hobbit, Name of the Wind, Dune reader": {
        "The Hobbit": 5,
        "The Name of the Wind": 5,
        "Dune": 5,
    },
    "Gone Girl reader": {
        "Gone Girl": 5,
        "The Girl with the Dragon Tattoo": 5,
        "The Da Vinci Code": 4,
    },
}
SEEDS = ("Dune", "The Final Empire", "Pride and Prejudice")


def lists_of(model_dir: str, readers: dict[str, dict[str, int]], n: int) -> dict[str, list[str]]:
    from bookrec_tui.chat.wording import reason
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(model_dir=model_dir)
    out = {}
    for name, rated in readers.items():
        ratings = {rec.resolve(title): stars for title, stars in rated.items()}
        out[name] = [
            f"{r.title} — {reason(r, ratings, rec.catalogue)}" for r in rec.recommend(ratings, n=n)
        ]
    for title in SEEDS:
        out[f"more like {title}"] = [h.title for h in rec.similar(rec.resolve(title), n)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", nargs="+", required=True, help="bundle folders to compare")
    p.add_argument("--rate", action="append", default=[], help='another reader: "Title=5"')
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--text", action="store_true", help="columns of text instead of JSON")
    args = p.parse_args()
    readers = dict(READERS)
    if args.rate:
        readers["--rate reader"] = {
            title: int(stars) for title, stars in (r.rsplit("=", 1) for r in args.rate)
        }
    result = {d: lists_of(d, readers, args.n) for d in args.model_dir}
    if not args.text:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    width = max(30, 150 // len(result))
    for name in next(iter(result.values())):
        print(f"\n== {name}")
        print("".join(d[-width + 1 :].ljust(width) for d in result))
        for i in range(args.n):
            cells = [
                textwrap.shorten(f"{i + 1}. {lists[name][i]}", width - 1)
                if i < len(lists[name])
                else ""
                for lists in result.values()
            ]
            print("".join(c.ljust(width) for c in cells))


if __name__ == "__main__":
    main()
