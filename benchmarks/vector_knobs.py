"""Training knobs of the book vectors (issue #11), on `train --model embeddings`'s own
validation readers (never test readers, never the real-reader libraries).

The 1,000 validation readers are drawn exactly as ``train_embedding_model`` draws them (same
seed, same shuffle of each library); the vectors train on the other readers with
``EmbeddingConfig``'s defaults and one knob changed; the links are built from those same
training readers (``link_table``, as ``train`` builds the table it chooses the blend with).
Every variant is paired against the vectors trained on the ratings alone (the default
before to-read shelvings came in).

Knobs (each trains the table once, ~65 s on 2 cores):

- ``--dropout P``: ``EmbeddingConfig.input_dropout`` (a share of each reader's ratings hidden
  from the input every step, kept as targets: a denoising objective);
- ``--to-read-weight W``: goodbooks' ``to_read.csv`` shelvings of the training readers added
  to the rows the model must reconstruct (``EmbeddingConfig.to_read_weight``: input weight
  0, target weight W; books the reader rated are left out). to_read counts are not capped
  as the ratings are (median 42 a book, up to 2,772; Spearman 0.61 with Goodreads' counts),
  so they carry which famous books readers go for, which the ratings cannot (every book has
  ~100).

Two views, k = 1, 3, 5 and 10 revealed ratings, NDCG@10 (relevant = hidden books rated >= 4):
``val`` (each library in train's order) and ``valpop`` (each library restricted to books at
Goodreads-count percentile >= 0.7, readers with >= 15 such books, 5 seeded orders: built to
look like real Goodreads libraries, whose books sit at percentile 0.81 on average against
0.51 here). For each vector set: blend 0 (the vectors alone), 128 (today's default choice)
and links first; paired against the ratings-only vectors at 128 (bootstrap 95 % over
reader-cases), then by the revealed books' mean percentile.

    BOOKREC_DATA_DIR=../shared/goodbooks-10k python benchmarks/vector_knobs.py \
        --dropout 0.25 0.5 --to-read-weight 0.3 1.0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bookrec_tui.core.scoring import spread_links
from bookrec_tui.evaluation.paired import bootstrap_interval
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training import embeddings
from bookrec_tui.training.embedding_bundle import (
    LINKS_FIRST,
    EmbeddingModelConfig,
    validation_split,
)
from bookrec_tui.training.interactions import TO_READ, UserItems
from bookrec_tui.training.links import link_table

REVEALS = (1, 3, 5, 10)
BLENDS = (0.0, 128.0, LINKS_FIRST)
PERCENTILE_BINS = ((0.0, 0.5), (0.5, 0.65), (0.65, 0.8), (0.8, 0.9), (0.9, 1.01))
DISCOUNT = 1 / np.log2(np.arange(2, 12))
RATINGS_ONLY = "ratings only"  # the vectors every variant is paired against


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def views(heldout, percentile) -> dict[str, list]:
    """(k, shown rows, shown stars, relevant rows) cases of the two views."""
    out: dict[str, list] = {"val": [], "valpop": []}
    for rows, stars in heldout:
        out["val"] += [(k, rows[:k], stars[:k], rows[k:][stars[k:] >= 4]) for k in REVEALS]
        keep = percentile[rows] >= 0.7
        if keep.sum() >= 15:
            for rep in range(5):
                order = np.random.default_rng(1000 + rep).permutation(int(keep.sum()))
                r, s = rows[keep][order], stars[keep][order]
                out["valpop"] += [(k, r[:k], s[:k], r[k:][s[k:] >= 4]) for k in REVEALS]
    return {name: [c for c in cases if len(c[3])] for name, cases in out.items()}


def ndcg_rows(scores: np.ndarray, cases: list) -> np.ndarray:
    scores = scores.copy()
    for i, (_, shown, _, _) in enumerate(cases):
        scores[i, shown] = -np.inf
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
    return np.array(
        [
            (np.isin(top[i], rel) * DISCOUNT).sum() / DISCOUNT[: min(len(rel), 10)].sum()
            for i, (_, _, _, rel) in enumerate(cases)
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dropout", type=float, nargs="*", default=[])
    p.add_argument("--to-read-weight", type=float, nargs="*", default=[])
    p.add_argument("--epochs", type=int, default=None, help="default: EmbeddingConfig's")
    args = p.parse_args()
    cfg = EmbeddingModelConfig()
    if args.epochs:
        cfg.embeddings.epochs = args.epochs
    dataset = load_dataset(None)
    catalogue, n = dataset.catalogue, len(dataset.catalogue)
    items = UserItems.build(dataset.ratings, catalogue)
    _, train_users, heldout = validation_split(items, cfg)
    train = items.select(train_users)
    started = time.perf_counter()
    link_ids, link_w = link_table(
        train, n, cfg.neighbors, cfg.link_lambda, cfg.star_link_weight, cfg.link_candidates
    )
    emit(phase="links", seconds=round(time.perf_counter() - started, 1))

    variants = {RATINGS_ONLY: (0.0, 0.0)}
    variants |= {f"dropout {d:g}": (d, 0.0) for d in args.dropout}
    variants |= {f"to-read weight {w:g}": (0.0, w) for w in args.to_read_weight}
    shelved = None
    if args.to_read_weight:
        to_read = dataset.to_read_rows()
        if to_read is None:
            raise SystemExit("--to-read-weight needs to_read.csv beside ratings.csv")
        shelved = train.with_shelved(*to_read, TO_READ)
    vectors = {}
    for name, (dropout, to_read_weight) in variants.items():
        cfg.embeddings.input_dropout = dropout
        cfg.embeddings.to_read_weight = to_read_weight
        rows = shelved if to_read_weight else train
        started, cpu = time.perf_counter(), time.process_time()
        model, history = embeddings.train_embeddings(
            rows, np.arange(rows.n_users), n, cfg.embeddings
        )
        vectors[name] = embeddings.book_vectors(model)
        emit(
            variant=name,
            seconds=round(time.perf_counter() - started, 1),
            cpu_seconds=round(time.process_time() - cpu, 1),
            loss=[round(h["loss"], 4) for h in history],
        )

    log_counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1))
    percentile = log_counts.argsort().argsort() / (n - 1)
    in_w = np.asarray(cfg.embeddings.input_star_weight, np.float32)
    link_star = np.asarray(cfg.star_link_weight, np.float32)
    for view, cases in views(heldout, percentile).items():
        ks = np.array([c[0] for c in cases])
        revealed_pct = np.array([percentile[c[1]].mean() for c in cases])
        figures: dict[tuple[str, float], list] = {}
        for start in range(0, len(cases), 256):
            chunk = cases[start : start + 256]
            links = np.stack(
                [
                    spread_links(link_ids[r + 1], link_w[r + 1] * link_star[s][:, None], n)
                    for _, r, s, _ in chunk
                ]
            )
            for name, a in vectors.items():
                part = np.stack([a[r].T @ in_w[s] for _, r, s, _ in chunk]) @ a.T
                for blend in BLENDS:
                    figures.setdefault((name, blend), []).append(
                        ndcg_rows(part + blend * links, chunk)
                    )
        base = np.concatenate(figures[RATINGS_ONLY, 128.0])
        for (name, blend), parts in figures.items():
            values = np.concatenate(parts)
            diff = values - base
            emit(
                view=view,
                variant=name,
                blend=blend,
                cases=len(values),
                **{f"ndcg@10 k={k}": round(float(values[ks == k].mean()), 4) for k in REVEALS},
                pooled=round(float(values.mean()), 4),
                minus_ratings_only_128=round(float(diff.mean()), 4),
                interval=[round(x, 4) for x in bootstrap_interval(diff)],
                by_revealed_percentile={
                    f"{lo:g}-{min(hi, 1):g}": round(float(diff[m].mean()), 4)
                    for lo, hi in PERCENTILE_BINS
                    if (m := (revealed_pct >= lo) & (revealed_pct < hi)).any()
                },
            )


if __name__ == "__main__":
    main()
