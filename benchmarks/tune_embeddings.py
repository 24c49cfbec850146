"""The embedding model's choices on cold-start validation readers (never the test readers).

The split is `bookrec-tui evaluate`'s cold-start split (2,000 test and 1,000 validation
readers with >= 20 ratings held out of training); every figure here is on the 1,000
validation readers, 5 and 10 ratings revealed, NDCG@10 and Recall@20 (relevant = hidden books
rated >= 4). Prints one JSON object per line:

- EASE (lambda 1000) and the shipped model's ranking (star-weighted EASE, top-100 links
  per book, links scaled by the rated book's stars);
- the sparse co-count links alone (training/links.py) for each ``--neighbors`` and
  ``--candidates``, with the share of full EASE's top links per book they hold;
- the embedding model alone after every epoch (training/embeddings.py), with seconds;
- embeddings + blend x links for each ``--blends``.

    BOOKREC_DATA_DIR=... python benchmarks/tune_embeddings.py --dim 1024 --epochs 6
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bookrec_tui.core.metrics import ndcg_at, recall_at, top_n
from bookrec_tui.evaluation.protocols import cold_start_split
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.baselines import EASE, gram_matrix
from bookrec_tui.training.embeddings import (
    STAR_WEIGHTS,
    EmbeddingConfig,
    book_vectors,
    train_embeddings,
)
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.links import link_scores, link_table


def ranking_figures(score, readers, reveals=(5, 10)) -> dict:
    out = {}
    for k in reveals:
        ndcg, recall = [], []
        for rows, stars in readers:
            relevant = {int(i) for i in rows[k:][stars[k:] >= 4]}
            if relevant:
                ranked = top_n(score(rows[:k], stars[:k]), rows[:k], 20)
                ndcg.append(ndcg_at(ranked, relevant, 10))
                recall.append(recall_at(ranked, relevant, 20))
        out[f"k{k}"] = {
            "ndcg@10": round(float(np.mean(ndcg)), 4),
            "recall@20": round(float(np.mean(recall)), 4),
        }
    return out


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--neighbors", type=int, nargs="*", default=[100])
    p.add_argument("--candidates", type=int, nargs="*", default=[200], help="books per solve")
    p.add_argument("--blends", type=float, nargs="*", default=[4, 16, 32, 64, 128])
    p.add_argument("--skip-baselines", action="store_true")
    args = p.parse_args()
    dataset = load_dataset(None)
    split = cold_start_split(dataset, n_users=2000)
    items = UserItems.build(split.train, dataset.catalogue)
    n = len(dataset.catalogue)
    val = split.validation
    w = np.asarray(STAR_WEIGHTS, np.float32)
    if not args.skip_baselines:
        ease = EASE(gram_matrix(items, n), 1000.0)
        emit(method="EASE (lambda 1000)", **ranking_figures(ease.rank_scores, val))
        del ease
        b = EASE(gram_matrix(items, n, w), 1000.0).B
        top = np.argpartition(-b, 99, axis=1)[:, :100]
        ease_links = [set(t[b[i, t] > 0].tolist()) for i, t in enumerate(top)]
        shipped = np.zeros_like(b)
        np.put_along_axis(shipped, top, np.maximum(np.take_along_axis(b, top, 1), 0), 1)
        del b
        emit(
            method="shipped ranking (star-weighted EASE, top 100 links)",
            **ranking_figures(lambda r, s: w[s] @ shipped[r], val),
        )
        del shipped
    tables = {}
    for m in args.neighbors:
        for c in args.candidates:
            started = time.perf_counter()
            tables[m, c] = ids, lw = link_table(items, n, m, 1000.0, w, candidates=c)
            seconds = round(time.perf_counter() - started, 1)
            held = (
                {}
                if args.skip_baselines
                else {
                    "share_of_ease_top100": round(
                        sum(len(e & set(ids[i + 1] - 1)) for i, e in enumerate(ease_links))
                        / sum(map(len, ease_links)),
                        4,
                    )
                }
            )
            emit(
                method=f"links alone (m={m}, candidates={c})",
                seconds=seconds,
                **held,
                **ranking_figures(lambda r, s, ids=ids, lw=lw: link_scores(ids, lw, r, w[s]), val),
            )
    cfg = EmbeddingConfig(dim=args.dim, epochs=args.epochs)
    win = np.asarray(cfg.input_star_weight, np.float32)

    def on_epoch(epoch, model):
        a = book_vectors(model)
        emit(
            method=f"embeddings alone (d={args.dim})",
            epoch=epoch + 1,
            **ranking_figures(lambda r, s: a @ (win[s] @ a[r]), val),
        )
        return {}

    model, history = train_embeddings(items, np.arange(items.n_users), n, cfg, on_epoch)
    emit(method="embedding training", seconds=[h["seconds"] for h in history])
    a = book_vectors(model)
    for (m, c), (ids, lw) in tables.items():
        for blend in args.blends:

            def score(r, s, ids=ids, lw=lw, blend=blend):
                return a @ (win[s] @ a[r]) + blend * link_scores(ids, lw, r, w[s])

            emit(
                method=f"embeddings + {blend:g} x links (m={m}, candidates={c})",
                **ranking_figures(score, val),
            )


if __name__ == "__main__":
    main()
