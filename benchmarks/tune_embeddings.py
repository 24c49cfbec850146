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
- embeddings + blend x links for each ``--blends``;
- with ``--rating-head``, the rating head (training/rating_head.py) trained on the final
  vectors and the first link table, and the whole model (the blend with the best mean
  NDCG@10 over k = 5 and 10) scored as `evaluate` scores it: NDCG@10, Recall@20 and RMSE.

``--strategy`` says how the book table trains: ``plain`` (training/embeddings.py, Keras'
``fit``, what `train --model embeddings` runs), ``none`` (training/distribute.py's own step
over the tf.data pipeline on one device, what `train --distribute none` runs) or
``mirrored`` (the same under MirroredStrategy over ``--cpus`` logical CPUs). Each epoch's
row carries its training's wall and CPU seconds (not the scoring's), and the last line the
process's peak RSS.

    BOOKREC_DATA_DIR=... python benchmarks/tune_embeddings.py --dim 1024 --epochs 6
    BOOKREC_DATA_DIR=... python benchmarks/tune_embeddings.py --epochs 3 --skip-baselines \
        --blends 64 128 256 --rating-head --strategy mirrored --cpus 2
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from functools import partial

import numpy as np

from bookrec_tui.core.metrics import ndcg_at, recall_at, top_n
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.evaluation.protocols import cold_start_split, evaluate_cold_start
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.baselines import EASE, gram_matrix
from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig, export_arrays
from bookrec_tui.training.embeddings import (
    STAR_WEIGHTS,
    EmbeddingConfig,
    book_vectors,
    train_embeddings,
)
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.links import link_scores, link_table
from bookrec_tui.training.rating_head import train_rating_head


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
    p.add_argument("--strategy", choices=("plain", "none", "mirrored"), default="plain")
    p.add_argument("--cpus", type=int, default=2, help="logical CPUs for --strategy mirrored")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--rating-head", action="store_true", help="also train and score the head")
    args = p.parse_args()
    trainer = train_embeddings
    if args.strategy != "plain":
        from bookrec_tui.training.distribute import fit_embeddings, make_strategy, split_cpu

        if args.strategy == "mirrored":
            split_cpu(args.cpus)  # before TensorFlow starts
        trainer = partial(fit_embeddings, strategy=make_strategy(args.strategy))
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
    cfg = EmbeddingConfig(dim=args.dim, epochs=args.epochs, seed=args.seed)
    win = np.asarray(cfg.input_star_weight, np.float32)
    clock = {"wall": time.perf_counter(), "cpu": time.process_time()}

    def on_epoch(epoch, model):
        trained = {
            "train_wall_s": round(time.perf_counter() - clock["wall"], 1),
            "train_cpu_s": round(time.process_time() - clock["cpu"], 1),
        }
        a = book_vectors(model)
        emit(
            method=f"embeddings alone (d={args.dim})",
            strategy=args.strategy,
            epoch=epoch + 1,
            **trained,
            **ranking_figures(lambda r, s: a @ (win[s] @ a[r]), val),
        )
        clock.update(wall=time.perf_counter(), cpu=time.process_time())
        return {}

    model, history = trainer(items, np.arange(items.n_users), n, cfg, on_epoch)
    emit(
        method="embedding training",
        strategy=args.strategy,
        seconds=[h["seconds"] for h in history],
        loss=[round(float(h["loss"]), 6) for h in history],
        **{k: history[-1][k] for k in ("replicas", "loss_form") if k in history[-1]},
    )
    a = book_vectors(model)
    blended = {}
    for (m, c), (ids, lw) in tables.items():
        for blend in args.blends:

            def score(r, s, ids=ids, lw=lw, blend=blend):
                return a @ (win[s] @ a[r]) + blend * link_scores(ids, lw, r, w[s])

            figures = ranking_figures(score, val)
            blended[m, c, blend] = np.mean([f["ndcg@10"] for f in figures.values()])
            emit(method=f"embeddings + {blend:g} x links (m={m}, candidates={c})", **figures)
    if args.rating_head and blended:
        m, c, blend = max(blended, key=blended.get)
        whole = EmbeddingModelConfig(seed=args.seed)
        head, head_history = train_rating_head(
            items, np.arange(items.n_users), a, win, tables[m, c][0], whole.rating
        )
        bundle = export_arrays(
            a, tables[m, c], blend, head, whole, float(head.mu), dataset.catalogue.book_ids
        )
        figures = evaluate_cold_start({"model": FoldInScorer(bundle)}, val, ks=(5, 10))["model"]
        emit(
            method=f"embeddings + {blend:g} x links (m={m}, candidates={c}) + rating head",
            head_seconds=head_history[-1]["seconds"],
            **{f"k{k}": {key: round(v, 4) for key, v in f.items()} for k, f in figures.items()},
        )
    emit(peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == "__main__":
    main()
