"""The popularity lean (issue #11): a per-book popularity term scaled by the reader's own
place on the same axis, so readers of famous books get famous books lifted, readers of
little-known books get those, and one revealed book cannot swamp the rest of the score."""

from __future__ import annotations

import numpy as np
import pytest

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.training.embedding_bundle import (
    EmbeddingModelConfig,
    blend_ndcg,
    export_arrays,
    popularity_term,
    with_popularity,
)

N_BOOKS = 12
STAR_WEIGHTS = np.array([0.0, 0.1, 0.3, 0.6, 1.0, 1.1])
# Goodreads-wide counts: books 0-3 famous, 8-11 little known
COUNTS = np.array([5e6, 2e6, 1e6, 8e5, 1e5, 8e4, 6e4, 5e4, 3e3, 2e3, 1e3, 9e2])


def bundle_with_lean(weight: float) -> Bundle:
    """Random unit book vectors (no links), with the lean's axis for ``weight``."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N_BOOKS, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    links = (np.zeros((N_BOOKS + 1, 0), np.int32), np.zeros((N_BOOKS + 1, 0), np.float32))
    bundle = export_arrays(
        vectors, links, 0.0, None, EmbeddingModelConfig(), 3.5, np.arange(N_BOOKS)
    )
    return with_popularity(bundle, None, popularity_term(COUNTS, float(np.sqrt(weight))))


def centred_log_counts() -> np.ndarray:
    log = np.log10(COUNTS)
    return log - log.mean()


def test_the_lean_is_the_readers_place_times_each_books():
    """score gain = weight x pop_i x sum_j w_j pop_j / sqrt(sum_j w_j) (w = star weights)."""
    scorer = FoldInScorer(bundle_with_lean(0.6))
    rows, stars = np.array([0, 2, 9]), np.array([5, 4, 2])
    pop = centred_log_counts()
    w = STAR_WEIGHTS[stars]
    expected = 0.6 * pop * (w @ pop[rows]) / np.sqrt(w.sum())
    gain = scorer.rank_scores(rows, stars) - scorer.vector_scores(rows, stars)
    np.testing.assert_allclose(gain, expected, rtol=1e-5, atol=1e-6)
    # the exact scores of a few books (a large catalogue's candidates) carry it too
    targets = np.array([1, 5, 11])
    np.testing.assert_allclose(
        scorer.rank_scores_at(rows, stars, targets),
        scorer.rank_scores(rows, stars)[targets],
        rtol=1e-6,
    )


def test_famous_books_are_lifted_for_readers_of_famous_books_only():
    scorer = FoldInScorer(bundle_with_lean(0.6))
    famous_reader = (np.array([0, 1, 2]), np.array([5, 5, 4]))
    obscure_reader = (np.array([9, 10, 11]), np.array([5, 5, 4]))
    for (rows, stars), lifted, lowered in ((famous_reader, 3, 8), (obscure_reader, 8, 3)):
        gain = scorer.rank_scores(rows, stars) - scorer.vector_scores(rows, stars)
        assert gain[lifted] > 0 > gain[lowered], gain
    assert scorer.popularity_lean(*famous_reader) > 0 > scorer.popularity_lean(*obscure_reader)


def test_the_lean_grows_with_the_revealed_books_as_their_square_root():
    """One book gives a small lean; n equally rated books of the same fame n**0.5 times it
    (a fixed per-book bias would be as large at one book as at ten)."""
    scorer = FoldInScorer(bundle_with_lean(0.6))
    one = scorer.popularity_lean(np.array([1]), np.array([5]))
    four = scorer.popularity_lean(np.array([1, 1, 1, 1]), np.array([5, 5, 5, 5]))
    assert four == pytest.approx(2 * one, rel=1e-6)
    assert scorer.popularity_lean(np.array([], np.int64), np.array([], np.int64)) == 0.0


def test_without_an_axis_nothing_changes(tmp_path):
    """Weight 0 (the default): no axis saved, the scores are the vectors' alone; a saved axis
    loads back unchanged."""
    plain = bundle_with_lean(0.0)
    assert plain.pop_axis is None
    plain.save(tmp_path / "plain.npz")
    loaded = Bundle.load(tmp_path / "plain.npz")
    assert loaded.pop_axis is None
    rows, stars = np.array([0, 2]), np.array([5, 4])
    scorer = FoldInScorer(loaded)
    np.testing.assert_array_equal(
        scorer.rank_scores(rows, stars), scorer.vector_scores(rows, stars)
    )

    lean = bundle_with_lean(0.6)
    lean.save(tmp_path / "lean.npz")
    back = Bundle.load(tmp_path / "lean.npz")
    np.testing.assert_array_equal(back.pop_axis, lean.pop_axis)
    np.testing.assert_array_equal(
        FoldInScorer(back).rank_scores(rows, stars), FoldInScorer(lean).rank_scores(rows, stars)
    )


def test_the_link_blend_is_chosen_with_the_lean_in_place():
    """blend_ndcg (the training's validation choice) scores readers as the runtime does."""
    from bookrec_tui.core.metrics import ndcg_at, top_n

    scorer = FoldInScorer(bundle_with_lean(2.0))
    rng = np.random.default_rng(3)
    readers = [(rng.permutation(N_BOOKS)[:8], rng.integers(3, 6, 8)) for _ in range(6)]
    expected = []
    for rows, stars in readers:
        relevant = set(rows[3:][stars[3:] >= 4].tolist())
        if relevant:
            ranked = top_n(scorer.rank_scores(rows[:3], stars[:3]), rows[:3], 10)
            expected.append(ndcg_at(ranked, relevant, 10))
    got = blend_ndcg(scorer, readers, (0.0,), reveals=(3,))[0.0]
    assert got == pytest.approx(float(np.mean(expected)), abs=1e-9)
