"""The Keras model: user and book embeddings combined by dot products, trained for ranking.

The seed tutorial's design is two Embedding layers and a dot product trained on star MSE.
Trained only to predict stars it ranks badly (Recall@20 ~0.005 on the cold-start protocol),
so this model keeps the embeddings-and-dot-product core but:

* builds the user embedding from the books the reader rated (a star-modulated bag of book
  embeddings), so a new reader is folded in by the same computation, with no optimisation;
* trains it the way it is used: each step reveals a random part of a training reader's
  ratings and asks the model to find the hidden rest (softmax over all books, weighted by
  how much the reader liked each hidden book), plus an MSE rating head with book and user
  biases for the predicted stars.

TensorFlow is imported only here (and lazily by callers): the app never loads it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .bundle import Bundle
from .interactions import UserItems, reveal_split

ProgressFn = Callable[[int, int, dict], None]


@dataclass
class TrainConfig:
    dim: int = 64
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    alpha: float = 0.5  # ranking user vector = sum / n**alpha
    user_bias_reg: float = 5.0
    rating_weight: float = 1.0  # weight of the star MSE next to the ranking loss
    # How much each hidden book counts as a ranking target, by its stars (index 0 = padding).
    star_target_weight: tuple[float, ...] = (0.0, 0.05, 0.1, 0.35, 1.0, 1.2)
    small_reveal_prob: float = 0.5  # share of steps that reveal 1..small_reveal_max ratings
    small_reveal_max: int = 15
    dropout: float = 0.0  # dropout on the user vector while training
    max_len: int = 200
    seed: int = 42
    extra: dict = field(default_factory=dict)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    return keras, tf


def build_model(n_books: int, cfg: TrainConfig, mu: float):
    """The Keras model. Inputs: revealed ids, revealed stars, target ids (ids = row + 1)."""
    keras, tf = _keras()
    from keras import layers, ops

    init = keras.initializers.RandomNormal(stddev=0.05, seed=cfg.seed)
    zeros = keras.initializers.Zeros()

    @keras.saving.register_keras_serializable(package="bookrec_tui")
    class BookEmbeddingModel(keras.Model):
        def __init__(self, n_books, dim, alpha, user_bias_reg, mu, dropout=0.0, **kwargs):
            super().__init__(**kwargs)
            self.dropout = dropout
            self.drop = layers.Dropout(dropout, seed=cfg.seed)
            self.n_books, self.dim = n_books, dim
            self.alpha, self.user_bias_reg, self.mu = alpha, user_bias_reg, mu
            self.in_emb = layers.Embedding(n_books + 1, dim, embeddings_initializer=init,
                                           name="in_emb")
            self.star_mod = layers.Embedding(6, dim, embeddings_initializer=zeros,
                                             name="star_mod")
            self.out_emb = layers.Embedding(n_books + 1, dim, embeddings_initializer=init,
                                            name="out_emb")
            self.out_bias = layers.Embedding(n_books + 1, 1, embeddings_initializer=zeros,
                                             name="out_bias")
            self.rate_proj = layers.Dense(dim, use_bias=False, name="rate_proj")
            self.rate_emb = layers.Embedding(n_books + 1, dim, embeddings_initializer=init,
                                             name="rate_emb")
            self.item_bias = layers.Embedding(n_books + 1, 1, embeddings_initializer=zeros,
                                              name="item_bias")
            # The ranking head reads whole embedding tables, so build them up front.
            for table in (self.in_emb, self.star_mod, self.out_emb, self.out_bias,
                          self.rate_emb, self.item_bias):
                table.build((None,))
            self.rate_proj.build((None, dim))

        def call(self, inputs, training=False):
            in_ids, in_stars, out_ids = inputs
            mask = ops.cast(in_ids > 0, "float32")
            n = ops.sum(mask, axis=1, keepdims=True)
            v = self.in_emb(in_ids) * (1.0 + self.star_mod(in_stars)) * mask[..., None]
            total = ops.sum(v, axis=1)
            u_rank = self.drop(total / ops.power(ops.maximum(n, 1.0), self.alpha),
                               training=training)
            u_rate = self.rate_proj(total / ops.maximum(n, 1.0))
            resid = (ops.cast(in_stars, "float32") - self.mu - self.item_bias(in_ids)[..., 0])
            b_u = ops.sum(resid * mask, axis=1, keepdims=True) / (n + self.user_bias_reg)
            # Ranking head: dot product of the user vector with every book embedding.
            logits = ops.matmul(u_rank, ops.transpose(self.out_emb.embeddings))
            logits = logits + self.out_bias.embeddings[:, 0][None, :]
            # Rating head: biases plus a dot product, for the target books only.
            dot = ops.sum(self.rate_emb(out_ids) * u_rate[:, None, :], axis=-1)
            stars = self.mu + self.item_bias(out_ids)[..., 0] + b_u + dot
            return logits, stars

        def get_config(self):
            return {**super().get_config(), "n_books": self.n_books, "dim": self.dim,
                    "alpha": self.alpha, "user_bias_reg": self.user_bias_reg, "mu": self.mu,
                    "dropout": self.dropout}

    model = BookEmbeddingModel(n_books, cfg.dim, cfg.alpha, cfg.user_bias_reg, mu, cfg.dropout)
    dummy = np.zeros((1, 1), np.int32)
    model((dummy, dummy, dummy))
    return model


def _sample_reveal_counts(counts: np.ndarray, cfg: TrainConfig, rng) -> np.ndarray:
    """How many of each reader's ratings to reveal this epoch (at least 1, at most n-1)."""
    n = counts.astype(np.int64)
    small = rng.integers(1, cfg.small_reveal_max + 1, size=len(n))
    frac = np.rint(rng.uniform(0.2, 0.9, size=len(n)) * n).astype(np.int64)
    k = np.where(rng.random(len(n)) < cfg.small_reveal_prob, small, frac)
    return np.clip(k, 1, np.maximum(n - 1, 1))


def train_model(
    items: UserItems,
    n_books: int,
    cfg: TrainConfig,
    progress: ProgressFn | None = None,
):
    """Train on ``items`` (readers with >= 2 ratings are used). Returns (keras model, history)."""
    keras, tf = _keras()
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    mu = float(items.stars.mean())
    model = build_model(n_books, cfg, mu)
    optimizer = keras.optimizers.AdamW(learning_rate=cfg.learning_rate,
                                       weight_decay=cfg.weight_decay)
    star_w = tf.constant(cfg.star_target_weight, dtype=tf.float32)
    big = tf.constant(1e9, tf.float32)

    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec, spec])
    def step(in_ids, in_stars, out_ids, out_stars):
        batch = tf.shape(in_ids)[0]
        with tf.GradientTape() as tape:
            logits, pred = model((in_ids, in_stars, out_ids), training=True)
            # Revealed books and the padding id can never be targets: mask them out.
            rows = tf.repeat(tf.range(batch)[:, None], tf.shape(in_ids)[1], axis=1)
            idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(in_ids, [-1])], axis=1)
            seen = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]]), tf.shape(logits))
            logits = logits - big * tf.minimum(seen, 1.0)
            logp = tf.nn.log_softmax(logits, axis=-1)
            w = tf.gather(star_w, out_stars)
            target_logp = tf.gather(logp, out_ids, batch_dims=1)
            wsum = tf.reduce_sum(w, axis=1)
            rank_loss = -tf.reduce_sum(w * target_logp, axis=1) / tf.maximum(wsum, 1e-6)
            has = tf.cast(wsum > 0, tf.float32)
            rank_loss = tf.reduce_sum(rank_loss * has) / tf.maximum(tf.reduce_sum(has), 1.0)
            valid = tf.cast(out_ids > 0, tf.float32)
            err = (pred - tf.cast(out_stars, tf.float32)) * valid
            mse = tf.reduce_sum(err * err) / tf.maximum(tf.reduce_sum(valid), 1.0)
            loss = rank_loss + cfg.rating_weight * mse
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return rank_loss, mse

    usable = np.flatnonzero(items.counts >= 2)
    steps_per_epoch = int(np.ceil(len(usable) / cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs
    history: list[dict] = []
    done = 0
    started = time.perf_counter()
    for epoch in range(cfg.epochs):
        k = _sample_reveal_counts(items.counts, cfg, rng)
        in_ids, in_stars, out_ids, out_stars = reveal_split(items, k, rng, cfg.max_len)
        perm = usable[rng.permutation(len(usable))]
        sums = np.zeros(2)
        for b in range(steps_per_epoch):
            sel = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            li = max(int((in_ids[sel] > 0).sum(axis=1).max()), 1)
            lo = max(int((out_ids[sel] > 0).sum(axis=1).max()), 1)
            r, m = step(in_ids[sel, :li], in_stars[sel, :li], out_ids[sel, :lo],
                        out_stars[sel, :lo])
            sums += (float(r), float(m))
            done += 1
            if progress:
                progress(done, total_steps, {"epoch": epoch + 1, "rank_loss": float(r),
                                             "mse": float(m)})
        history.append({"epoch": epoch + 1, "rank_loss": sums[0] / steps_per_epoch,
                        "mse": sums[1] / steps_per_epoch,
                        "seconds": time.perf_counter() - started})
    return model, history


def export_bundle(model, items: UserItems, book_ids: np.ndarray, cfg: TrainConfig,
                  meta: dict) -> Bundle:
    """Copy the trained weights into a numpy :class:`Bundle` (the runtime never needs TF)."""
    def weights(layer) -> np.ndarray:
        return np.asarray(layer.get_weights()[0], dtype=np.float32)

    return Bundle(
        book_ids=np.asarray(book_ids, dtype=np.int32),
        in_emb=weights(model.in_emb),
        star_mod=weights(model.star_mod),
        out_emb=weights(model.out_emb),
        out_bias=weights(model.out_bias)[:, 0],
        rate_proj=weights(model.rate_proj),
        rate_emb=weights(model.rate_emb),
        item_bias=weights(model.item_bias)[:, 0],
        mu=float(model.mu),
        alpha=cfg.alpha,
        user_bias_reg=cfg.user_bias_reg,
        meta={**meta, "config": asdict(cfg)},
    )
