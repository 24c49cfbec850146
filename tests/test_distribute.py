"""The tf.data input pipeline from sparse reader rows and training under tf.distribute:
one device, two logical CPUs (MirroredStrategy) and a two-worker localhost cluster
(MultiWorkerMirroredStrategy, TF_CONFIG) train the same model to the same numbers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bookrec_tui.errors import BookrecError
from bookrec_tui.training.distribute import Cluster, loss_form, make_strategy
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.pipeline import (
    READ_UNRATED,
    reader_batches,
    star_weights,
    with_read_unrated,
)

CHILD = Path(__file__).with_name("distributed_child.py")


def small_items(n_readers: int = 23, seed: int = 0) -> UserItems:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 6, n_readers)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.concatenate([rng.choice(50, c, replace=False) for c in counts]).astype(np.int32)
    stars = rng.integers(0, 6, len(rows)).astype(np.int8)
    return UserItems(indptr, rows, stars, np.arange(1, n_readers + 1))


def numpy_batches(data) -> list[dict]:
    return [{k: v.numpy() for k, v in b.items()} for b in data]


def test_an_epoch_holds_every_readers_ratings_once_in_flat_batches():
    items = small_items()
    batches = numpy_batches(reader_batches(items, np.arange(items.n_users), 5, epochs=1))
    assert len(batches) == 5  # 23 readers in batches of 5: the last padded with empty readers
    seen = []
    for b in batches:
        assert set(b) == {"ids", "readers", "stars"}
        assert len(b["ids"]) == len(b["readers"]) == len(b["stars"])  # flat, not readers x books
        assert b["readers"].min() >= 0 and b["readers"].max() < 5
        assert np.all(np.diff(b["readers"]) >= 0)
        seen.append(b)
    # Each batch position's ratings are exactly one reader's whole row.
    got = []
    for b in seen:
        for p in np.unique(b["readers"]):
            mine = b["readers"] == p
            got.append(
                (tuple(sorted(b["ids"][mine])), tuple(b["stars"][mine][np.argsort(b["ids"][mine])]))
            )
    want = []
    for u in range(items.n_users):
        rows, stars = items.user(u)
        want.append((tuple(sorted(rows)), tuple(stars[np.argsort(rows)])))
    assert sorted(got) == sorted(want)
    assert sum(len(b["ids"]) for b in seen) == len(items.rows)


def test_each_epoch_is_a_new_order_and_the_same_for_the_same_seed():
    items = small_items()
    readers = np.arange(items.n_users)

    def first_ids(seed):
        data = numpy_batches(reader_batches(items, readers, 23, seed=seed, epochs=2))
        return [tuple(b["ids"]) for b in data]

    a, b = first_ids(1), first_ids(1)
    assert a == b  # every worker derives the same order from the shared seed
    assert a[0] != a[1]  # reshuffled between epochs
    assert sorted(a[0]) == sorted(a[1])
    assert first_ids(2) != a


def test_replicas_take_slices_of_the_batch_one_device_sees():
    items = small_items()
    readers = np.arange(3, items.n_users)  # training readers: a subset of the rows
    one = numpy_batches(reader_batches(items, readers, 6, replicas=1, seed=4, epochs=1))
    # Two workers with one replica each, or one worker with both: the same slices.
    w0 = numpy_batches(reader_batches(items, readers, 3, 2, 0, 1, seed=4, epochs=1))
    w1 = numpy_batches(reader_batches(items, readers, 3, 2, 1, 1, seed=4, epochs=1))
    both = numpy_batches(reader_batches(items, readers, 3, 2, 0, 2, seed=4, epochs=1))
    assert len(w0) == len(w1) == len(one) == 4  # every worker takes the same number of steps
    for step, whole in enumerate(one):
        halves = [w0[step], w1[step]]
        assert [len(h["ids"]) for h in halves] == [
            len(both[2 * step]["ids"]),
            len(both[2 * step + 1]["ids"]),
        ]
        merged = np.concatenate([h["ids"] for h in halves])
        assert np.array_equal(merged, whole["ids"])  # replica 0 then 1 = the whole batch
    ratings = sum(len(b["ids"]) for b in one)
    assert ratings == items.indptr[-1] - items.indptr[3]  # readers 0-2 are not in training


def test_read_unrated_books_join_their_readers_rows_as_star_zero_with_their_own_weight():
    items = UserItems(  # readers 7 and 3 (in that CSR order), rows 0-9
        np.array([0, 2, 3], np.int64),
        np.array([4, 1, 6], np.int32),
        np.array([5, 2, 4], np.int8),
        np.array([7, 3]),
    )
    # Reader 3 read book row 9 and reader 7 read row 8 without rating; reader 5 is not in
    # the training rows (e.g. held out for validation): dropped.
    both = with_read_unrated(items, np.array([3, 5, 7]), np.array([9, 2, 8]))
    assert list(both.user_ids) == [7, 3]
    assert {(int(b), int(s)) for b, s in zip(*both.user(0), strict=True)} == {
        (4, 5),
        (1, 2),
        (8, READ_UNRATED),
    }
    assert {(int(b), int(s)) for b, s in zip(*both.user(1), strict=True)} == {
        (6, 4),
        (9, READ_UNRATED),
    }
    weights = star_weights((0.25, 0.1, 0.3, 0.6, 1.0, 1.1), (0.0, 0.1, 0.3, 0.6, 1.0, 1.1))
    batch = numpy_batches(reader_batches(both, np.arange(2), 2, epochs=1).map(weights))[0]
    unrated = batch["stars"] == READ_UNRATED
    assert unrated.sum() == 2
    assert np.allclose(batch["w_in"][unrated], 0.25) and np.all(batch["w_out"][unrated] == 0)
    assert np.allclose(batch["w_in"][batch["stars"] == 5], 1.1)


def test_tf_config_is_read_and_a_missing_or_broken_one_is_a_clear_error():
    cluster = {"worker": ["a:1", "b:2", "c:3"]}
    env = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 2}})}
    c = Cluster.from_env(env)
    assert (c.task_type, c.task_index, c.size, c.is_chief) == ("worker", 2, 3, False)
    env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    assert Cluster.from_env(env).is_chief
    with_chief = {"chief": ["z:0"], **cluster}
    env["TF_CONFIG"] = json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}})
    assert not Cluster.from_env(env).is_chief  # a named chief task writes, not worker 0
    assert Cluster.from_env(env).size == 4
    with pytest.raises(BookrecError, match="needs TF_CONFIG"):
        Cluster.from_env({})
    with pytest.raises(BookrecError, match="not a cluster"):
        Cluster.from_env({"TF_CONFIG": "{not json"})
    env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 3}})
    with pytest.raises(BookrecError, match="not in its cluster"):
        Cluster.from_env(env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(args: list[str], env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    if not env_extra:
        env.pop("TF_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_one_device_two_cpus_and_two_workers_train_the_same_model(tmp_path):
    """Same readers, same global batches: the replicas' summed gradients are the one
    device's, so losses agree to 1e-5 (relative) and book vectors to 1e-5 (absolute);
    measured: 2e-8 and 3e-7 (float sums in another order)."""
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"localhost:{p}" for p in ports]}

    def tf_config(index):
        return {
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            )
        }

    procs = {
        "one": _start(["--out", str(tmp_path / "one.npz")]),
        "mirrored": _start(
            ["--strategy", "mirrored", "--cpus", "2", "--out", str(tmp_path / "mirrored.npz")]
        ),
        "chief": _start(
            ["--strategy", "multiworker", "--out", str(tmp_path / "multi.npz")], tf_config(0)
        ),
        "worker": _start(
            ["--strategy", "multiworker", "--out", str(tmp_path / "worker.npz")], tf_config(1)
        ),
    }
    results = {name: _result(p) for name, p in procs.items()}
    assert [results[n]["replicas"] for n in procs] == [1, 2, 2, 2]
    assert [results[n]["workers"] for n in procs] == [1, 1, 2, 2]
    assert [results[n]["chief"] for n in procs] == [True, True, True, False]
    assert not (tmp_path / "worker.npz").exists()  # only the chief writes
    one = np.load(tmp_path / "one.npz")
    assert one["losses"][-1] < one["losses"][0] * 0.9  # it learned something
    for name in ("mirrored", "multi"):
        other = np.load(tmp_path / f"{name}.npz")
        np.testing.assert_allclose(other["losses"], one["losses"], rtol=1e-5)
        np.testing.assert_allclose(other["vectors"], one["vectors"], atol=1e-5)


def test_the_loss_form_is_the_gramian_one_where_faster_or_the_dense_rows_do_not_fit():
    assert loss_form("auto", 100_000, 64, 1024) == "gramian"  # measured 12.6x faster
    assert loss_form("auto", 100_000, 1024, 1024) == "dense"  # measured 1.35x faster
    assert loss_form("auto", 1_000_000, 1024, 1024) == "gramian"  # 4 GB (batch, books) rows
    assert loss_form("dense", 1_000_000, 64, 1024) == "dense"


def test_multiworker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(BookrecError, match="needs TF_CONFIG"):
        make_strategy("multiworker")


def test_the_pipeline_weighs_to_read_books_as_the_plain_training_does():
    """Under tf.distribute a book shelved to read is a target only, weighted as
    ``EmbeddingConfig.to_read_weight``, as in the plain ``reader_batch``."""
    from bookrec_tui.training.distribute import embedding_spec
    from bookrec_tui.training.embeddings import EmbeddingConfig
    from bookrec_tui.training.interactions import TO_READ

    items = UserItems(
        np.array([0, 2], np.int64),
        np.array([4, 1], np.int32),
        np.array([5, 2], np.int8),
        np.array([7]),
    ).with_shelved(np.array([7]), np.array([9]), TO_READ)
    cfg = EmbeddingConfig(to_read_weight=0.3)
    batch = numpy_batches(
        reader_batches(items, np.arange(1), 1, epochs=1).map(embedding_spec(cfg).features)
    )[0]
    shelved = batch["stars"] == TO_READ
    assert batch["ids"][shelved].tolist() == [9]
    assert batch["w_in"][shelved].tolist() == [0.0] and np.allclose(batch["w_out"][shelved], 0.3)
    assert np.allclose(batch["w_out"][batch["stars"] == 5], 1.1)
