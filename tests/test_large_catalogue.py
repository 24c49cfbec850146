"""What keeps a million-book catalogue fast: tables read from the titles once and kept
(works, first authors, onboarding's static tables), the inverted file over book vectors,
and scoring only candidate books. Each must give what the direct way gives."""

from __future__ import annotations

import numpy as np
import pytest
from test_lists import BOOKS

from bookrec_tui.core import catalogue as catalogue_module
from bookrec_tui.core import recommender as recommender_module
from bookrec_tui.core import vector_index as vector_index_module
from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.listing import ListAssembler
from bookrec_tui.core.onboarding import QuestionPicker
from bookrec_tui.core.recommender import Recommender
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.core.vector_index import IVFIndex
from bookrec_tui.core.works import Works
from bookrec_tui.store.synthetic import SyntheticConfig, book_vectors, make_catalogue


def _same_works(a: Works, b: Works) -> None:
    assert np.array_equal(a.series, b.series)
    assert np.array_equal(a.position, b.position, equal_nan=True)
    assert np.array_equal(a.main, b.main)
    assert list(a.series_names) == list(b.series_names)
    assert list(a.series_keys) == list(b.series_keys)
    assert np.array_equal(a.any_order, b.any_order)
    assert dict(a.contains) == dict(b.contains)
    assert np.array_equal(a.omnibuses, b.omnibuses)
    assert [list(e) for e in a.entries] == [list(e) for e in b.entries]
    assert {r: set(v) for r, v in a.held_by.items()} == {r: set(v) for r, v in b.held_by.items()}
    rows = range(len(a.series))
    assert [a.read_closure([r]) for r in rows] == [b.read_closure([r]) for r in rows]
    assert [a.implied_read([r]) for r in rows] == [b.implied_read([r]) for r in rows]
    covered = {0, 9, 19}
    assert [a.overlaps(r, covered) for r in rows] == [b.overlaps(r, covered) for r in rows]


def test_works_saved_as_arrays_answer_as_the_works_read_from_titles():
    built = Works([t for t, _ in BOOKS], [a for _, a in BOOKS])
    assert built.contains and built.held_by  # the fixture has box sets and omnibuses
    _same_works(Works.from_arrays(built.to_arrays()), built)


def test_a_large_catalogue_reads_its_titles_once_then_maps_the_tables(monkeypatch, isolated_home):
    monkeypatch.setattr(catalogue_module, "DERIVED_CACHE_FROM_BOOKS", 1000)
    catalogue, *_ = make_catalogue(SyntheticConfig(3000, seed=5))
    direct = Works(catalogue.titles, catalogue.first_authors)
    first = catalogue.works
    folders = sorted(p.name.split("-v")[0] for p in (isolated_home / "cache").iterdir())
    assert folders == ["first-authors", "works"]
    again, *_ = make_catalogue(SyntheticConfig(3000, seed=5))
    assert isinstance(again.works.series.base, np.memmap) or not again.works.series.flags.owndata
    _same_works(again.works, direct)
    _same_works(first, direct)
    names = np.array([str(a).split(",")[0].strip() for a in catalogue.authors])
    assert np.array_equal(again.first_authors, names)
    codes = again.first_author_codes
    assert np.array_equal(names[codes == codes[17]], np.full((codes == codes[17]).sum(), names[17]))


def _small_bundle(catalogue, seed: int = 0, dim: int = 8, links: int = 5) -> Bundle:
    """Random weights in the bundle's shapes; the ranking vectors are structured like
    learned embeddings (synthetic.book_vectors) so an inverted file has clusters to find."""
    rng = np.random.default_rng(seed)
    n = len(catalogue)
    vectors, bias = book_vectors(catalogue, dim, seed)
    pad = lambda a: np.vstack([np.zeros((1, *a.shape[1:]), a.dtype), a])  # noqa: E731
    table = lambda: (rng.standard_normal((n + 1, dim)) * 0.1).astype(np.float32)  # noqa: E731
    return Bundle(
        book_ids=catalogue.book_ids.copy(),
        in_emb=pad(vectors),
        star_mod=(rng.standard_normal((6, dim)) * 0.1).astype(np.float32),
        out_emb=pad(vectors),
        out_bias=np.concatenate([[0.0], bias]).astype(np.float32),
        rate_proj=(rng.standard_normal((dim, dim)) * 0.1).astype(np.float32),
        rate_emb=table(),
        rate_in=table(),
        item_bias=(rng.standard_normal(n + 1) * 0.2).astype(np.float32),
        nbr_ids=rng.integers(0, n + 1, (n + 1, links)).astype(np.int32),
        nbr_w=(rng.random((n + 1, links)) * 2.0).astype(np.float32),
        star_nbr=np.array([0, -0.5, 0, 0.5, 1, 1.2], np.float32),
        nbr_rate=(rng.standard_normal((n + 1, links)) * 0.1).astype(np.float32),
        mu=3.9,
        alpha=0.5,
        user_bias_reg=5.0,
        meta={"books_sha256": catalogue.sha256},
    )


@pytest.fixture(scope="module")
def small():
    catalogue, *_ = make_catalogue(SyntheticConfig(4000, seed=7))
    return catalogue, _small_bundle(catalogue)


def _profiles(n_books: int, count: int = 12, seed: int = 3) -> list[dict[int, int]]:
    rng = np.random.default_rng(seed)
    return [
        {int(b): int(rng.integers(1, 6)) for b in rng.choice(n_books, int(k), replace=False) + 1}
        for k in rng.integers(3, 30, count)
    ]


def test_scoring_some_books_gives_their_scores_from_scoring_all(small):
    catalogue, bundle = small
    scorer = FoldInScorer(bundle)
    rng = np.random.default_rng(1)
    rows = rng.choice(len(catalogue), 12, replace=False)
    stars = rng.integers(1, 6, 12)
    targets = np.unique(np.concatenate([rng.choice(len(catalogue), 300), scorer.linked_rows(rows)]))
    assert np.allclose(
        scorer.rank_scores_at(rows, stars, targets),
        scorer.rank_scores(rows, stars)[targets],
        rtol=1e-5,
        atol=1e-6,
    )
    # The recommender folds the reader in once and passes the vector on: same scores.
    query = scorer.ranking_query(rows, stars)
    assert np.array_equal(query, scorer.user_vectors(rows, stars)[0])
    assert np.array_equal(
        scorer.rank_scores_at(rows, stars, targets, query),
        scorer.rank_scores_at(rows, stars, targets),
    )
    with_repeats = np.concatenate([targets[:50], targets[:10]])  # a book asked about twice
    assert np.allclose(
        scorer.predict_stars(rows, stars, with_repeats),
        scorer.predict_stars(rows, stars)[with_repeats],
    )
    # Books the rated books do not link to score by their vectors alone.
    alone = np.setdiff1d(np.arange(len(catalogue)), scorer.linked_rows(rows))
    by_vectors = scorer.out_emb[alone] @ scorer.ranking_query(rows, stars) + scorer.out_bias[alone]
    assert np.allclose(scorer.rank_scores(rows, stars)[alone], by_vectors, rtol=1e-5, atol=1e-6)


def test_inverted_file_finds_the_exact_top_when_it_probes_every_cluster():
    catalogue, *_ = make_catalogue(SyntheticConfig(5000, seed=2))
    vectors, bias = book_vectors(catalogue, 16)
    index = IVFIndex.build(vectors, bias, n_lists=40)
    assert sorted(index.rows.tolist()) == list(range(len(vectors)))
    assert np.allclose(index.table, np.hstack([vectors, bias[:, None]])[index.rows])
    rng = np.random.default_rng(0)
    recalls = []
    for _ in range(20):
        q = vectors[rng.choice(len(vectors), 10)].sum(axis=0)
        exact = set(np.argsort(-(vectors @ q + bias))[:50].tolist())
        assert set(index.top(q, 50, n_probe=40).tolist()) == exact
        recalls.append(len(exact & set(index.top(q, 50, n_probe=8).tolist())) / 50)
    assert np.mean(recalls) > 0.8  # a fifth of the clusters finds most of them


def _fast(bundle, catalogue, monkeypatch) -> Recommender:
    """A recommender that takes the large-catalogue path on a small catalogue, with an
    inverted file probing every cluster (so it finds the exact top)."""
    monkeypatch.setattr(recommender_module, "EXACT_UP_TO", 1000)
    monkeypatch.setattr(vector_index_module, "N_PROBE", 10_000)
    rec = Recommender(bundle, catalogue)
    rec.__dict__["vector_index"] = IVFIndex.build(*rec.scorer.ranking_table(), n_lists=30)
    return rec


def test_large_catalogue_lists_from_candidates_equal_lists_from_every_book(small, monkeypatch):
    """The candidate path with an exact index must give the lists scoring every book gives."""
    catalogue, bundle = small
    exact = Recommender(bundle, catalogue)
    assert exact.vector_index is None  # 4,000 books: every book is scored
    fast = _fast(bundle, catalogue, monkeypatch)
    took: list[bool] = []
    original = ListAssembler.assemble

    def spy(self, scores, reader, n, *args, rows=None, **kwargs):
        took.append(rows is not None)
        return original(self, scores, reader, n, *args, rows=rows, **kwargs)

    monkeypatch.setattr(ListAssembler, "assemble", spy)
    liked_only = {b: 3 for b in range(1, 8)}  # no loved series: nothing to continue
    for ratings in [{}, liked_only, *_profiles(len(catalogue))]:
        took.clear()
        got = fast.recommend(ratings, n=20)
        assert took == [True]  # candidates only, no fallback
        assert got == exact.recommend(ratings, n=20)


def test_candidates_falling_short_fall_back_to_every_book(small, monkeypatch):
    catalogue, bundle = small
    fast = _fast(bundle, catalogue, monkeypatch)
    monkeypatch.setattr(recommender_module, "CANDIDATES", 5)
    ratings = {1: 5}
    rows, stars = fast.reader_arrays(ratings)
    reader = fast.reader_books(ratings)
    assert fast._assemble_candidates(rows, stars, reader, 20) is None  # 5 + 5 linked books: short
    assert fast.recommend(ratings, n=20) == Recommender(bundle, catalogue).recommend(ratings, 20)


def test_question_picker_tables_kept_for_a_large_catalogue_are_the_direct_ones(small, monkeypatch):
    catalogue, bundle = small
    direct = QuestionPicker(Recommender(bundle, catalogue))
    monkeypatch.setattr(catalogue_module, "DERIVED_CACHE_FROM_BOOKS", 1000)
    again, *_ = make_catalogue(SyntheticConfig(4000, seed=7))
    QuestionPicker(Recommender(bundle, again))  # builds and keeps them
    kept = QuestionPicker(Recommender(bundle, make_catalogue(SyntheticConfig(4000, seed=7))[0]))
    for name in ("eligible", "core", "authors", "languages", "english"):
        assert np.array_equal(getattr(kept, name), getattr(direct, name)), name
    assert kept.next_question({}) == direct.next_question({})


@pytest.mark.asyncio
async def test_a_model_folder_with_its_opening_shows_the_first_question_before_loading(
    tmp_path, monkeypatch
):
    """A million-book model takes seconds to open; the first question written beside it
    (by `train`) is on screen at once, and an answer typed then is kept."""
    import shutil

    from test_app import loaded, transcript

    from bookrec_tui.chat.opening import OPENING_NAME
    from bookrec_tui.paths import shipped_model_dir
    from bookrec_tui.store.packed_catalogue import PACKED_NAME
    from bookrec_tui.tui.app import BookrecApp

    monkeypatch.delenv("BOOKREC_DATA_DIR", raising=False)
    model = tmp_path / "model"
    model.mkdir()
    for name in ("bookrec-bundle.npz", PACKED_NAME, OPENING_NAME):
        shutil.copy(shipped_model_dir() / name, model / name)
    app = BookrecApp(model_dir=str(model), profile="new", profile_dir=tmp_path / "profiles")
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.session is None and "Have you read" in transcript(app)
        first = app._opening_book
        app.submit_line("4")
        await loaded(pilot)
        assert app.session.ratings == {first: 4}
