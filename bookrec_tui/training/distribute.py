"""Training under a tf.distribute strategy: one device, the devices of one machine
(MirroredStrategy), or several machines (MultiWorkerMirroredStrategy, configured by TF_CONFIG).

Keras 3 on the TensorFlow backend keeps tf.distribute: variables a model makes inside
``strategy.scope()`` are mirrored, and a Keras optimizer's ``apply_gradients`` called in a
replica sums the replicas' gradients (an all-reduce) before it updates them. What Keras'
own ``fit`` adds, scaling the loss by 1 / replicas, it does only for losses it computes
itself, not for a model's own ``compute_loss``; so this module runs its own step
(``strategy.run`` over a distributed dataset) and scales each replica's loss by its share of
the global batch's readers. The model is anything :class:`ModelSpec` describes: built from
``(n_books, per_replica_batch)``, called on a batch of :mod:`pipeline` (optionally mapped
by ``features`` first) and scored by ``model.compute_loss(x=batch, y_pred=model(batch))``,
the mean loss over the batch's readers (finite for a batch with no ratings).

Multi-worker: every worker runs the same command with its own TF_CONFIG, reads the same
data and builds the same reader rows; each takes its slices of every global batch
(:func:`pipeline.reader_batches`), all take the same number of steps, and the chief alone
writes the model (see docs/scale.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bookrec_tui.errors import BookrecError
from bookrec_tui.progress import ProgressFn
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.keras_backend import import_keras
from bookrec_tui.training.pipeline import (
    READ_UNRATED,
    reader_batches,
    star_weights,
    steps_per_epoch,
    with_read_unrated,
)

STRATEGIES = ("none", "mirrored", "multiworker")


def split_cpu(n: int) -> None:
    """Split the CPU into ``n`` logical devices, so MirroredStrategy has ``n`` replicas on a
    machine without accelerators (for testing, and to use a CPU's cores as replicas).
    Must run before TensorFlow initialises its devices."""
    _keras, tf = import_keras()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    )


@dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker cluster (TF_CONFIG's cluster and task)."""

    task_type: str
    task_index: int
    size: int  # processes that train: workers, plus the chief if the cluster names one
    has_chief_task: bool

    @property
    def is_chief(self) -> bool:
        """The chief writes the model: the task named "chief", or worker 0 when none is."""
        if self.has_chief_task:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @classmethod
    def from_env(cls, environ=os.environ) -> Cluster:
        raw = environ.get("TF_CONFIG")
        if not raw:
            raise BookrecError(
                "--distribute multiworker needs TF_CONFIG: the cluster's workers and this "
                'process\'s task, e.g. {"cluster": {"worker": ["host1:12345", '
                '"host2:12345"]}, "task": {"type": "worker", "index": 0}} (docs/scale.md).'
            )
        try:
            config = json.loads(raw)
            cluster, task = config["cluster"], config["task"]
            size = len(cluster.get("chief", [])) + len(cluster["worker"])
            task_type, index = str(task["type"]), int(task["index"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BookrecError(
                f"TF_CONFIG is not a cluster and a task ({type(exc).__name__}: {exc}): {raw!r}"
            ) from exc
        if task_type not in cluster or not 0 <= index < len(cluster[task_type]):
            raise BookrecError(f"TF_CONFIG's task {task} is not in its cluster {cluster}.")
        return cls(task_type, index, size, "chief" in cluster)


def make_strategy(kind: str = "none", devices: list[str] | None = None):
    """The tf.distribute strategy ``kind`` names (one of :data:`STRATEGIES`).

    mirrored: every accelerator of this machine, or ``devices`` (e.g. the logical CPUs of
    :func:`split_cpu`); multiworker: the cluster in TF_CONFIG (checked first, so a missing
    or broken one is a clear error, not a hang)."""
    if kind == "multiworker":
        Cluster.from_env()  # before TensorFlow starts: a broken TF_CONFIG fails at once
    _keras, tf = import_keras()
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        if devices is None and not tf.config.list_physical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {kind!r}: one of {', '.join(STRATEGIES)}")


def is_chief(strategy) -> bool:
    """Whether this process writes the outputs (always, except on non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    roles = resolver.cluster_spec().as_dict()
    return Cluster(
        str(resolver.task_type), int(resolver.task_id or 0), 0, "chief" in roles
    ).is_chief


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`fit` needs from a model: how to build it for a per-replica batch of
    readers, its optimizer, and (optionally) a tf.data map from a pipeline batch (``ids``,
    ``readers``, ``stars``) to the model's inputs."""

    build: Callable[[int, int], object]  # (n_books, per_replica_batch) -> keras.Model
    optimizer: Callable[[], object]
    features: Callable[[dict], dict] | None = None


@dataclass
class Fitted:
    model: object
    history: list[dict]
    replicas: int
    workers: int
    is_chief: bool
    per_replica_batch: int
    steps_per_epoch: int


def fit(
    items: UserItems,
    readers: np.ndarray,
    n_books: int,
    spec: ModelSpec,
    batch_size: int,
    epochs: int,
    strategy=None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    on_epoch: Callable[[int, object], dict] | None = None,
) -> Fitted:
    """Train ``spec``'s model on ``readers`` (CSR rows of ``items``) for ``epochs`` epochs of
    global batches of about ``batch_size`` readers (rounded up to a multiple of the
    replicas), under ``strategy`` (default: none, one device)."""
    _keras, tf = import_keras()
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    per_replica = -(-batch_size // replicas)
    steps = steps_per_epoch(len(readers), per_replica, replicas)
    with strategy.scope():
        model = spec.build(n_books, per_replica)
        optimizer = spec.optimizer()
        # Made here, not lazily inside the first traced step (a distributed step cannot
        # create variables).
        optimizer.build(model.trainable_variables)

    workers = 1

    def dataset_fn(context):
        nonlocal workers
        workers = context.num_input_pipelines
        local = replicas // context.num_input_pipelines
        data = reader_batches(
            items,
            readers,
            per_replica,
            replicas,
            context.input_pipeline_id * local,
            local,
            seed,
            epochs,
        )
        if spec.features is not None:
            data = data.map(spec.features, num_parallel_calls=tf.data.AUTOTUNE)
        return data

    batches = iter(strategy.distribute_datasets_from_function(dataset_fn))

    def replica_step(batch):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            scores = model(batch, training=True)
            loss = model.compute_loss(x=batch, y_pred=scores, training=True)
            # This replica's share of the global batch's readers: the gradients the
            # optimizer sums across replicas are then those of the global mean.
            mine = tf.cast(tf.size(tf.unique(batch["readers"]).y), tf.float32)
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, mine)
            share = loss * mine / tf.maximum(total, 1.0)
        grads = tape.gradient(share, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return share

    @tf.function
    def train_step(iterator):
        per_replica_loss = strategy.run(replica_step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    history: list[dict] = []
    started = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for step in range(steps):
            loss = float(train_step(batches))
            total += loss
            if progress:
                logs = {"epoch": epoch + 1, "epochs": epochs, "loss": loss}
                progress(epoch * steps + step + 1, epochs * steps, logs)
        row = {
            "epoch": epoch + 1,
            "loss": total / steps,
            "seconds": round(time.perf_counter() - started, 2),
        }
        if on_epoch:
            row.update(on_epoch(epoch, model))
        history.append(row)
    return Fitted(model, history, replicas, workers, is_chief(strategy), per_replica, steps)


LOSSES = ("auto", "gramian", "dense")
DENSE_ROWS_LIMIT = 2**30  # bytes of one (batch, books) float32 matrix the dense loss may make


def loss_form(loss: str, n_books: int, dim: int, per_replica: int) -> str:
    """Which form of the same loss to train with. ``auto``: the Gramian one where it is the
    faster (it costs n d^2 a step against the dense one's batch n d, in float32 against
    bfloat16; measured at 100k books, benchmarks.md: 12.6x faster at d = 64 and 1,024
    readers, 1.35x slower at d = 1,024) or where the dense rows would not fit."""
    if loss != "auto":
        return loss
    too_big = n_books * per_replica * 4 > DENSE_ROWS_LIMIT
    return "gramian" if too_big or 2 * dim <= per_replica else "dense"


def embedding_spec(cfg, loss: str = "auto") -> ModelSpec:
    """The book-embedding model (:mod:`bookrec_tui.training.embeddings`) for :func:`fit`:
    built for the per-replica batch, Nadam at ``cfg.learning_rate``, ratings weighted by
    stars, and a book read without a rating weighted as :data:`READ_STARS` stars are (the
    runtime folds a reader's read-unrated books in with the same weight). ``loss``: the
    same loss computed without (batch, books) rows (its Gramian form), or densely."""
    from bookrec_tui.core.recommender import READ_STARS
    from bookrec_tui.training.embeddings import build_model, star_weight_tables

    keras, _tf = import_keras()

    def with_reads(weights) -> list[float]:
        weights = [float(w) for w in weights]
        weights[READ_UNRATED] = weights[READ_STARS] if READ_STARS is not None else 0.0
        return weights

    def build(n_books: int, per_replica: int):
        form = loss_form(loss, n_books, cfg.dim, per_replica)
        return build_model(n_books, replace(cfg, batch_size=per_replica, loss=form), compile=False)

    return ModelSpec(
        build=build,
        optimizer=lambda: keras.optimizers.Nadam(cfg.learning_rate),
        features=star_weights(
            *star_weight_tables(
                replace(
                    cfg,
                    input_star_weight=with_reads(cfg.input_star_weight),
                    target_star_weight=with_reads(cfg.target_star_weight),
                )
            ),
            cfg.input_dropout,
        ),
    )


def fit_embeddings(
    items: UserItems,
    users: np.ndarray,
    n_books: int,
    cfg,
    on_epoch: Callable[[int, object], dict] | None = None,
    progress: ProgressFn | None = None,
    strategy=None,
    loss: str = "auto",
    reads: tuple[np.ndarray, np.ndarray] | None = None,
):
    """:func:`bookrec_tui.training.embeddings.train_embeddings` under ``strategy``, fed by
    the tf.data pipeline: the same arguments and the same (model, history) back.
    ``reads``: (reader ids, catalogue rows) of books read without a rating, added to those
    readers' rows (:func:`pipeline.with_read_unrated`)."""
    keras, _tf = import_keras()
    keras.utils.set_random_seed(cfg.seed)
    rated = len(items.rows)
    if reads is not None:
        items = with_read_unrated(items, *reads)

    def report(done: int, total: int, logs: dict) -> None:
        if progress:
            progress(done, total, {"phase": "embeddings", **logs})

    fitted = fit(
        items,
        users,
        n_books,
        embedding_spec(cfg, loss),
        cfg.batch_size,
        cfg.epochs,
        strategy,
        cfg.seed,
        report,
        on_epoch,
    )
    where = {
        "replicas": fitted.replicas,
        "workers": fitted.workers,
        "loss_form": loss_form(loss, n_books, cfg.dim, fitted.per_replica_batch),
        "read_unrated": len(items.rows) - rated,
    }
    return fitted.model, [{"phase": "embeddings", **row, **where} for row in fitted.history]
