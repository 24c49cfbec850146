"""Predicted stars on top of frozen book embeddings (Keras 3 ops).

Global mean + book bias + the reader's shrunk star bias + a dot product of book rating
embeddings with a reader rating vector (a projection of the reader's taste, the mean of their
star-weighted book vectors, plus each rated book's "surprise": stars above or below what the
biases expect) + that surprise carried along the book-to-book links. The ranking part (book
vectors, input star weights, link ids) is frozen: the head trains on hidden books' squared
error alone. The numpy runtime computes the same (:meth:`FoldInScorer.predict_stars`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bookrec_tui.progress import ProgressFn
from bookrec_tui.training.embeddings import with_padding_row
from bookrec_tui.training.interactions import UserItems, reveal_split, sample_reveal_counts
from bookrec_tui.training.keras_backend import keras_module


@dataclass
class RatingHeadConfig:
    dim: int = 64
    # 6 epochs with AdamW's decoupled weight decay at 0.5 (each step shrinks every weight
    # by lr x 0.5): without it the head overfits past ~5 epochs (tutorial protocol RMSE
    # 0.8264 at 4 epochs, 0.8358 at 8), with it 6 epochs reach 0.8237; on the cold-start
    # split's validation readers RMSE 0.8726 / 0.8508 at k = 5 / 10 against 0.8760 / 0.8545
    # (docs/benchmarks.md, "The rating head overfits").
    epochs: int = 6
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 0.5
    user_bias_reg: float = 5.0
    # Each epoch shows a reader 1..small_reveal_max ratings with this probability, else
    # 20..90 % of them, and asks for the rest (at most max_len of each).
    small_reveal_prob: float = 0.5
    small_reveal_max: int = 15
    # 64: a step pads every reader to this many inputs and targets, and 93 % of goodbooks
    # readers have fewer ratings; at 200 an epoch took ~3x as long for the same RMSE
    # (cold-start validation readers, k = 10: 0.8553 at 64, 0.8545 at 200, 3 epochs).
    max_len: int = 64
    # At most this many revealed ratings a step (None: max_len): the links' part of a step
    # costs batch x max_inputs x links. 32: 60 against 75 CPU s for the 4 epochs, RMSE on
    # cold-start validation readers 0.8757 / 0.8541 (k = 5 / 10) against 0.8760 / 0.8540
    # at 64 (docs/benchmarks.md, "Training in under 2 minutes").
    max_inputs: int | None = 32
    seed: int = 43


def masked_mse(out_stars, pred):
    """Squared error on the real (non-padding, stars > 0) targets only."""
    from keras import ops

    valid = ops.cast(out_stars > 0, "float32")
    err = (pred - ops.cast(out_stars, "float32")) * valid
    return ops.sum(err * err) / ops.maximum(ops.sum(valid), 1.0)


@functools.cache
def head_class():
    keras = keras_module()
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="bookrec_tui")
    class RatingHead(keras.Model):
        """Inputs: revealed ids, revealed stars, target ids, each (batch, length), id = row
        + 1 (0 = padding). Output: predicted stars of the targets (unclipped)."""

        def __init__(self, n_books, dim, rating_dim, neighbors, user_bias_reg, mu, **kwargs):
            super().__init__(**kwargs)
            self.n_books, self.dim, self.rating_dim = n_books, dim, rating_dim
            self.neighbors, self.user_bias_reg, self.mu = neighbors, user_bias_reg, mu

            def frozen(name, shape, dtype="float32"):
                return self.add_weight(
                    shape=shape, dtype=dtype, trainable=False, initializer="zeros", name=name
                )

            self.books = frozen("books", (n_books + 1, dim))  # row 0: padding
            self.in_w = frozen("in_w", (6,))
            self.nbr_ids = frozen("nbr_ids", (n_books + 1, max(neighbors, 1)), "int32")

            def table(name, width, initializer):
                t = layers.Embedding(
                    n_books + 1, width, embeddings_initializer=initializer, name=name
                )
                t.build((None,))
                return t

            init = keras.initializers.RandomNormal(stddev=0.05, seed=7)
            self.rate_emb = table("rate_emb", rating_dim, init)
            self.rate_in = table("rate_in", rating_dim, "zeros")
            self.item_bias = table("item_bias", 1, "zeros")
            self.nbr_rate = table("nbr_rate", max(neighbors, 1), "zeros")
            self.rate_proj = layers.Dense(rating_dim, use_bias=False, name="rate_proj")
            self.rate_proj.build((None, dim))

        def build_from_config(self, config):
            """The weights are made in ``__init__``: nothing to build when loading."""

        def call(self, inputs):
            in_ids, in_stars, out_ids = inputs
            mask = ops.cast(in_ids > 0, "float32")
            n = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
            weights = ops.take(self.in_w, in_stars) * mask
            # The projection of the taste vector, rate_proj(sum_j w_j A_j / n), taken as
            # sum_j w_j (A rate_proj)_j / n: the gathered rows are rating_dim wide, not d.
            projected = self.rate_proj(self.books)  # (n_books + 1, rating_dim)
            taste = ops.sum(ops.take(projected, in_ids, axis=0) * weights[..., None], axis=1)
            expected = self.mu + self.item_bias(in_ids)[..., 0]
            resid = (ops.cast(in_stars, "float32") - expected) * mask
            b_u = ops.sum(resid, axis=1, keepdims=True) / (
                ops.sum(mask, axis=1, keepdims=True) + self.user_bias_reg
            )
            surprise = (resid - b_u) * mask / ops.sqrt(n)
            u_rate = taste / n + ops.sum(self.rate_in(in_ids) * surprise[..., None], axis=1)
            dot = ops.sum(self.rate_emb(out_ids) * u_rate[:, None, :], axis=-1)
            stars = self.mu + self.item_bias(out_ids)[..., 0] + b_u + dot
            if self.neighbors:
                stars = stars + self._carried(in_ids, out_ids, surprise)
            return stars

        def _carried(self, in_ids, out_ids, surprise):
            """Each target's share of the surprise carried along the rated books' links,
            (batch, targets): sum over (rated book j, link m) with link m of j = the target
            of nbr_rate[j, m] * surprise[j].

            A (batch, books) int grid holds each target's position (0: not a target) and
            every link slot looks its own up, so the sums land in batch x targets buckets:
            the float work and its gradient stay on small arrays (summing into a float
            (batch, books) grid and gathering the targets back cost twice the CPU a step).
            A reader's targets are distinct books; padding targets (id 0) hold position 0.
            """
            in_ids, out_ids = ops.cast(in_ids, "int32"), ops.cast(out_ids, "int32")
            rows, width = ops.shape(out_ids)[0], self.n_books + 1
            n_out = ops.shape(out_ids)[1]
            base = ops.arange(rows, dtype="int32")[:, None] * width
            slot = ops.arange(rows * n_out, dtype="int32") + 1
            slot = ops.where(ops.reshape(out_ids, (-1,)) > 0, slot, 0)
            where = ops.scatter(ops.reshape(base + out_ids, (-1, 1)), slot, (rows * width,))
            ids = ops.take(self.nbr_ids, in_ids, axis=0)  # (B, L, M)
            at = ops.take(where, ops.reshape(base[..., None] + ids, (-1,)), axis=0)
            carried = self.nbr_rate(in_ids) * surprise[..., None]  # (B, L, M)
            sums = ops.segment_sum(ops.reshape(carried, (-1,)), at, rows * n_out + 1)
            return ops.reshape(sums[1:], (rows, n_out))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return masked_mse(y, y_pred)

        def get_config(self):
            return {
                **super().get_config(),
                "n_books": self.n_books,
                "dim": self.dim,
                "rating_dim": self.rating_dim,
                "neighbors": self.neighbors,
                "user_bias_reg": self.user_bias_reg,
                "mu": self.mu,
            }

    return RatingHead


def train_rating_head(
    items: UserItems,
    users: np.ndarray,
    vectors: np.ndarray,
    in_star_weight: np.ndarray,
    link_ids: np.ndarray,
    cfg: RatingHeadConfig,
    progress: ProgressFn | None = None,
    on_epoch: Callable[[int, object], dict] | None = None,
):
    """Train the head on ``users`` with the (n_books, d) ``vectors`` and (n_books + 1, M)
    ``link_ids`` frozen. Returns (head, history); ``on_epoch`` (epoch, head) may add
    figures (validation RMSE) to each epoch's history row."""
    keras = keras_module()
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n_books, dim = vectors.shape
    neighbors = link_ids.shape[1]
    mu = float(items.stars.mean())
    head = head_class()(n_books, dim, cfg.dim, neighbors, cfg.user_bias_reg, mu)
    head.books.assign(with_padding_row(vectors))
    head.in_w.assign(np.asarray(in_star_weight, np.float32))
    if neighbors:
        head.nbr_ids.assign(link_ids.astype(np.int32))
    head.compile(
        optimizer=keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay),
        jit_compile=False,
    )
    usable = users[items.counts[users] >= 2]
    steps = -(-len(usable) // cfg.batch_size)
    history, started, cpu = [], time.perf_counter(), time.process_time()

    class Report(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if progress:
                logs = {"phase": "rating head", "epoch": len(history) + 1, "epochs": cfg.epochs}
                progress(len(history) * steps + batch + 1, cfg.epochs * steps, logs)

    # One batches object for every epoch, given each epoch's reveal split in turn: a fit's
    # tf.data pipeline (``from_generator``) stays registered with TensorFlow after the fit,
    # holding what it reads: with a new object for each fit, every epoch's split stayed
    # resident (+150 MB an epoch at 100k books, 0.7 GB over six).
    data = _epoch_batches(keras, cfg.batch_size)
    for epoch in range(cfg.epochs):
        k = sample_reveal_counts(items.counts, cfg.small_reveal_max, cfg.small_reveal_prob, rng)
        arrays = reveal_split(items, k, rng, cfg.max_len, cfg.max_inputs)
        data.use(arrays, usable[rng.permutation(len(usable))])
        del arrays  # the batches object holds this epoch's split, and only it
        fit = head.fit(data, epochs=1, verbose=0, callbacks=[Report()], shuffle=False)
        history.append(
            {
                "epoch": epoch + 1,
                "phase": "rating head",
                "mse": float(fit.history["loss"][-1]),
                "seconds": round(time.perf_counter() - started, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
            }
        )
        if on_epoch:
            history[-1].update(on_epoch(epoch, head))
    return head, history


def _epoch_batches(keras, batch_size: int):
    """Batches of one epoch's reveal split (:meth:`use` gives the next epoch's), every one
    of the same shapes: Keras fixes a dataset's element shapes from its first batch, and
    one shape is one trace."""

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.arrays: tuple = ()
            self.order = np.zeros(0, np.int64)

        def use(self, arrays: tuple, order: np.ndarray) -> None:
            self.arrays, self.order = arrays, order

        def __len__(self):
            return -(-len(self.order) // batch_size)

        def __getitem__(self, i):
            sel = self.order[i * batch_size : (i + 1) * batch_size]
            if len(sel) < batch_size:  # the last batch: padding readers have no targets
                sel = np.concatenate([sel, np.full(batch_size - len(sel), -1)])
            in_ids, in_stars, out_ids, out_stars = (
                np.where(sel[:, None] >= 0, a[sel], 0) for a in self.arrays
            )
            return (in_ids, in_stars, out_ids), out_stars

    return Batches()
