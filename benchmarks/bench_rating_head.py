"""The embedding model's rating head alone, epoch by epoch, on frozen book vectors and links.

Predicted stars are the one part of `train --model embeddings` that trains after everything
else and cheaply, so its settings are compared without retraining the rest: ``--base``
trains the whole model once on a split (the defaults) and caches its book vectors, links and
blend; each later run trains only the head on them and reports, after every epoch:

* ``--split tutorial``: the tutorial protocol's test RMSE (80/20 random split of all
  ratings, seed 42; every reader folded in from their training ratings, exactly as
  ``evaluate --only tutorial`` computes it);
* ``--split cold-start``: RMSE on the cold-start split's 1,000 validation readers (never its
  test readers) with 5 and 10 revealed ratings, and with a random 80 % revealed (a reader
  known as well as in the tutorial protocol).

Prints one JSON object per epoch, then a summary (CPU seconds and the load average).

    BOOKREC_DATA_DIR=... python benchmarks/bench_rating_head.py --split tutorial --base
    BOOKREC_DATA_DIR=... python benchmarks/bench_rating_head.py --split tutorial \\
        --epochs 8 --weight-decay 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("tutorial", "cold-start"), required=True)
    p.add_argument("--base", action="store_true", help="train everything and cache it")
    p.add_argument("--cache", type=Path, default=Path("runs"), help="folder of the cache")
    p.add_argument("--epochs", type=int)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--max-len", type=int)
    p.add_argument("--max-inputs", type=int)
    args = p.parse_args()

    from bookrec_tui.core.scoring import FoldInScorer
    from bookrec_tui.evaluation.protocols import cold_start_split, tutorial_split
    from bookrec_tui.store.goodbooks import load_dataset
    from bookrec_tui.training.embedding_bundle import (
        EmbeddingModelConfig,
        export_arrays,
        train_embedding_model,
    )
    from bookrec_tui.training.interactions import UserItems, validation_readers
    from bookrec_tui.training.rating_head import train_rating_head

    cfg = EmbeddingModelConfig()
    for value, name in (
        (args.epochs, "epochs"),
        (args.weight_decay, "weight_decay"),
        (args.lr, "learning_rate"),
        (args.max_len, "max_len"),
        (args.max_inputs, "max_inputs"),
    ):
        if value is not None:
            setattr(cfg.rating, name, value)
    load_before = os.getloadavg()
    dataset = load_dataset(None)
    cat, n = dataset.catalogue, len(dataset.catalogue)
    if args.split == "tutorial":
        train, test = tutorial_split(dataset.ratings)
        items = UserItems.build(train, cat)
        evaluate = _tutorial_rmse(items, cat.rows(test.book_ids), test)
    else:
        split = cold_start_split(dataset, n_users=2000)
        items = UserItems.build(split.train, cat)
        evaluate = _validation_rmse(split.validation)
    cache = args.cache / f"rating-head-{args.split}.npz"
    wall, cpu = time.perf_counter(), time.process_time()

    def scorer(vectors, links, blend, head) -> FoldInScorer:
        mu = float(head.mu)
        return FoldInScorer(export_arrays(vectors, links, blend, head, cfg, mu, np.arange(n)))

    if args.base:
        trained = train_embedding_model(items, n, cfg)
        vectors, links, blend = trained.vectors, trained.links, trained.link_blend
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vectors=vectors, ids=links[0], w=links[1], blend=blend)
        history = trained.history
        last = {
            "epoch": cfg.rating.epochs,
            **evaluate(scorer(vectors, links, blend, trained.rating)),
        }
        print(json.dumps(last), flush=True)
    else:
        saved = np.load(cache)
        vectors, links = saved["vectors"], (saved["ids"], saved["w"])
        blend = float(saved["blend"])
        # The head's readers as train_embedding_model has them: its validation readers out.
        val = validation_readers(items, cfg.validation_readers, np.random.default_rng(cfg.seed))
        heads = items.select(np.setdiff1d(np.flatnonzero(items.counts >= 1), val))

        def on_epoch(epoch: int, head) -> dict:
            figures = {"epoch": epoch + 1, **evaluate(scorer(vectors, links, blend, head))}
            print(json.dumps(figures), flush=True)
            return figures

        _, history = train_rating_head(
            heads,
            np.arange(heads.n_users),
            vectors,
            np.asarray(cfg.embeddings.input_star_weight),
            links[0],
            cfg.rating,
            on_epoch=on_epoch,
        )
    head_cfg = cfg.rating
    print(
        json.dumps(
            {
                "split": args.split,
                "base": args.base,
                "head": {
                    k: getattr(head_cfg, k)
                    for k in ("epochs", "weight_decay", "learning_rate", "max_len", "max_inputs")
                },
                "head_cpu_seconds": [
                    r["cpu_seconds"] for r in history if r["phase"] == "rating head"
                ],
                "seconds": round(time.perf_counter() - wall, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "load_before": [round(x, 1) for x in load_before],
                "load_after": [round(x, 1) for x in os.getloadavg()],
            }
        ),
        flush=True,
    )


def _tutorial_rmse(items, test_rows: np.ndarray, test):
    """The tutorial protocol's test RMSE of a scorer (as ``run_tutorial_protocol``)."""
    test_stars = test.stars.astype(np.float64)
    pos = np.searchsorted(items.user_ids, test.user_ids)
    at = np.minimum(pos, items.n_users - 1)
    owner = np.where((pos < items.n_users) & (items.user_ids[at] == test.user_ids), pos, -1)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(-1, items.n_users + 1))
    none = np.array([], np.int64)

    def evaluate(scorer) -> dict:
        sq = 0.0
        for u in range(-1, items.n_users):
            sel = order[bounds[u + 1] : bounds[u + 2]]
            if len(sel):
                rows, stars = items.user(u) if u >= 0 else (none, none)
                pred = scorer.predict_stars(rows, stars, test_rows[sel])
                sq += float(((pred - test_stars[sel]) ** 2).sum())
        return {"tutorial_rmse": round(float(np.sqrt(sq / len(test_stars))), 5)}

    return evaluate


def _validation_rmse(readers: list):
    """RMSE on held-out (rows, stars) readers with 5, 10 and 80 % of them revealed."""

    def evaluate(scorer) -> dict:
        out = {}
        for name in ("k5", "k10", "80%"):
            sq, count = 0.0, 0
            for rows, stars in readers:
                k = {"k5": 5, "k10": 10}.get(name) or int(round(0.8 * len(rows)))
                pred = scorer.predict_stars(rows[:k], stars[:k], rows[k:])
                sq += float(((pred - stars[k:]) ** 2).sum())
                count += len(rows) - k
            out[f"rmse_{name}"] = round(float(np.sqrt(sq / count)), 5)
        return out

    return evaluate


if __name__ == "__main__":
    main()
