"""`train --model embeddings` stage by stage: CPU and wall seconds per stage and the quality
on the cold-start split's validation readers (never its test readers).

The model trains on the cold-start split's training readers exactly as `bookrec-tui train`
trains on all of them (it holds its own validation readers out to choose the link blend);
then its bundle is scored on the split's 1,000 validation readers: NDCG@10 / Recall@20
with 5 and 10 revealed ratings for the model (embeddings + links at the chosen blend) and
its embeddings alone, and the RMSE of predicted stars. CPU seconds are the process's (all
threads): on a shared machine they compare configurations where wall seconds cannot, so
the load average is printed before and after. Prints one JSON object.

    BOOKREC_DATA_DIR=... python benchmarks/bench_train.py [--dim 1024] [--epochs 3]
        [--batch 1024] [--lr 0.1] [--loss dense|gramian] [--head-epochs 4] ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", default="")
    p.add_argument("--dim", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int, help="readers per embedding step")
    p.add_argument("--lr", type=float, help="the embeddings' Nadam learning rate")
    p.add_argument("--loss", choices=("dense", "gramian"))
    p.add_argument("--matmul-dtype", choices=("bfloat16", "float32"))
    p.add_argument("--popularity-weight", type=float, help="the Goodreads-popularity term")
    p.add_argument(
        "--popularity-lean-weight", type=float, help="the popularity term scaled by the reader"
    )
    p.add_argument("--head-epochs", type=int)
    p.add_argument("--head-batch", type=int)
    p.add_argument("--head-lr", type=float)
    p.add_argument("--head-max-len", type=int)
    p.add_argument("--head-max-inputs", type=int)
    p.add_argument("--intra", type=int, help="TensorFlow intra-op threads")
    p.add_argument("--inter", type=int, help="TensorFlow inter-op threads")
    args = p.parse_args()

    from bookrec_tui.core.scoring import FoldInScorer
    from bookrec_tui.evaluation.protocols import cold_start_split, evaluate_cold_start
    from bookrec_tui.evaluation.run import RankingPart
    from bookrec_tui.store.goodbooks import load_dataset
    from bookrec_tui.training.embedding_bundle import (
        EmbeddingModelConfig,
        export_bundle,
        train_embedding_model,
    )
    from bookrec_tui.training.interactions import UserItems

    if args.intra or args.inter:
        import tensorflow as tf

        if args.intra:
            tf.config.threading.set_intra_op_parallelism_threads(args.intra)
        if args.inter:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    cfg = EmbeddingModelConfig()
    emb, head = cfg.embeddings, cfg.rating
    for value, obj, name in (
        (args.dim, emb, "dim"),
        (args.epochs, emb, "epochs"),
        (args.batch, emb, "batch_size"),
        (args.lr, emb, "learning_rate"),
        (args.loss, emb, "loss"),
        (args.matmul_dtype, emb, "matmul_dtype"),
        (args.popularity_weight, cfg, "popularity_weight"),
        (args.popularity_lean_weight, cfg, "popularity_lean_weight"),
        (args.head_epochs, head, "epochs"),
        (args.head_batch, head, "batch_size"),
        (args.head_lr, head, "learning_rate"),
        (args.head_max_len, head, "max_len"),
        (args.head_max_inputs, head, "max_inputs"),
    ):
        if value is not None:
            setattr(obj, name, value)

    load_before = os.getloadavg()
    dataset = load_dataset(None)
    split = cold_start_split(dataset, n_users=2000)
    n = len(dataset.catalogue)
    items = UserItems.build(split.train, dataset.catalogue)
    wall, cpu = time.perf_counter(), time.process_time()
    trained = train_embedding_model(items, n, cfg, ratings_counts=dataset.catalogue.ratings_counts)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    load_after = os.getloadavg()
    scorer = FoldInScorer(export_bundle(trained, cfg, np.arange(n), {}))
    quality = evaluate_cold_start(
        {"model": scorer, "embeddings": RankingPart(scorer.vector_scores)},
        split.validation,
        ks=(5, 10),
    )
    stages: dict[str, dict] = {}
    for row in trained.history:
        phase = row["phase"]
        stage = stages.setdefault(phase, {})
        if "epoch" in row:  # epoch rows carry the stage's running totals
            stage.update(seconds=row["seconds"], cpu_seconds=row.get("cpu_seconds"))
            stage["epochs"] = row["epoch"]
        else:
            stage.update({k: v for k, v in row.items() if k in ("seconds", "cpu_seconds")})
        if phase == "link blend":
            stage["chosen"] = row["chosen"]
    epochs = [r for r in trained.history if r["phase"] == "embeddings"]
    print(
        json.dumps(
            {
                "label": args.label,
                "embeddings": {k: getattr(emb, k) for k in ("dim", "epochs", "batch_size")}
                | {"lr": emb.learning_rate, "loss": emb.loss, "matmul": emb.matmul_dtype},
                "head": {
                    k: getattr(head, k) for k in ("epochs", "batch_size", "max_len", "max_inputs")
                },
                "train_seconds": round(train_wall, 1),
                "train_cpu_seconds": round(train_cpu, 1),
                "stages": stages,
                "val_ndcg_embeddings_by_epoch": [
                    round(r.get("val_ndcg@10_embeddings", np.nan), 4) for r in epochs
                ],
                "validation": {
                    name: {
                        f"k{k}": {m: round(v, 4) for m, v in figures.items() if v is not None}
                        for k, figures in per_k.items()
                    }
                    for name, per_k in quality.items()
                },
                "load_before": [round(x, 1) for x in load_before],
                "load_after": [round(x, 1) for x in load_after],
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
