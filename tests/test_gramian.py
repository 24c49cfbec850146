"""The Gramian loss is the dense embedding model's loss, without (batch, books) rows."""

from __future__ import annotations

import numpy as np

from bookrec_tui.training.embeddings import EmbeddingConfig, build_gramian_model, build_model
from bookrec_tui.training.keras_backend import import_keras


def sparse_batch(n_books: int, batch: int, seed: int = 0) -> dict:
    """Readers with 0-19 ratings (one with none: a padding reader), some inputs hidden."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 20, batch)
    counts[3] = 0
    ids = np.concatenate([rng.choice(n_books, c, replace=False) for c in counts])
    stars = rng.integers(0, 6, len(ids))
    weight = np.array([0.4, 0.1, 0.3, 0.6, 1.0, 1.1], np.float32)
    return {
        "ids": ids.astype(np.int32),
        "readers": np.repeat(np.arange(batch), counts).astype(np.int32),
        "w_in": weight[stars] * (rng.random(len(ids)) > 0.2),
        "w_out": weight[stars],
    }


def loss_and_gradient(model, batch) -> tuple[float, np.ndarray]:
    _keras, tf = import_keras()
    inputs = {k: tf.constant(v) for k, v in batch.items()}
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=inputs, y_pred=model(inputs))
    return float(loss), tape.gradient(loss, model.books).numpy()


def test_gramian_loss_and_gradient_are_the_dense_models():
    cfg = EmbeddingConfig(dim=16, batch_size=32, matmul_dtype="float32", loss="dense", seed=3)
    dense = build_model(500, cfg, compile=False)
    gramian = build_gramian_model(500, cfg)
    gramian.books.assign(dense.books.numpy() * 1.7)  # any table: rows are normalised
    dense.books.assign(gramian.books.numpy())
    for seed in range(3):
        batch = sparse_batch(500, 32, seed)
        want_loss, want_grad = loss_and_gradient(dense, batch)
        got_loss, got_grad = loss_and_gradient(gramian, batch)
        assert abs(got_loss - want_loss) < 1e-5 * want_loss
        np.testing.assert_allclose(got_grad, want_grad, atol=1e-6 * np.abs(want_grad).max())
    scores = dense(batch)
    assert scores.shape == (32, 500)  # the dense rows the Gramian model never makes
    assert set(gramian(batch)) == {"au", "ugu"}
