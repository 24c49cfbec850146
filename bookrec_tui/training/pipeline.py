"""tf.data batches of readers from sparse reader rows, for training under tf.distribute.

A reader's row is the books they shelved, held as CSR arrays (:class:`UserItems`: an
``indptr`` per reader, catalogue rows and stars, where star 0 means "read, not rated").
Nothing of size readers x books is ever made: a batch is the batch's readers' ratings
flattened, ``ids`` (catalogue rows), ``readers`` (the reader's position in the batch) and
``stars``; a model densifies a batch itself if it needs to (a (batch, books) scatter).

How readers are split between replicas: each epoch the readers are shuffled by a seed that
every worker shares (a stateless shuffle keyed by (seed, epoch)), cut into global batches of
``per_replica * replicas`` readers, and replica ``r`` takes the ``r``-th slice of every
global batch. Every worker therefore takes the same number of steps (the last global batch
is padded with empty readers: collective all-reduces hang if one worker stops early), and
the union of the replicas' batches is exactly the batch a single device would see, so one
device and N devices train on the same readers in the same steps. Each worker's pipeline
holds the whole CSR (the readers' rows; 9 bytes a rating) and gathers only its own slices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.keras_backend import import_keras

READ_UNRATED = 0  # the star value of a book marked read without a rating


def with_read_unrated(
    items: UserItems, read_user_ids: np.ndarray, read_rows: np.ndarray
) -> UserItems:
    """``items`` with each reader's books marked read without a rating appended to their
    row as star :data:`READ_UNRATED` (readers keep their CSR positions; read-unrated pairs of
    readers not in ``items`` are dropped). ``read_rows`` are catalogue rows."""
    return items.with_shelved(read_user_ids, read_rows, READ_UNRATED)


def steps_per_epoch(n_readers: int, per_replica: int, replicas: int) -> int:
    return max(1, math.ceil(n_readers / (per_replica * replicas)))


def reader_batches(
    items: UserItems,
    readers: np.ndarray,
    per_replica: int,
    replicas: int = 1,
    first_replica: int = 0,
    local_replicas: int = 1,
    seed: int = 0,
    epochs: int | None = None,
):
    """A ``tf.data.Dataset`` of per-replica batches for replicas ``first_replica`` ..
    ``first_replica + local_replicas - 1`` of ``replicas`` (one worker's devices), in step
    order: for each global step, one batch per local replica. ``readers`` are CSR row
    numbers in ``items`` (e.g. the training readers). ``epochs=None`` repeats forever.

    Each element: ``ids`` (int32 catalogue rows), ``readers`` (int32 position 0 ..
    per_replica - 1 of the rating's reader in the batch) and ``stars`` (int32; 0 = read,
    not rated), all of one length, the number of ratings in the batch."""
    tf = _tf()
    n = len(readers)
    steps = steps_per_epoch(n, per_replica, replicas)
    pad = steps * per_replica * replicas - n
    order_all = tf.constant(np.asarray(readers, np.int64))
    indptr = tf.constant(items.indptr.astype(np.int64))
    books = tf.constant(items.rows.astype(np.int32))
    stars = tf.constant(items.stars.astype(np.int8))

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            order_all, seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        order = tf.concat([order, tf.fill([pad], tf.constant(-1, tf.int64))], axis=0)
        grid = tf.reshape(order, [steps, replicas, per_replica])
        mine = grid[:, first_replica : first_replica + local_replicas]
        return tf.data.Dataset.from_tensor_slices(
            tf.reshape(mine, [steps * local_replicas, per_replica])
        )

    def gather(batch):
        valid = batch >= 0
        row = tf.where(valid, batch, 0)
        lo = tf.gather(indptr, row)
        hi = tf.where(valid, tf.gather(indptr, row + 1), lo)  # padding readers: no ratings
        span = tf.ragged.range(lo, hi)
        flat = span.flat_values
        return {
            "ids": tf.gather(books, flat),
            "readers": tf.cast(span.value_rowids(), tf.int32),
            "stars": tf.cast(tf.gather(stars, flat), tf.int32),
        }

    epoch_ids = tf.data.Dataset.range(epochs) if epochs is not None else tf.data.Dataset.counter()
    return (
        epoch_ids.flat_map(epoch_batches)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(2)
    )


def star_weights(
    input_weight: Sequence[float], target_weight: Sequence[float], input_dropout: float = 0.0
) -> Callable[[dict], dict]:
    """A batch map adding ``w_in`` and ``w_out``: each rating's weight in the reader vector
    and in the target, looked up by its stars (index 0: read, not rated); a random
    ``input_dropout`` share of the ratings is hidden from the input (kept as targets)."""
    tf = _tf()
    w_in = tf.constant(np.asarray(input_weight, np.float32))
    w_out = tf.constant(np.asarray(target_weight, np.float32))

    def add(batch: dict) -> dict:
        weight = tf.gather(w_in, batch["stars"])
        if input_dropout:
            keep = tf.random.uniform(tf.shape(weight)) >= input_dropout
            weight = weight * tf.cast(keep, tf.float32)
        return {
            **batch,
            "w_in": weight,
            "w_out": tf.gather(w_out, batch["stars"]),
        }

    return add


def _tf():
    return import_keras()[1]
