"""The Keras model: Embedding layers combined by dot products, built for ranking.

The tutorial model's design is two Embedding layers and a dot product trained on star MSE.
Trained only to predict stars it ranks badly (Recall@20 ~0.005 on the cold-start protocol).
This model keeps the embeddings-and-dot-products core and makes three changes:

* The user is not an embedding row but the books they rated: a star-weighted bag of book
  embeddings, so a new reader is folded in by the same computation, with no optimisation.
* Ranking has two parts that add up: a dot product of that user vector with every book
  embedding, and an item-to-item part: for each rated book, learned weights on its 100
  strongest links to other books (Embedding tables indexed by book; the links and their
  starting weights come from a closed-form item-to-item regression on star-weighted
  co-ratings). Both are trained with a softmax over all books in which a random part of
  each training reader's ratings is revealed and the model must find the rest, each hidden
  book weighted by how much the reader liked it. On held-out validation readers the
  softmax refinement has so far not beaten the closed-form start (early stopping keeps the
  best epoch, which on goodbooks-10k v1 is the start): see models/README.md.
* Predicted stars come from a rating head: global mean, book bias, the reader's shrunk
  bias, a dot product of book embeddings with the reader's rating vector, and the reader's
  surprise on each rated book carried along its links. It trains on hidden books' MSE.

TensorFlow is imported only in training (keras_backend.py, lazily): the app never loads it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass

import numpy as np

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.progress import ProgressFn
from bookrec_tui.training.interactions import (
    UserItems,
    reveal_split,
    sample_reveal_counts,
    validation_readers,
)
from bookrec_tui.training.keras_backend import import_keras


@dataclass
class TrainConfig:
    dim: int = 64
    epochs: int = 2  # joint (ranking + rating) epochs, early-stopped on validation readers
    batch_size: int = 512
    learning_rate: float = 5e-4  # ranking part; gentle, so the closed-form start is refined
    rating_learning_rate: float = 3e-3  # rating head (its own parameters only)
    rating_epochs: int = 6  # extra epochs that train only the rating head
    validation_readers: int = 1000  # held out of training to early-stop the ranking refinement
    weight_decay: float = 1e-4
    alpha: float = 0.5  # ranking user vector = sum / n**alpha
    user_bias_reg: float = 5.0
    rating_weight: float = 1.0  # weight of the star MSE next to the ranking loss
    # How much each hidden book counts as a ranking target, by its stars (index 0 = padding).
    star_target_weight: tuple[float, ...] = (0.0, 0.05, 0.1, 0.35, 1.0, 1.2)
    small_reveal_prob: float = 0.5  # share of steps that reveal 1..small_reveal_max ratings
    small_reveal_max: int = 15
    dropout: float = 0.0  # dropout on the user vector while training
    neighbors: int = 100  # learned item-to-item weights for each book's top co-read books
    ease_lambda: float = 1000.0  # regularisation of the closed form that starts those weights
    neighbor_scale: float = 30.0  # closed-form weights are multiplied by this to start
    train_neighbor_weights: bool = True  # False: keep the closed-form item-to-item weights
    # Weight of a rating by its stars (index 0 unused) in the closed form, and the starting
    # per-star scale of a rated book's item-to-item links.
    star_link_weight: tuple[float, ...] = (0.0, 0.1, 0.3, 0.6, 1.0, 1.1)
    max_len: int = 200
    seed: int = 42


@functools.cache
def model_class():
    """The Keras model class (defined lazily so importing this module needs no TensorFlow)."""
    keras, _tf = import_keras()
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="bookrec_tui")
    class BookEmbeddingModel(keras.Model):
        """Inputs: revealed ids, revealed stars, target ids (ids = catalogue row + 1)."""

        def __init__(
            self,
            n_books,
            dim,
            alpha,
            user_bias_reg,
            mu,
            dropout=0.0,
            seed=42,
            neighbors=0,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.neighbors = neighbors
            self.n_books, self.dim, self.seed = n_books, dim, seed
            self.alpha, self.user_bias_reg, self.mu = alpha, user_bias_reg, mu
            self.dropout = dropout
            self.drop = layers.Dropout(dropout, seed=seed)
            init = keras.initializers.RandomNormal(stddev=0.05, seed=seed)
            zeros = keras.initializers.Zeros()

            def table(name, rows, width, initializer):
                return layers.Embedding(rows, width, embeddings_initializer=initializer, name=name)

            self.in_emb = table("in_emb", n_books + 1, dim, init)
            self.star_mod = table("star_mod", 6, dim, zeros)
            # Zero start: until training earns it, the dot-product part adds nothing (no noise)
            # to the item-to-item ranking it refines.
            self.out_emb = table("out_emb", n_books + 1, dim, zeros)
            self.out_bias = table("out_bias", n_books + 1, 1, zeros)
            self.rate_emb = table("rate_emb", n_books + 1, dim, init)
            self.rate_in = table("rate_in", n_books + 1, dim, zeros)
            self.item_bias = table("item_bias", n_books + 1, 1, zeros)
            self.rate_proj = layers.Dense(dim, use_bias=False, name="rate_proj")
            # Item-to-item head: book j's learned weight for each of its top co-read books
            # (ids fixed from training co-occurrence, weights learned), scaled per star.
            self.nbr_ids = self.add_weight(
                shape=(n_books + 1, neighbors),
                dtype="int32",
                trainable=False,
                initializer="zeros",
                name="nbr_ids",
            )
            self.nbr_w = table("nbr_w", n_books + 1, neighbors, zeros)
            self.star_nbr = table("star_nbr", 6, 1, keras.initializers.Ones())
            # Rating head's item-to-item part: along the same links, how a reader's surprise
            # on book j (stars above or below expectation) carries over to book t.
            self.nbr_rate = table("nbr_rate", n_books + 1, neighbors, zeros)
            # The ranking head reads whole embedding tables, so build them up front.
            for t in (
                self.in_emb,
                self.star_mod,
                self.out_emb,
                self.out_bias,
                self.rate_emb,
                self.rate_in,
                self.item_bias,
                self.nbr_w,
                self.star_nbr,
            ):
                t.build((None,))
            self.rate_proj.build((None, dim))

        def call(self, inputs, training=False, rank=True):
            in_ids, in_stars, out_ids = inputs
            mask = ops.cast(in_ids > 0, "float32")
            n = ops.sum(mask, axis=1, keepdims=True)
            v = self.in_emb(in_ids) * (1.0 + self.star_mod(in_stars)) * mask[..., None]
            total = ops.sum(v, axis=1)
            u_rank = self.drop(
                total / ops.power(ops.maximum(n, 1.0), self.alpha), training=training
            )
            resid = ops.cast(in_stars, "float32") - self.mu - self.item_bias(in_ids)[..., 0]
            resid = resid * mask
            b_u = ops.sum(resid, axis=1, keepdims=True) / (n + self.user_bias_reg)
            # Rating user vector: the taste bag, plus each rated book's embedding weighted by
            # how much more (or less) the reader liked it than expected.
            # (The rating loss trains only the rating head: the taste bag is read, not moved.)
            u_rate = self.rate_proj(ops.stop_gradient(total) / ops.maximum(n, 1.0)) + ops.sum(
                self.rate_in(in_ids) * (resid - b_u)[..., None], axis=1
            ) / ops.sqrt(ops.maximum(n, 1.0))
            # Ranking head: dot product of the user vector with every book embedding.
            # (rank=False skips it: training the rating head alone does not need it.)
            logits = (
                ops.matmul(u_rank, ops.transpose(self.out_emb.embeddings))
                + self.out_bias.embeddings[:, 0][None, :]
                if rank
                else ops.zeros((ops.shape(in_ids)[0], self.n_books + 1))
            )
            # Rating head: biases plus a dot product, for the target books only.
            dot = ops.sum(self.rate_emb(out_ids) * u_rate[:, None, :], axis=-1)
            stars = self.mu + self.item_bias(out_ids)[..., 0] + b_u + dot
            if self.neighbors:
                shape = ops.shape(logits)
                w = self.nbr_w(in_ids) * self.star_nbr(in_stars) * mask[..., None]  # (B, L, M)
                w = w / ops.power(ops.maximum(n, 1.0), self.alpha)[..., None]
                if rank:
                    logits = logits + self._along_links(in_ids, w, shape)
                surprise = (resid - b_u) * mask / ops.sqrt(ops.maximum(n, 1.0))
                w_rate = self.nbr_rate(in_ids) * surprise[..., None]
                import tensorflow as tf

                carried = self._along_links(in_ids, w_rate, shape)
                stars = stars + tf.gather(carried, out_ids, batch_dims=1)
            return logits, stars

        def _along_links(self, in_ids, w, shape):
            """Scatter per-link weights (B, L, M) onto the linked books: (B, n_books + 1)."""
            import tensorflow as tf

            ids = tf.gather(self.nbr_ids, in_ids)  # (B, L, M)
            batch = tf.broadcast_to(tf.range(tf.shape(ids)[0])[:, None, None], tf.shape(ids))
            idx = tf.stack([tf.reshape(batch, [-1]), tf.reshape(ids, [-1])], axis=1)
            return tf.scatter_nd(idx, tf.reshape(w, [-1]), shape)

        def get_config(self):
            return {
                **super().get_config(),
                "n_books": self.n_books,
                "dim": self.dim,
                "alpha": self.alpha,
                "user_bias_reg": self.user_bias_reg,
                "mu": self.mu,
                "dropout": self.dropout,
                "seed": self.seed,
                "neighbors": self.neighbors,
            }

    return BookEmbeddingModel


def build_model(
    n_books: int,
    cfg: TrainConfig,
    mu: float,
    neighbors: tuple[np.ndarray, np.ndarray] | None = None,
):
    model = model_class()(
        n_books, cfg.dim, cfg.alpha, cfg.user_bias_reg, mu, cfg.dropout, cfg.seed, cfg.neighbors
    )
    if neighbors is not None:
        model.nbr_ids.assign(neighbors[0].astype(np.int32))
        # Scaled up so Adam's steps (about the learning rate in size) are small next to them.
        model.nbr_w.embeddings.assign((neighbors[1] * cfg.neighbor_scale).astype(np.float32))
        model.nbr_w.trainable = cfg.train_neighbor_weights
        model.star_nbr.embeddings.assign(np.array(cfg.star_link_weight, np.float32)[:, None])
    dummy = np.zeros((1, 1), np.int32)
    model((dummy, dummy, dummy))
    return model


def neighbor_table(
    items: UserItems, n_books: int, m: int, ease_lambda: float, star_weights=None
) -> tuple[np.ndarray, np.ndarray]:
    """Each book's ``m`` strongest item-to-item links and their starting weights.

    The links and starting weights come from a closed-form item-to-item regression (the
    EASE solution) on the training readers, with each rating weighted by its stars (a book
    rated 1 star says less about what else a reader will like than one rated 5); the Keras
    model then trains them end to end with the rest of the network.
    Returns ids (row + 1, 0 = none) and weights, both (n_books + 1, m).
    """
    from bookrec_tui.training.baselines import EASE, gram_matrix

    ids = np.zeros((n_books + 1, m), dtype=np.int32)
    weights = np.zeros((n_books + 1, m), dtype=np.float32)
    if m == 0:
        return ids, weights
    b = EASE(gram_matrix(items, n_books, star_weights), ease_lambda).B
    k = min(m, n_books - 1)  # a tiny catalogue has fewer books than link slots
    top = np.argpartition(-b, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(b, top, axis=1)
    ids[1:, :k] = np.where(vals > 0, top + 1, 0)
    weights[1:, :k] = np.where(vals > 0, vals, 0.0)
    return ids, weights


def load_keras_model(path):
    """Load a saved ``.keras`` model in Keras' safe mode (no arbitrary code), uncompiled:
    the files hold no optimizer state
    (:func:`bookrec_tui.training.keras_files.save_keras_model`)."""
    keras, _tf = import_keras()
    model_class()
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def train_model(
    items: UserItems,
    n_books: int,
    cfg: TrainConfig,
    progress: ProgressFn | None = None,
):
    """Train on ``items`` (readers with >= 2 ratings are used). Returns (keras model, history)."""
    keras, tf = import_keras()
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    mu = float(items.stars.mean())
    links = neighbor_table(items, n_books, cfg.neighbors, cfg.ease_lambda, cfg.star_link_weight)
    model = build_model(n_books, cfg, mu, links)
    rating_layers = (
        model.rate_emb,
        model.rate_in,
        model.rate_proj,
        model.item_bias,
        model.nbr_rate,
    )
    rating_ids = {id(v) for layer in rating_layers for v in layer.trainable_variables}
    rank_vars = [v for v in model.trainable_variables if id(v) not in rating_ids]
    rate_vars = [v for v in model.trainable_variables if id(v) in rating_ids]
    rank_opt = keras.optimizers.AdamW(
        learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    rate_opt = keras.optimizers.AdamW(
        learning_rate=cfg.rating_learning_rate, weight_decay=cfg.weight_decay
    )
    star_w = tf.constant(cfg.star_target_weight, dtype=tf.float32)
    big = tf.constant(1e9, tf.float32)

    spec = tf.TensorSpec([None, None], tf.int32)

    def rating_mse(pred, out_ids, out_stars):
        valid = tf.cast(out_ids > 0, tf.float32)
        err = (pred - tf.cast(out_stars, tf.float32)) * valid
        return tf.reduce_sum(err * err) / tf.maximum(tf.reduce_sum(valid), 1.0)

    def losses(in_ids, in_stars, out_ids, out_stars):
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
            mse = rating_mse(pred, out_ids, out_stars)
            joint = rank_loss + cfg.rating_weight * mse
        return tape, rank_loss, mse, joint

    @tf.function(input_signature=[spec, spec, spec, spec])
    def joint_step(*batch):
        tape, rank_loss, mse, joint = losses(*batch)
        grads = tape.gradient(joint, rank_vars + rate_vars)
        rank_opt.apply_gradients(zip(grads[: len(rank_vars)], rank_vars, strict=True))
        rate_opt.apply_gradients(zip(grads[len(rank_vars) :], rate_vars, strict=True))
        return rank_loss, mse

    @tf.function(input_signature=[spec, spec, spec, spec])
    def rating_step(in_ids, in_stars, out_ids, out_stars):
        with tf.GradientTape() as tape:
            _, pred = model((in_ids, in_stars, out_ids), training=True, rank=False)
            mse = rating_mse(pred, out_ids, out_stars)
        grads = tape.gradient(mse, rate_vars)
        rate_opt.apply_gradients(zip(grads, rate_vars, strict=True))
        return tf.constant(float("nan")), mse

    usable = np.flatnonzero(items.counts >= 2)
    val_users = np.array([], dtype=np.int64)
    if cfg.validation_readers:
        val_users = validation_readers(items, cfg.validation_readers, rng)
        usable = np.setdiff1d(usable, val_users)
    validate = _validator(items, val_users, rng)
    steps_per_epoch = int(np.ceil(len(usable) / cfg.batch_size))
    n_epochs = cfg.epochs + cfg.rating_epochs
    total_steps = steps_per_epoch * n_epochs
    history: list[dict] = []
    done = 0
    started = time.perf_counter()
    best = (validate(model), -1, [v.numpy() for v in rank_vars])
    if best[0] is not None:
        history.append({"epoch": 0, "phase": "start", "val_ndcg@10": best[0]})
    for epoch in range(n_epochs):
        if epoch == cfg.epochs and best[0] is not None:
            # Early stopping: keep the ranking weights of the best validation epoch.
            for var, value in zip(rank_vars, best[2], strict=True):
                var.assign(value)
        # Ranking is refined briefly (it overfits past a few epochs); the rating head then
        # trains on alone, with everything else frozen.
        step = joint_step if epoch < cfg.epochs else rating_step
        k = sample_reveal_counts(items.counts, cfg.small_reveal_max, cfg.small_reveal_prob, rng)
        in_ids, in_stars, out_ids, out_stars = reveal_split(items, k, rng, cfg.max_len)
        perm = usable[rng.permutation(len(usable))]
        sums = np.zeros(2)
        for b in range(steps_per_epoch):
            sel = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            li = max(int((in_ids[sel] > 0).sum(axis=1).max()), 1)
            lo = max(int((out_ids[sel] > 0).sum(axis=1).max()), 1)
            r, m = step(
                in_ids[sel, :li], in_stars[sel, :li], out_ids[sel, :lo], out_stars[sel, :lo]
            )
            sums += (float(r), float(m))
            done += 1
            if progress:
                progress(
                    done, total_steps, {"epoch": epoch + 1, "rank_loss": float(r), "mse": float(m)}
                )
        history.append(
            {
                "epoch": epoch + 1,
                "phase": "joint" if epoch < cfg.epochs else "rating head",
                "rank_loss": sums[0] / steps_per_epoch if epoch < cfg.epochs else None,
                "mse": sums[1] / steps_per_epoch,
                "seconds": time.perf_counter() - started,
            }
        )
        if epoch < cfg.epochs and best[0] is not None:
            score = validate(model)
            history[-1]["val_ndcg@10"] = score
            if score > best[0]:
                best = (score, epoch, [v.numpy() for v in rank_vars])
    if best[0] is not None and cfg.rating_epochs == 0:
        for var, value in zip(rank_vars, best[2], strict=True):
            var.assign(value)
    return model, history


def _validator(items: UserItems, users: np.ndarray, rng):
    """NDCG@10 on held-out training readers with 5 revealed ratings (None if there are none).

    Used for early stopping of the ranking refinement, which overfits after a few epochs.
    """
    from bookrec_tui.core.metrics import ndcg_at, top_n

    if len(users) == 0:
        return lambda model: None
    reveal = 5
    in_ids = np.zeros((len(users), reveal), np.int32)
    in_stars = np.zeros((len(users), reveal), np.int32)
    relevant = []
    for i, u in enumerate(users):
        rows, stars = items.user(int(u))
        perm = rng.permutation(len(rows))
        rows, stars = rows[perm], stars[perm]
        in_ids[i], in_stars[i] = rows[:reveal] + 1, stars[:reveal]
        relevant.append(set(rows[reveal:][stars[reveal:] >= 4].tolist()))

    def validate(model) -> float:
        logits, _ = model((in_ids, in_stars, np.zeros((len(users), 1), np.int32)))
        scores = np.asarray(logits)[:, 1:]  # drop the padding id: columns are catalogue rows
        return float(
            np.mean(
                [
                    ndcg_at(top_n(s, ids - 1, 10), rel, 10)
                    for s, ids, rel in zip(scores, in_ids, relevant, strict=True)
                    if rel
                ]
            )
        )

    return validate


def export_bundle(
    model, items: UserItems, book_ids: np.ndarray, cfg: TrainConfig, meta: dict
) -> Bundle:
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
        rate_in=weights(model.rate_in),
        item_bias=weights(model.item_bias)[:, 0],
        nbr_ids=np.asarray(model.nbr_ids.numpy(), dtype=np.int32),
        nbr_w=weights(model.nbr_w),
        star_nbr=weights(model.star_nbr)[:, 0],
        nbr_rate=weights(model.nbr_rate),
        mu=float(model.mu),
        alpha=cfg.alpha,
        user_bias_reg=cfg.user_bias_reg,
        meta={**meta, "config": asdict(cfg)},
    )
