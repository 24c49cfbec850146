"""Train a tiny Keras model on synthetic data and check the exported numpy runtime."""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.recommender import Recommender
from bookrec_tui.errors import ModelError
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.model import TrainConfig, load_keras_model
from bookrec_tui.training.run import save_outputs, train_bundle

pytestmark = pytest.mark.slow  # every test here uses the model trained below


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import make_ratings, write_books

    d = tmp_path_factory.mktemp("gb")
    write_books(d / "books.csv", 20)
    r = make_ratings(80, 20, seed=3)
    (d / "ratings.csv").write_text(
        "user_id,book_id,rating\n" + "\n".join(f"{u},{b},{s}" for u, b, s in r) + "\n"
    )
    import os

    os.environ.setdefault("BOOKREC_HOME", str(tmp_path_factory.mktemp("home")))
    dataset = load_dataset(d)
    cfg = TrainConfig(
        dim=8, epochs=30, rating_epochs=10, batch_size=16, learning_rate=0.02, seed=1, neighbors=4
    )
    bundle, model = train_bundle(dataset, cfg)
    out = tmp_path_factory.mktemp("model")
    save_outputs(bundle, model, out)
    return d, out, dataset, model


def test_recommendations_follow_the_readers_taste(trained):
    data_dir, model_dir, dataset, _ = trained
    rec = Recommender.load(model_dir=model_dir, data_dir=data_dir)
    saga_fan = {1: 5, 2: 5, 3: 4}
    recs = rec.recommend(saga_fan, n=5)
    assert [r.book_id for r in recs if r.book_id in saga_fan] == []
    assert sum(r.book_id <= 10 for r in recs) >= 4, [r.title for r in recs]
    assert all(r.because is None or r.because in saga_fan for r in recs)
    chronicle_fan = {15: 5, 16: 5, 17: 4}
    assert sum(r.book_id > 10 for r in rec.recommend(chronicle_fan, n=5)) >= 4


def test_predicted_stars_separate_loved_from_disliked_books(trained):
    data_dir, model_dir, _, _ = trained
    rec = Recommender.load(model_dir=model_dir, data_dir=data_dir)
    stars = rec.predict_ratings({1: 5, 2: 5, 3: 5, 15: 1}, [4, 5, 16, 17])
    assert stars[:2].mean() > stars[2:].mean() + 1.0
    assert ((stars >= 1) & (stars <= 5)).all()


def test_numpy_fold_in_matches_the_keras_model(trained):
    _, model_dir, _, model = trained
    bundle = Bundle.load(model_dir / "bookrec-bundle.npz")
    from bookrec_tui.core.scoring import FoldInScorer

    scorer = FoldInScorer(bundle)
    rows, stars = np.array([0, 4, 12]), np.array([5, 3, 1])
    targets = np.array([1, 2, 15])
    logits, pred = model((rows[None] + 1, stars[None], targets[None] + 1))
    np.testing.assert_allclose(
        scorer.rank_scores(rows, stars), np.asarray(logits)[0, 1:], rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        scorer.predict_stars(rows, stars, targets),
        np.clip(np.asarray(pred)[0], 1, 5),
        rtol=1e-4,
        atol=1e-4,
    )


def test_keras_file_reloads_in_safe_mode(trained):
    _, model_dir, _, model = trained
    again = load_keras_model(model_dir / "bookrec.keras")
    x = (np.array([[1, 2]]), np.array([[5, 4]]), np.array([[3]]))
    np.testing.assert_allclose(np.asarray(again(x)[0]), np.asarray(model(x)[0]), rtol=1e-5)


def test_bundle_records_fingerprint_and_training_metrics(trained):
    _, model_dir, dataset, _ = trained
    meta = Bundle.load(model_dir / "bookrec-bundle.npz").meta
    assert meta["books_sha256"] == dataset.catalogue.sha256
    assert meta["ratings_sha256"] == dataset.ratings.sha256
    assert meta["format_version"] == 1 and meta["dim"] == 8
    assert len(meta["training"]["history"]) == 40


def test_a_bundle_for_other_books_is_refused(trained, tmp_path):
    data_dir, model_dir, _, _ = trained
    from conftest import write_books

    write_books(tmp_path / "books.csv", 25)
    with pytest.raises(ModelError, match="different books.csv"):
        Recommender.load(model_dir=model_dir, data_dir=tmp_path)


def test_a_damaged_bundle_is_a_clear_error(tmp_path):
    (tmp_path / "bookrec-bundle.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable bookrec bundle"):
        Bundle.load(tmp_path / "bookrec-bundle.npz")


def test_training_is_reproducible(trained):
    _, _, dataset, model = trained
    cfg = TrainConfig(
        dim=8, epochs=30, rating_epochs=10, batch_size=16, learning_rate=0.02, seed=1, neighbors=4
    )
    _, again = train_bundle(dataset, cfg)
    np.testing.assert_allclose(
        again.out_emb.get_weights()[0], model.out_emb.get_weights()[0], rtol=1e-5, atol=1e-6
    )
