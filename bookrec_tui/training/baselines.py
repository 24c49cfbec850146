"""Baselines run side by side with our model in `bookrec-tui evaluate`.

* popularity: most-rated books first; stars = the book's shrunk mean rating (for real
  readers: Goodreads-wide ratings counts and averages).
* EASE (Steck 2019): closed-form item-item model on binary "rated it" data.
* the tutorial model (from the Keras tutorial this project started from): 5-d user and
  book embeddings, dot product, MSE, Adam, 10 epochs; a new reader is folded in by ridge
  regression on the frozen book embeddings.
"""

from __future__ import annotations

import numpy as np

from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.keras_backend import import_keras


class Popularity:
    name = "popularity"

    def __init__(self, items: UserItems, n_books: int, shrink: float = 10.0) -> None:
        counts = np.bincount(items.rows, minlength=n_books).astype(np.float64)
        sums = np.bincount(items.rows, weights=items.stars, minlength=n_books)
        self.mu = float(items.stars.mean())
        self.item_mean = (sums + shrink * self.mu) / (counts + shrink)
        # Ties (v1 caps books at ~100 ratings) are broken by the mean rating.
        self.scores = counts + 0.01 * self.item_mean

    def rank_scores(self, rows, stars) -> np.ndarray:
        return self.scores.copy()

    def predict_stars(self, rows, stars, targets) -> np.ndarray:
        return self.item_mean[targets]


class CataloguePopularity:
    """Goodreads-wide popularity: books with the most ratings on Goodreads (books.csv's
    ``ratings_count``) first; stars = the book's Goodreads average. The fair popularity
    baseline for real readers, whose shelves lean to famous books; inside goodbooks-10k v1
    every book has about 100 ratings, so counting them there says little."""

    name = "popularity (Goodreads-wide)"

    def __init__(self, catalogue) -> None:
        self.scores = np.log1p(catalogue.ratings_counts.astype(np.float64))
        self.means = catalogue.average_ratings.astype(np.float64)

    def rank_scores(self, rows, stars) -> np.ndarray:
        return self.scores.copy()

    def predict_stars(self, rows, stars, targets) -> np.ndarray:
        return self.means[targets]


def gram_matrix(
    items: UserItems, n_books: int, star_weights: np.ndarray | None = None
) -> np.ndarray:
    """X^T X of the user x book matrix, dense float64 (n_books x n_books).

    X is binary ("rated it") unless ``star_weights`` (indexed by stars 0..5) sets each entry.
    """
    x = items.matrix(n_books, star_weights)
    return (x.T @ x).toarray().astype(np.float64)


class EASE:
    name = "EASE"

    def __init__(self, gram: np.ndarray, lam: float) -> None:
        self.lam = lam
        g = gram.copy()
        g[np.diag_indices_from(g)] += lam
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.B = b.astype(np.float32)

    def rank_scores(self, rows, stars) -> np.ndarray:
        return self.B[np.asarray(rows)].sum(axis=0)

    def predict_stars(self, rows, stars, targets):
        return None  # EASE ranks; it does not predict stars


def train_tutorial_model(
    user_index: np.ndarray,
    rows: np.ndarray,
    stars: np.ndarray,
    n_users: int,
    n_books: int,
    epochs: int = 10,
    batch_size: int = 256,
    seed: int = 42,
    progress=None,
):
    """The tutorial's Keras model. Returns (user embeddings, book embeddings) as numpy.

    ``batch_size`` is the only departure from the tutorial (which uses Keras' default 32):
    256 keeps evaluation under a few minutes on 2 cores.
    """
    keras, _tf = import_keras()
    keras.utils.set_random_seed(seed)
    from keras import layers

    u_in = keras.Input((1,), dtype="int32")
    b_in = keras.Input((1,), dtype="int32")
    u = layers.Flatten()(layers.Embedding(n_users, 5, name="user_emb")(u_in))
    b = layers.Flatten()(layers.Embedding(n_books, 5, name="book_emb")(b_in))
    out = layers.Dot(axes=1)([u, b])
    model = keras.Model([u_in, b_in], out)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    callbacks = []
    if progress is not None:

        class _Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                progress(epoch + 1, epochs, logs or {})

        callbacks.append(_Progress())
    model.fit(
        [user_index[:, None], rows[:, None]],
        stars.astype(np.float32),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        shuffle=True,
        callbacks=callbacks,
    )
    return (
        np.asarray(model.get_layer("user_emb").get_weights()[0]),
        np.asarray(model.get_layer("book_emb").get_weights()[0]),
    )


class TutorialFoldIn:
    """The tutorial model scored for a new reader: ridge regression of their stars on the
    book vectors."""

    name = "tutorial model (fold-in)"

    def __init__(self, book_emb: np.ndarray, ridge: float = 0.1) -> None:
        self.Q = book_emb.astype(np.float64)
        self.ridge = ridge

    def user_vector(self, rows, stars) -> np.ndarray:
        q = self.Q[np.asarray(rows)]
        a = q.T @ q + self.ridge * np.eye(q.shape[1])
        return np.linalg.solve(a, q.T @ np.asarray(stars, dtype=np.float64))

    def rank_scores(self, rows, stars) -> np.ndarray:
        return self.Q @ self.user_vector(rows, stars)

    def predict_stars(self, rows, stars, targets) -> np.ndarray:
        return np.clip(self.Q[targets] @ self.user_vector(rows, stars), 1, 5)
