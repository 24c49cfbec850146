"""Runs every method of `bookrec-tui evaluate` in one process and prints one table."""

from __future__ import annotations

import numpy as np

from .baselines import EASE, Popularity, SeedFoldIn, gram_matrix, train_seed_model
from .data import load_dataset
from .evaluate import (
    EvalReport,
    cold_start_split,
    evaluate_cold_start,
    save_report,
    seed_split,
    timed,
)
from .interactions import UserItems
from .model import TrainConfig, export_bundle, train_model
from .progress import console, progress_bar
from .scoring import FoldInScorer

EASE_LAMBDAS = (300.0, 1000.0, 3000.0)


def _train_ours(items: UserItems, n_books: int, cfg: TrainConfig, label: str) -> FoldInScorer:
    with progress_bar(f"ours ({label})", None) as update:
        model, _ = train_model(
            items, n_books, cfg, lambda d, t, logs: update(d, t, f"epoch {logs['epoch']}")
        )
    return FoldInScorer(export_bundle(model, items, np.arange(n_books), cfg, {}))


def _seed_model(items: UserItems, n_books: int, label: str) -> np.ndarray:
    owner = np.repeat(np.arange(items.n_users), items.counts)
    with progress_bar(f"seed model ({label})", 10) as update:
        user_emb, book_emb = train_seed_model(
            owner,
            items.rows,
            items.stars,
            items.n_users,
            n_books,
            progress=lambda e, t, logs: update(e, t, f"loss {logs.get('loss', 0):.3f}"),
        )
    return user_emb, book_emb


def run_seed_protocol(dataset, cfg: TrainConfig, report: EvalReport) -> None:
    train, test = seed_split(dataset.ratings)
    cat = dataset.catalogue
    n_books = len(cat)
    items = UserItems.build(train, cat)
    test_rows = cat.rows(test.book_ids)
    test_stars = test.stars.astype(np.float64)
    # CSR user index for test rows (users are the same readers as in training).
    user_pos = np.searchsorted(items.user_ids, test.user_ids)
    known = (user_pos < items.n_users) & (
        items.user_ids[np.minimum(user_pos, items.n_users - 1)] == test.user_ids
    )
    mu = float(train.stars.mean())
    rmse = {"global mean": float(np.sqrt(np.mean((test_stars - mu) ** 2)))}
    with timed(report.timings, "seed protocol: seed model"):
        user_emb, book_emb = _seed_model(items, n_books, "seed split")
    pred = np.where(
        known,
        np.sum(user_emb[np.minimum(user_pos, items.n_users - 1)] * book_emb[test_rows], axis=1),
        mu,
    )  # the seed model has no fold-in: an unseen reader gets the global mean
    rmse["seed model"] = float(np.sqrt(np.mean((np.clip(pred, 1, 5) - test_stars) ** 2)))
    with timed(report.timings, "seed protocol: ours"):
        scorer = _train_ours(items, n_books, cfg, "seed split")
    # A reader whose ratings all fell into the test split is folded in from no ratings.
    owner = np.where(known, user_pos, -1)
    pred = scorer.predict_stars(np.array([], np.int64), np.array([], np.int64), test_rows)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(items.n_users + 1))
    for u in range(items.n_users):
        sel = order[bounds[u] : bounds[u + 1]]
        if len(sel):
            rows, stars = items.user(u)
            pred[sel] = scorer.predict_stars(rows, stars, test_rows[sel])
    rmse["ours (fold-in of train ratings)"] = float(np.sqrt(np.mean((pred - test_stars) ** 2)))
    report.seed_protocol = rmse


def run_cold_start(dataset, cfg: TrainConfig, n_users: int, report: EvalReport) -> None:
    split = cold_start_split(dataset, n_users=n_users)
    cat = dataset.catalogue
    n_books = len(cat)
    items = UserItems.build(split.train, cat)
    methods: dict = {"popularity": Popularity(items, n_books)}
    with timed(report.timings, "cold start: EASE (tuning lambda on validation readers)"):
        gram = gram_matrix(items, n_books)
        best, best_ndcg = None, -1.0
        tuning = {}
        for lam in EASE_LAMBDAS:
            ease = EASE(gram, lam)
            val = evaluate_cold_start({"EASE": ease}, split.validation, ks=(5,))["EASE"][5]
            tuning[lam] = val["ndcg@10"]
            if val["ndcg@10"] > best_ndcg:
                best, best_ndcg = ease, val["ndcg@10"]
        del gram
    report.settings["ease_lambda_validation_ndcg@10_k5"] = tuning
    report.settings["ease_lambda"] = best.lam
    methods[f"EASE (lambda={best.lam:g})"] = best
    with timed(report.timings, "cold start: seed model"):
        _, book_emb = _seed_model(items, n_books, "cold-start split")
    methods["seed model (fold-in)"] = SeedFoldIn(book_emb)
    with timed(report.timings, "cold start: ours"):
        methods["ours"] = _train_ours(items, n_books, cfg, "cold-start split")
    with timed(report.timings, "cold start: scoring"):
        report.cold_start = evaluate_cold_start(methods, split.test)


def run_evaluation(args) -> int:
    cfg = TrainConfig()
    if args.epochs:
        cfg.epochs = args.epochs
    dataset = load_dataset(getattr(args, "data_dir", None))
    report = EvalReport(
        settings={
            "config": cfg.__dict__,
            "heldout_readers": args.users,
            "ratings": len(dataset.ratings),
            "ratings_sha256": dataset.ratings.sha256,
        }
    )
    if not args.skip_seed_protocol:
        run_seed_protocol(dataset, cfg, report)
        console.print(report.table())
    run_cold_start(dataset, cfg, args.users, report)
    save_report(report, args.out)
    print(report.table())
    console.print(f"wrote {args.out}")
    return 0
