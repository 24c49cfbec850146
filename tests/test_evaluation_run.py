"""`bookrec-tui evaluate` end to end (evaluation/run.py) on the tiny world, and what every
method it compares shares (the Scorer protocol)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tiny_world

from bookrec_tui.core.scoring import FoldInScorer, Scorer
from bookrec_tui.errors import BookrecError
from bookrec_tui.evaluation.config import PROTOCOLS, EvaluationConfig
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.baselines import (
    EASE,
    CataloguePopularity,
    Popularity,
    TutorialFoldIn,
    gram_matrix,
)
from bookrec_tui.training.interactions import UserItems


@pytest.fixture(scope="module")
def eval_world(tmp_path_factory) -> tiny_world.TinyWorld:
    """The tiny world with keener readers: most rate 20+ books, as the cold-start protocol's
    held-out readers must."""
    ratings = tiny_world.make_ratings(300, seed=11, tastes=(2, 4), reads=(14, 30), others=6)
    return tiny_world.build(tmp_path_factory.mktemp("eval-world"), ratings)


def test_protocols_by_name_and_by_their_earlier_names(tmp_path):
    out = tmp_path / "r.json"
    assert EvaluationConfig(out).protocols() == list(PROTOCOLS)
    assert EvaluationConfig(out, only="seed").protocols() == ["tutorial"]
    assert "tutorial" not in EvaluationConfig(out, skip_tutorial_protocol=True).protocols()
    with pytest.raises(ValueError, match="unknown protocol"):
        EvaluationConfig(out, only="everything")


def test_a_protocol_on_real_readers_without_exports_says_what_it_needs(eval_world, tmp_path):
    from bookrec_tui.evaluation.run import run_evaluation

    config = EvaluationConfig(
        tmp_path / "r.json", only="real-readers", data_dir=eval_world.data_dir
    )
    with pytest.raises(BookrecError, match="needs Goodreads exports: pass --exports"):
        run_evaluation(config)
    with pytest.raises(BookrecError, match="no such folder"):
        run_evaluation(
            EvaluationConfig(tmp_path / "r.json", exports=tmp_path / "none", only="onboarding")
        )
    assert not (tmp_path / "r.json").exists()


def test_every_method_evaluate_compares_is_a_scorer(eval_world):
    """Popularity (two kinds), EASE, the tutorial model's fold-in and ours, as the protocols
    call them: a score for every book, stars for the targets (or None: EASE only ranks)."""
    dataset = load_dataset(eval_world.data_dir)
    cat = dataset.catalogue
    items = UserItems.build(dataset.ratings, cat)
    n = len(cat)
    methods = {
        "popularity": Popularity(items, n),
        "Goodreads-wide popularity": CataloguePopularity(cat),
        "EASE": EASE(gram_matrix(items, n), 30.0),
        "tutorial model": TutorialFoldIn(np.random.default_rng(0).normal(size=(n, 5))),
        "ours": FoldInScorer(eval_world.bundle()),
    }
    rows, stars = np.array([0, 12, 28]), np.array([5, 4, 1])
    targets = np.array([1, 2, 13])
    for name, method in methods.items():
        assert isinstance(method, Scorer), name
        scores = method.rank_scores(rows, stars)
        assert scores.shape == (n,) and np.isfinite(scores).all(), name
        predicted = method.predict_stars(rows, stars, targets)
        if name == "EASE":
            assert predicted is None
        else:
            assert predicted.shape == (3,) and ((predicted >= 1) & (predicted <= 5)).all(), name
    # The Hobbit loved: The Fellowship of the Ring (its readers' next book) outranks Twilight.
    ease_scores = methods["EASE"].rank_scores(np.array([0]), np.array([5]))
    assert ease_scores[1] > ease_scores[31]


@pytest.mark.slow
def test_a_full_run_writes_every_protocols_table_and_report(eval_world, tmp_path, capsys):
    """Every protocol that needs no Goodreads exports, on the tiny world, our model trained for
    one epoch: the report has each method's figures, and the table says the same."""
    from bookrec_tui.evaluation.run import run_evaluation

    out = tmp_path / "report.json"
    config = EvaluationConfig(out, users=40, epochs=1, data_dir=eval_world.data_dir)
    assert run_evaluation(config) == 0
    report = json.loads(out.read_text())
    assert report["settings"]["protocols"] == ["tutorial", "cold-start", "lists"]
    assert report["settings"]["ratings"] == len(load_dataset(eval_world.data_dir).ratings)
    rmse = report["tutorial_protocol"]
    assert set(rmse) == {"global mean", "tutorial model", "ours (fold-in of train ratings)"}
    assert all(0 < v < 4 for v in rmse.values())
    # The tutorial split's readers ranked too: taste beats most-read-first in this world.
    ranking = report["tutorial_ranking"]
    assert set(ranking) == {"popularity", "ours"} and ranking["ours"]["readers"] > 100
    assert ranking["ours"]["ndcg@10"] > ranking["popularity"]["ndcg@10"]
    cold = report["cold_start"]
    assert set(cold) == {
        "popularity",
        f"EASE (lambda={report['settings']['ease_lambda']:g})",
        "tutorial model (fold-in)",
        "ours",
        "ours: embeddings alone",  # the default model's two parts, each ranking alone
        "ours: links alone",
    }
    for name, per_k in cold.items():
        assert set(per_k) == {"1", "3", "5", "10"}, name
        assert per_k["5"]["readers"] > 0 and 0 <= per_k["5"]["ndcg@10"] <= 1, name
    ease = cold[f"EASE (lambda={report['settings']['ease_lambda']:g})"]
    # Taste matters in this world: item-to-item beats most-read-first once 5 books are known.
    assert ease["5"]["ndcg@10"] > cold["popularity"]["5"]["ndcg@10"]
    assert report["lists"] and not report["real_readers"] and not report["onboarding"]
    printed = capsys.readouterr().out
    assert "Tutorial protocol (80/20 random split, seed 42): test RMSE" in printed
    assert f"{rmse['tutorial model']:.4f}" in printed
    assert f"Tutorial split, ranking ({ranking['ours']['readers']} sampled readers" in printed
    assert "Cold-start protocol" in printed


@pytest.mark.slow
def test_the_lists_protocol_ranks_for_the_cold_start_readers_with_its_models(
    eval_world, tmp_path, monkeypatch
):
    """Run after the cold-start protocol, the lists protocol trains nothing: it ranks for the
    same held-out readers with the same models (EASE at lambda 1000, whatever lambda the
    cold start reports), so its figures are those of the lists protocol run alone."""
    from bookrec_tui.evaluation import run

    trained = []
    train_ours = run._train_ours
    monkeypatch.setattr(
        run,
        "_train_ours",
        lambda *args, **kwargs: trained.append(args[3]) or train_ours(*args, **kwargs),
    )
    after_cold_start, alone = tmp_path / "both.json", tmp_path / "alone.json"
    common = {"users": 40, "epochs": 1, "data_dir": eval_world.data_dir}
    run.run_evaluation(EvaluationConfig(after_cold_start, skip_tutorial_protocol=True, **common))
    assert trained == ["cold-start split"]
    run.run_evaluation(EvaluationConfig(alone, only="lists", **common))
    assert trained == ["cold-start split", "lists split"]
    both, by_itself = json.loads(after_cold_start.read_text()), json.loads(alone.read_text())
    assert both["settings"]["protocols"] == ["cold-start", "lists"]
    # This world's validation readers pick another lambda than the lists' 1000.
    assert both["settings"]["ease_lambda"] != 1000
    lists = both["lists"]["held-out readers (k=10)"]
    assert {name.split(" (")[0] for name in lists} == {"ours", "EASE"}
    assert all("lambda=1000" in name for name in lists if name.startswith("EASE"))
    assert lists == by_itself["lists"]["held-out readers (k=10)"]


def test_two_real_reader_runs_compare_paired_with_the_benchmark_script(
    eval_world, tmp_path, capsys
):
    """`evaluate --only real-readers --orders N` on two bundles, then
    benchmarks/compare_real_readers.py on the two saved reports: the same readers in the
    same orders, so the paired difference is the difference of the two reports' means."""
    import importlib.util

    from bookrec_tui.core.bundle import BUNDLE_NAME
    from bookrec_tui.evaluation.run import run_evaluation

    exports = tmp_path / "exports"
    exports.mkdir()
    keen = tiny_world.make_ratings(3, seed=21, tastes=(2, 3), reads=(24, 30), others=4)
    header = "Book Id,Title,Author,My Rating,Exclusive Shelf"
    for u in np.unique(keen[:, 0]):
        lines = [f"{1000 + b},Book {b},Some Author,{s},read" for _, b, s in keen[keen[:, 0] == u]]
        (exports / f"reader{u}.csv").write_text("\n".join([header, *lines]) + "\n")
    other_model = tmp_path / "other-model"
    other_model.mkdir()
    catalogue = eval_world.catalogue()
    ratings = np.loadtxt(eval_world.data_dir / "ratings.csv", delimiter=",", skiprows=1)
    ratings = ratings[:, [1, 0, 2]].astype(np.int64)  # (user, book, stars)
    tiny_world.build_bundle(ratings[::2], catalogue, dim=4).save(other_model / BUNDLE_NAME)
    reports = {}
    for name, model_dir in (("a", eval_world.model_dir), ("b", other_model)):
        reports[name] = tmp_path / f"{name}.json"
        config = EvaluationConfig(
            reports[name],
            only="real-readers",
            exports=exports,
            min_rated=10,
            orders=4,
            data_dir=eval_world.data_dir,
            model_dir=model_dir,
        )
        assert run_evaluation(config) == 0
    a, b = (json.loads(reports[n].read_text())["real_readers"] for n in "ab")
    assert a["order_seeds"] == [0, 1, 2, 3] and len(a["libraries"]) == 3
    # each report names the bundle it scored (neither is the shipped one)
    ours_a = f"ours (bundle in {eval_world.model_dir.name})"
    ours_b = f"ours (bundle in {other_model.name})"
    assert ours_a in a["mean"] and ours_b in b["mean"] and "ours (shipped bundle)" not in a["mean"]
    capsys.readouterr()

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_real_readers.py"
    spec = importlib.util.spec_from_file_location("compare_real_readers", script)
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    assert compare.main([str(reports["a"]), str(reports["b"]), "--first-orders", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["readers"] == 3 and printed["orders"] == 4
    for k in ("5", "10"):
        for metric in ("ndcg@10", "recall@20", "rmse"):
            d = printed["difference"][f"k={k}"][metric]
            expected = a["mean"][ours_a][k][metric] - b["mean"][ours_b][k][metric]
            assert d["difference"] == pytest.approx(expected), (k, metric)
            assert d["interval"][0] <= d["difference"] <= d["interval"][1]
    assert set(printed["first 2 orders"]) == {"k=5", "k=10"}
