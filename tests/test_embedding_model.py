"""The embedding model (`train --model embeddings`) on a small synthetic catalogue: what it
learns, the numpy runtime against Keras, and the saved files."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.recommender import Recommender
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig
from bookrec_tui.training.embeddings import EmbeddingConfig, reader_batch
from bookrec_tui.training.rating_head import RatingHeadConfig
from bookrec_tui.training.run import save_outputs, train_embedding_bundle

N_BOOKS = 20
SERIES = (1, 2, 3)  # in the first camp: every other reader of that camp reads all three


def planted_ratings(n_users: int, seed: int) -> np.ndarray:
    """Two reader camps (books 1-10 and 11-20, see conftest.make_ratings), and in the first
    camp a series (books 1, 2, 3) that every other reader of the camp reads whole."""
    from conftest import make_ratings

    rows = [tuple(r) for r in make_ratings(n_users, N_BOOKS, seed=seed)]
    rng = np.random.default_rng(seed)
    for u in range(2, n_users + 1, 4):  # camp 0 readers (even ids), every other one
        for b in SERIES:
            rows.append((u, b, int(rng.choice([4, 5]))))
    seen, out = set(), []
    for u, b, s in reversed(rows):  # one rating per (reader, book): the series one wins
        if (u, b) not in seen:
            seen.add((u, b))
            out.append((u, b, s))
    return np.array(out[::-1], dtype=np.int64)


def small_config(**embeddings) -> EmbeddingModelConfig:
    return EmbeddingModelConfig(
        embeddings=EmbeddingConfig(
            **{
                "dim": 8,
                "epochs": 40,
                "batch_size": 16,
                "learning_rate": 0.05,
                "matmul_dtype": "float32",  # exact comparisons with numpy below
                "seed": 1,
                **embeddings,
            }
        ),
        rating=RatingHeadConfig(dim=8, epochs=10, batch_size=16, learning_rate=0.02),
        neighbors=4,
        validation_readers=0,
        seed=1,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import write_books

    d = tmp_path_factory.mktemp("gb")
    write_books(d / "books.csv", N_BOOKS)
    r = planted_ratings(120, seed=3)
    (d / "ratings.csv").write_text(
        "user_id,book_id,rating\n" + "\n".join(f"{u},{b},{s}" for u, b, s in r) + "\n"
    )
    os.environ.setdefault("BOOKREC_HOME", str(tmp_path_factory.mktemp("home")))
    dataset = load_dataset(d)
    cfg = small_config()
    cfg.popularity_weight = 0.5  # the popularity term on (off by default), and still learned
    cfg.popularity_lean_weight = 0.3  # and the lean (off by default)
    bundle, models = train_embedding_bundle(dataset, cfg)
    out = tmp_path_factory.mktemp("model")
    save_outputs(bundle, models, out)
    rec = Recommender.load(model_dir=out, data_dir=d)
    return rec, models, out, cfg


def test_embeddings_alone_rank_each_camps_books_first(trained):
    rec, *_ = trained
    vectors = rec.book_vectors()
    for fan, camp in (({4: 5, 5: 5}, range(1, 11)), ({15: 5, 16: 4}, range(11, 21))):
        scores = vectors @ rec.reader_vector(fan)
        top = np.argsort(-scores)[: len(fan) + 6] + 1  # row + 1 = book id here
        assert sum(int(b) in camp for b in top) >= len(fan) + 5, top


def test_a_series_is_learned_together(trained):
    """Book 1's nearest books by cosine of the learned vectors are the rest of its series."""
    rec, *_ = trained
    unit = rec.unit_embeddings
    nearest = np.argsort(-(unit @ unit[0]))[1:3] + 1
    assert set(nearest.tolist()) == {2, 3}


def test_recommendations_follow_the_readers_taste(trained):
    rec, *_ = trained
    recs = rec.recommend({11: 5, 12: 5, 13: 4}, n=5)
    assert sum(r.book_id > 10 for r in recs) >= 4, [r.title for r in recs]
    stars = rec.predict_ratings({1: 5, 2: 5, 3: 5, 15: 1}, [4, 5, 16, 17])
    assert stars[:2].mean() > stars[2:].mean() + 1.0


def test_numpy_fold_in_matches_the_keras_models(trained):
    """The runtime's embedding part is book_vectors() @ reader_vector(): the Keras model's
    scores (which leave out the reader's own books), and its predicted stars are the
    rating head's."""
    rec, models, _, cfg = trained
    ranking, head = models["bookrec.keras"], models["bookrec-rating.keras"]
    ratings = {4: 5, 7: 3, 12: 1}
    rows = np.array([rec.catalogue.row(b) for b in ratings])
    stars = np.array(list(ratings.values()))
    from bookrec_tui.training.interactions import UserItems

    items = UserItems(np.array([0, 3]), rows.astype(np.int32), stars.astype(np.int8), np.zeros(1))
    batch = reader_batch(items, np.array([0]), cfg.embeddings, np.random.default_rng(0))
    keras_scores = np.array(ranking(batch))[0]
    numpy_scores = rec.book_vectors() @ rec.reader_vector(ratings)
    own = np.asarray(cfg.embeddings.input_star_weight)[stars]
    keras_scores[rows] += own  # the model subtracts the reader's own input row
    np.testing.assert_allclose(numpy_scores, keras_scores, rtol=1e-4, atol=1e-5)
    targets = np.arange(N_BOOKS)
    keras_stars = np.asarray(
        head((rows[None] + 1, stars[None].astype(np.int32), targets[None] + 1))
    )[0]
    np.testing.assert_allclose(
        rec.scorer.predict_stars(rows, stars, targets),
        np.clip(keras_stars, 1, 5),
        rtol=1e-4,
        atol=1e-4,
    )


def test_saved_models_and_bundle_load_back(trained):
    rec, models, out, _ = trained
    from bookrec_tui.training.embeddings import model_class as ranking_class
    from bookrec_tui.training.keras_backend import keras_module
    from bookrec_tui.training.rating_head import head_class

    ranking_class(), head_class()  # registered for safe-mode loading
    keras = keras_module()
    again = keras.saving.load_model(out / "bookrec.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(
        np.asarray(again.book_vectors()), rec.book_vectors(), rtol=1e-6, atol=1e-7
    )
    head = keras.saving.load_model(out / "bookrec-rating.keras", safe_mode=True, compile=False)
    ids = np.array([[1, 2]], np.int32)
    np.testing.assert_allclose(
        np.asarray(head((ids, np.array([[5, 4]], np.int32), ids))),
        np.asarray(models["bookrec-rating.keras"]((ids, np.array([[5, 4]], np.int32), ids))),
        rtol=1e-6,
    )
    import h5py  # a dependency of keras

    for name in ("bookrec.keras", "bookrec-rating.keras"):
        # The trained weights only: an optimizer's slots would triple the ranking model's
        # file and, as Keras writes them through memory, raise training's peak at scale.
        with zipfile.ZipFile(out / name) as z:
            weights = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
            assert "optimizer" not in weights and len(weights["vars"]), (name, list(weights))
    bundle = Bundle.load(out / "bookrec-bundle.npz")
    assert bundle.in_emb is bundle.out_emb  # stored once
    assert bundle.meta["model"] == "embeddings"


def test_the_ranking_carries_a_goodreads_popularity_term(trained):
    """With a popularity weight, every book's ranking score gets it x its centred log10
    Goodreads ratings count (books.csv's ratings_count: book 1 has the most here), outside
    the embeddings: the embedding part stays book_vectors() @ reader_vector()."""
    from bookrec_tui.training.embedding_bundle import popularity_term

    rec, _, out, cfg = trained
    assert cfg.popularity_weight > 0
    term = Bundle.load(out / "bookrec-bundle.npz").out_bias[1:]
    counts = rec.catalogue.ratings_counts
    np.testing.assert_allclose(term, popularity_term(counts, cfg.popularity_weight), rtol=1e-6)
    assert abs(float(term.mean())) < 1e-5 and term[0] > 0 > term[-1]  # book 1 the most rated
    ratings = {4: 5, 15: 4}
    rows = np.array([rec.catalogue.row(b) for b in ratings])
    stars = np.array(list(ratings.values()))
    vectors_alone = rec.book_vectors() @ rec.reader_vector(ratings)
    # the lean: the same counts on an axis, times the reader's place on it
    axis = Bundle.load(out / "bookrec-bundle.npz").pop_axis[1:]
    np.testing.assert_allclose(axis**2, term**2 * cfg.popularity_lean_weight / 0.25, rtol=1e-5)
    lean = rec.scorer.popularity_lean(rows, stars)
    assert lean != 0
    np.testing.assert_allclose(
        rec.scorer.rank_scores(rows, stars) - rec.scorer.link_scores(rows, stars),
        vectors_alone + term + lean * axis,
        rtol=1e-5,
        atol=1e-5,
    )


def test_a_popularity_term_needs_counts():
    """No Goodreads counts (a catalogue without them) or no weight: no term."""
    from bookrec_tui.training.embedding_bundle import popularity_term

    assert popularity_term(None, 0.5) is None
    assert popularity_term(np.zeros(4), 0.5) is None
    assert popularity_term(np.array([10, 100, 1000]), 0.0) is None
    np.testing.assert_allclose(popularity_term(np.array([10, 100, 1000]), 0.5), [-0.5, 0, 0.5])


def test_a_blend_at_an_end_of_the_grid_says_so():
    """The validation readers' best link blend, and whether a better one may lie past the
    grid tried (then `train` warns)."""
    from bookrec_tui.training.embedding_bundle import chosen_blend

    assert chosen_blend({0.0: 0.30, 64.0: 0.33, 256.0: 0.32}) == (64.0, None)
    assert chosen_blend({0.0: 0.30, 64.0: 0.33, 256.0: 0.34}) == (256.0, "highest")
    assert chosen_blend({0.0: 0.35, 64.0: 0.33, 256.0: 0.34}) == (0.0, "lowest")


def test_a_reader_with_no_ratings_gets_stars_when_the_rating_head_is_narrower():
    """The embedding model's rating head (64-d) is narrower than its book vectors (1024-d):
    stars for a reader with no ratings yet (the tutorial protocol's readers whose ratings all
    fell in the test split) are the books' means, not a shape error."""
    from bookrec_tui.core.scoring import FoldInScorer
    from bookrec_tui.training.embedding_bundle import export_arrays

    n, cfg = 12, EmbeddingModelConfig(rating=RatingHeadConfig(dim=3), neighbors=2)
    vectors = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
    links = (np.zeros((n + 1, 2), np.int32), np.zeros((n + 1, 2), np.float32))
    scorer = FoldInScorer(export_arrays(vectors, links, 1.0, None, cfg, 3.5, np.arange(n)))
    _, rating_vector, _ = scorer.user_vectors(np.array([], np.int64), np.array([], np.int64))
    assert rating_vector.shape == (3,)
    stars = scorer.predict_stars(np.array([], np.int64), np.array([], np.int64), np.arange(4))
    assert np.allclose(stars, 3.5)


def test_a_big_catalogues_links_are_built_before_the_epochs_not_beside(tmp_path, monkeypatch):
    """Past LINKS_BESIDE_MAX_CO_COUNTS the link tables are built before the embedding epochs
    (so their memory does not stack on TensorFlow's at 100k books): the same tables, and the
    training history says they were not built beside the embeddings."""
    from conftest import write_books

    from bookrec_tui.training import embedding_bundle
    from bookrec_tui.training.interactions import UserItems

    write_books(tmp_path / "books.csv", N_BOOKS)
    r = planted_ratings(80, seed=5)
    (tmp_path / "ratings.csv").write_text(
        "user_id,book_id,rating\n" + "\n".join(f"{u},{b},{s}" for u, b, s in r) + "\n"
    )
    monkeypatch.setenv("BOOKREC_HOME", str(tmp_path / "home"))
    dataset = load_dataset(tmp_path)
    items = UserItems.build(dataset.ratings, dataset.catalogue)
    cfg = small_config(epochs=2)

    def links_phases(trained) -> list[dict]:
        return [row for row in trained.history if str(row.get("phase", "")).startswith("links")]

    beside = embedding_bundle.train_embedding_model(items, N_BOOKS, cfg)
    monkeypatch.setattr(embedding_bundle, "LINKS_BESIDE_MAX_CO_COUNTS", 0)
    before = embedding_bundle.train_embedding_model(items, N_BOOKS, cfg)

    assert [row["phase"] for row in links_phases(before)] == ["links"]
    assert [row.get("beside") for row in links_phases(beside)] == ["embeddings"]
    assert not any("beside" in row for row in links_phases(before))
    np.testing.assert_array_equal(before.links[0], beside.links[0])
    assert before.links[0].any()


def test_training_hands_back_the_book_table_without_the_optimizers_state(trained):
    """What training returns holds the trained table and nothing of the optimizer (whose two
    slots per weight at 100,000 books x 1,024 are 0.8 GB the later phases would carry), and
    it scores as the trained table does."""
    _rec, models, _out, _cfg = trained
    ranking = models["bookrec.keras"]
    assert getattr(ranking, "optimizer", None) is None
    assert [w.name for w in ranking.weights] == ["books"]


def test_book_vectors_fill_the_bundles_padded_table_without_a_copy():
    """book_vectors normalises the Keras table a chunk at a time into a buffer whose row 0
    is the bundle's padding row, and the export uses that buffer as it is (at 100k books x
    1,024 each copy is 0.4 GB); a plain array is still copied under a zero row."""
    from bookrec_tui.training import embeddings
    from bookrec_tui.training.embedding_bundle import export_arrays
    from bookrec_tui.training.embeddings import with_padding_row

    cfg = EmbeddingConfig(dim=6, batch_size=4, matmul_dtype="float32", seed=2)
    model = embeddings.build_model(11, cfg, compile=False)
    original = embeddings.VECTOR_CHUNK
    embeddings.VECTOR_CHUNK = 4  # several chunks and a short last one
    try:
        vectors = embeddings.book_vectors(model)
    finally:
        embeddings.VECTOR_CHUNK = original
    np.testing.assert_allclose(vectors, np.asarray(model.book_vectors()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    links = (np.zeros((12, 2), np.int32), np.zeros((12, 2), np.float32))
    bundle = export_arrays(vectors, links, 1.0, None, EmbeddingModelConfig(), 3.5, np.arange(11))
    assert np.shares_memory(bundle.in_emb, vectors)
    assert not bundle.in_emb[0].any() and np.array_equal(bundle.in_emb[1:], vectors)
    plain = np.ones((3, 2), np.float32)
    padded = with_padding_row(plain)
    assert not np.shares_memory(padded, plain)
    assert padded.tolist() == [[0, 0], [1, 1], [1, 1], [1, 1]]


def test_books_shelved_to_read_are_learned_as_targets_only():
    """Readers of the first camp (books 1-10) shelve book 20, of the other camp, to read:
    trained with those shelvings as targets, a first-camp reader's vector puts book 20 above
    the rest of the other camp's books; trained without, it does not. A to-read book is never
    part of the reader vector (its input weight is 0)."""
    from conftest import make_ratings

    from bookrec_tui.core.catalogue import Ratings
    from bookrec_tui.training.embeddings import book_vectors, train_embeddings
    from bookrec_tui.training.interactions import TO_READ, UserItems

    r = make_ratings(120, N_BOOKS, seed=5)
    r = r[r[:, 1] != 20]  # nobody rates book 20: only the shelvings speak for it
    ratings = Ratings(r[:, 0].astype(np.int32), r[:, 1].astype(np.int32), r[:, 2].astype(np.int8))

    class Rows:  # a catalogue whose book ids 1..20 are rows 0..19
        def rows(self, ids):
            return np.asarray(ids) - 1

    items = UserItems.build(ratings, Rows())
    camp = np.arange(2, 121, 2)
    shelved = items.with_shelved(camp, np.full(len(camp), 19), TO_READ)
    batch = reader_batch(shelved, np.arange(4), small_config().embeddings, None)
    assert set(batch["w_in"][batch["ids"] == 19]) == {0.0}
    assert np.allclose(batch["w_out"][batch["ids"] == 19], 0.3)

    def other_camp_rank(data: UserItems) -> int:
        cfg = small_config().embeddings
        model, _ = train_embeddings(data, np.arange(data.n_users), N_BOOKS, cfg)
        a = book_vectors(model)
        scores = a[10:] @ a[[3, 4, 5]].sum(axis=0)  # a fan of books 4-6; books 11-20
        return int((scores > scores[-1]).sum())  # other-camp books above book 20

    assert other_camp_rank(shelved) == 0
    assert other_camp_rank(items) > 0
