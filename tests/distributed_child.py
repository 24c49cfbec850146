"""One training run under a tf.distribute strategy, in a fresh process (TensorFlow's devices
and a multi-worker cluster are fixed when it starts), for tests/test_distribute.py.

    python tests/distributed_child.py --strategy none|mirrored|multiworker [--cpus N]
                                      --out FILE.npz

Trains a small ELSA-shaped model (a row-normalised book table, a reader = the star-weighted
sum of their books' rows, full-catalogue normalised squared error) on planted readers, and
writes (chief only) the per-epoch losses and the trained book vectors to --out; prints one
JSON line with the run's replicas, workers and whether it was the chief.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from bookrec_tui.training.interactions import UserItems

N_BOOKS, N_READERS, DIM = 60, 400, 8
STAR_WEIGHT = (0.3, 0.1, 0.3, 0.6, 1.0, 1.1)  # index 0: read, not rated


def planted_items(seed: int = 0) -> UserItems:
    """Two camps of 30 books; each reader reads 4-12 books of one camp (and one stray)."""
    rng = np.random.default_rng(seed)
    indptr, rows, stars = [0], [], []
    for r in range(N_READERS):
        camp = r % 2
        n = int(rng.integers(4, 13))
        books = rng.choice(30, n, replace=False) + 30 * camp
        books = np.append(books, rng.integers(0, N_BOOKS))
        books = np.unique(books)
        rows.append(books)
        stars.append(rng.integers(0, 6, len(books)))
        indptr.append(indptr[-1] + len(books))
    return UserItems(
        np.asarray(indptr, np.int64),
        np.concatenate(rows).astype(np.int32),
        np.concatenate(stars).astype(np.int8),
        np.arange(1, N_READERS + 1),
    )


def elsa_spec(dim: int = DIM, learning_rate: float = 0.05):
    """A minimal model of the shape the trainer takes (the real one is training/model.py's)."""
    from bookrec_tui.training.distribute import ModelSpec
    from bookrec_tui.training.keras_backend import import_keras
    from bookrec_tui.training.pipeline import star_weights

    keras, _tf = import_keras()
    from keras import ops

    class TinyElsa(keras.Model):
        def __init__(self, n_books, batch):
            super().__init__()
            self.n_books, self.batch = n_books, batch
            self.books = self.add_weight(
                shape=(n_books, dim), initializer=keras.initializers.GlorotUniform(seed=1)
            )

        def _dense(self, x, w):
            idx = ops.stack([x["readers"], x["ids"]], axis=1)
            return ops.scatter(idx, w, (self.batch, self.n_books))

        def call(self, x):
            a = self.books / ops.norm(self.books, axis=1, keepdims=True)
            rows = ops.take(a, x["ids"], axis=0) * x["w_in"][:, None]
            u = ops.segment_sum(rows, x["readers"], num_segments=self.batch)
            return ops.matmul(u, ops.transpose(a)) - self._dense(x, x["w_in"])

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            target = self._dense(x, x["w_out"])
            t_sq = ops.sum(target * target, axis=1, keepdims=True)
            p_norm = ops.sqrt(ops.sum(y_pred * y_pred, axis=1, keepdims=True) + 1e-12)
            diff = target / ops.sqrt(t_sq + 1e-12) - y_pred / p_norm
            real = ops.cast(t_sq[:, 0] > 0, "float32")
            return ops.sum(ops.sum(diff * diff, axis=1) * real) / ops.maximum(ops.sum(real), 1.0)

    return ModelSpec(
        build=TinyElsa,
        optimizer=lambda: keras.optimizers.Adam(learning_rate),
        features=star_weights(STAR_WEIGHT, STAR_WEIGHT),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="none")
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    from bookrec_tui.training.distribute import fit, make_strategy, split_cpu

    if args.cpus > 1:
        split_cpu(args.cpus)
    strategy = make_strategy(args.strategy)
    items = planted_items()
    fitted = fit(
        items,
        np.arange(items.n_users),
        N_BOOKS,
        elsa_spec(),
        batch_size=args.batch,
        epochs=args.epochs,
        strategy=strategy,
        seed=7,
    )
    if fitted.is_chief and args.out:
        books = np.asarray(fitted.model.books.numpy())
        np.savez(
            args.out,
            losses=np.array([row["loss"] for row in fitted.history]),
            vectors=books / np.linalg.norm(books, axis=1, keepdims=True),
        )
    print(
        json.dumps(
            {
                "replicas": fitted.replicas,
                "workers": fitted.workers,
                "chief": fitted.is_chief,
                "steps_per_epoch": fitted.steps_per_epoch,
                "losses": [row["loss"] for row in fitted.history],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
