"""The embedding model's loss computed without any (batch, books) rows: what lets it train
at a million books.

The model of :mod:`bookrec_tui.training.embeddings` scores every book for every reader of a
batch, z = A u - x_in, and its loss compares the reader's unit target row with the unit
score row: || t/|t| - z/|z| ||^2 = |t|^2/|t|^2 + |z|^2/|z|^2 - 2 t.z / (|t| |z|). None of
those terms needs the dense rows:

* |z|^2 = u' (A'A) u - 2 sum_j w_in_j (a_j . u) + sum_j w_in_j^2, with G = A'A a (d, d)
  matrix made once per step (n d^2 work);
* t.z = sum_j w_out_j (a_j . u) - sum_j w_out_j w_in_j, over the reader's own books only;
* |t|^2 = sum_j w_out_j^2.

So a step costs O(n d^2 + ratings x d) instead of O(batch x n x d), and its memory is the
table, its gradient and the optimizer's slots: no (batch, n) tensors (at a million books and
256 readers a step those are 1 GB each). The loss and its gradients are the dense model's
exactly (same formula, same epsilons; ``tests/test_gramian.py`` checks both to float32
round-off). The class is the dense model's subclass: the same weights, the same book vectors
and export; only ``call`` (which returns per-rating dot products, not a score matrix) and
``compute_loss`` differ. Use the dense model where the scores themselves are wanted.
"""

from __future__ import annotations

import functools


@functools.cache
def gramian_model_class():
    from bookrec_tui.training.embeddings import model_class
    from bookrec_tui.training.keras_backend import keras_module

    keras = keras_module()
    from keras import ops

    @keras.saving.register_keras_serializable(package="bookrec_tui")
    class GramianBookEmbeddings(model_class()):
        """Input: a sparse batch as for the dense model. Output: ``au`` (a_j . u for each
        rating's book j and reader u) and ``ugu`` (u' A'A u per reader): what the loss
        needs."""

        def call(self, batch):
            a = self.book_vectors()
            rated = ops.take(a, batch["ids"], axis=0)
            u = ops.segment_sum(
                rated * batch["w_in"][:, None], batch["readers"], num_segments=self.batch_size
            )
            au = ops.sum(rated * ops.take(u, batch["readers"], axis=0), axis=1)
            gram = ops.matmul(ops.transpose(a), a)
            return {"au": au, "ugu": ops.sum(ops.matmul(u, gram) * u, axis=1)}

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            def per_reader(values):
                return ops.segment_sum(values, x["readers"], num_segments=self.batch_size)

            w_in, w_out, au = x["w_in"], x["w_out"], y_pred["au"]
            z_sq = y_pred["ugu"] - 2.0 * per_reader(w_in * au) + per_reader(w_in * w_in)
            z_sq = ops.maximum(z_sq, 0.0)  # round-off can take a tiny |z|^2 below 0
            t_sq = per_reader(w_out * w_out)
            tz = per_reader(w_out * au) - per_reader(w_out * w_in)
            eps = 1e-12  # as the dense loss: inside the roots, so padding readers stay finite
            loss = (
                t_sq / (t_sq + eps)
                + z_sq / (z_sq + eps)
                - 2.0 * tz / ops.sqrt((t_sq + eps) * (z_sq + eps))
            )
            real = ops.cast(t_sq > 0, "float32")
            return ops.sum(loss * real) / ops.maximum(ops.sum(real), 1.0)

    return GramianBookEmbeddings


def build_gramian_model(n_books: int, cfg):
    """The embedding model for ``n_books`` books and ``cfg`` (an ``EmbeddingConfig``), with
    the Gramian loss (float32 throughout: its products are small)."""
    return gramian_model_class()(n_books, cfg.dim, cfg.batch_size, cfg.seed, "float32")
