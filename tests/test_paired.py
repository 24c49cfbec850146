"""The real-reader protocol's paired comparison (evaluation/paired.py): two methods over the
same readers and seeded orders, reader by reader, with a bootstrap interval over readers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tiny_world

from bookrec_tui.evaluation.paired import (
    PairingError,
    bootstrap_interval,
    first_orders,
    paired_difference,
)
from bookrec_tui.evaluation.protocols import EvalReport, evaluate_real_readers

N_BOOKS = len(tiny_world.BOOKS)
GENRE = np.array([g for _, _, _, g, _ in tiny_world.BOOKS])


class Popular:
    """The same ranking for everyone: book rows in catalogue order (earlier = more read)."""

    def rank_scores(self, rows, stars):
        return -np.arange(N_BOOKS, dtype=np.float64)

    def predict_stars(self, rows, stars, targets):
        return np.full(len(targets), 4.0)


class SameGenre(Popular):
    """Books of the genres the reader revealed loving first: it depends on the order."""

    def rank_scores(self, rows, stars):
        loved = GENRE[np.asarray(rows)[np.asarray(stars) >= 4]]
        return np.isin(GENRE, loved) * 100.0 + super().rank_scores(rows, stars)

    def predict_stars(self, rows, stars, targets):
        return np.full(len(targets), 3.5)


def libraries(n_readers: int = 12) -> dict:
    """Tiny-world readers as real-reader libraries: name -> (catalogue rows, stars)."""
    r = tiny_world.make_ratings(n_readers, seed=3, tastes=(1, 2), reads=(14, 30), others=4)
    return {
        f"reader{u}.csv": (r[r[:, 0] == u, 1] - 1, r[r[:, 0] == u, 2]) for u in np.unique(r[:, 0])
    }


def saved(result: dict) -> dict:
    """A result as `evaluate --out` saves it and the comparison reads it back."""
    return json.loads(json.dumps(result))


def test_two_saved_runs_pair_reader_by_reader_whatever_order_they_list_readers_in():
    libs = libraries()
    a = saved(evaluate_real_readers({"ours": SameGenre()}, libs, ks=(5,), repetitions=6))
    backwards = dict(reversed(list(libs.items())))
    b = saved(evaluate_real_readers({"ours": Popular()}, backwards, ks=(5,), repetitions=6))
    assert list(a["per_reader"]) != list(b["per_reader"])

    d = paired_difference(a, b, "ours", "ours", k=5)
    for reader in libs:
        expected = a["per_reader"][reader]["ours"]["5"]["ndcg@10"]
        expected -= b["per_reader"][reader]["ours"]["5"]["ndcg@10"]
        assert d.per_reader[reader] == pytest.approx(expected)
    assert len(set(np.round(list(d.per_reader.values()), 6))) > 3  # readers differ
    assert d.readers == 12 and d.a_higher + d.b_higher + d.ties == 12
    assert d.mean_a == pytest.approx(a["mean"]["ours"]["5"]["ndcg@10"])
    assert d.difference == pytest.approx(d.mean_a - d.mean_b)
    assert d.interval[0] < d.difference < d.interval[1]
    assert d.relative == pytest.approx(d.difference / d.mean_b)
    # RMSE pairs the same way (3.5 against 4.0 stars for every hidden book).
    rmse = paired_difference(a, b, "ours", "ours", k=5, metric="rmse")
    assert rmse.order_se is None and rmse.a_higher + rmse.b_higher > 0


def test_runs_of_other_readers_or_other_orders_refuse_to_pair():
    libs = libraries()
    a = evaluate_real_readers({"ours": SameGenre()}, libs, ks=(5,), repetitions=6)
    fewer_orders = evaluate_real_readers({"ours": Popular()}, libs, ks=(5,), repetitions=5)
    with pytest.raises(PairingError, match="not the same reveal orders"):
        paired_difference(a, fewer_orders, "ours", "ours", k=5)
    one_less = dict(list(libs.items())[1:])
    other_readers = evaluate_real_readers({"ours": Popular()}, one_less, ks=(5,), repetitions=6)
    with pytest.raises(PairingError, match="not the same readers"):
        paired_difference(a, other_readers, "ours", "ours", k=5)
    old = {key: v for key, v in a.items() if key != "order_seeds"}  # a report from before
    with pytest.raises(PairingError, match="cannot be paired"):
        paired_difference(a, old, "ours", "ours", k=5)
    with pytest.raises(PairingError, match="no method 'EASE'"):
        paired_difference(a, a, "ours", "EASE", k=5)


def test_the_first_orders_of_a_longer_run_are_a_shorter_run():
    libs = libraries(6)
    methods = {"ours": SameGenre()}
    thirty = saved(evaluate_real_readers(methods, libs, ks=(5,), repetitions=30))
    five = saved(evaluate_real_readers(methods, libs, ks=(5,), repetitions=5))
    cut = first_orders(thirty, 5)
    for reader in libs:
        assert cut["per_reader"][reader]["ours"]["5"]["ndcg@10"] == pytest.approx(
            five["per_reader"][reader]["ours"]["5"]["ndcg@10"]
        )
    assert paired_difference(cut, five, "ours", "ours", k=5).difference == pytest.approx(0.0)
    # Each order's NDCG@10 averages to the reader's figure the longer run reports.
    for reader in libs:
        cell = thirty["per_reader"][reader]["ours"]["5"]
        assert np.mean([x for x in cell["ndcg@10 each"] if x is not None]) == pytest.approx(
            cell["ndcg@10"]
        )


def made_result(ndcg_each: dict[str, dict[str, list[float]]], k: int = 10) -> dict:
    """A real-reader result with given per-order NDCG@10: reader -> method -> values."""
    per_reader = {
        reader: {
            method: {k: {"ndcg@10": float(np.mean(each)), "ndcg@10 each": each}}
            for method, each in methods.items()
        }
        for reader, methods in ndcg_each.items()
    }
    n = len(next(iter(next(iter(ndcg_each.values())).values())))
    return {
        "per_reader": per_reader,
        "libraries": {reader: 25 for reader in ndcg_each},
        "order_seeds": list(range(n)),
    }


def test_the_interval_is_over_readers_not_over_orders():
    """Two readers, one +0.5 and one -0.5 in every one of 30 orders: resampling the two
    readers gives a mean of -0.5, 0 or +0.5, so the 95 % interval is the whole of it (over
    the 60 reader-orders it would be about ±0.13); the orders add no noise."""
    result = made_result(
        {
            "x": {"ours": [1.0] * 30, "other": [0.5] * 30},
            "y": {"ours": [0.0] * 30, "other": [0.5] * 30},
        }
    )
    d = paired_difference(result, result, "ours", "other", k=10)
    assert d.difference == 0.0 and d.interval == (-0.5, 0.5)
    # Student's t on 2 readers (1 degree of freedom: t = 12.706) is far wider.
    assert d.t_interval == pytest.approx((-12.706 * 0.5, 12.706 * 0.5), abs=1e-3)
    assert d.a_higher == 1 and d.b_higher == 1 and d.order_se == 0.0


def test_a_difference_the_same_for_every_reader_is_certain_but_for_its_order_noise():
    each_a = [0.3, 0.5, 0.3, 0.5]  # ours: a paired difference of 0 or 0.2, order by order
    result = made_result({r: {"ours": each_a, "other": [0.3] * 4} for r in ("x", "y", "z")})
    d = paired_difference(result, result, "ours", "other", k=10)
    assert d.difference == pytest.approx(0.1)
    assert d.interval == pytest.approx((0.1, 0.1)) and d.t_interval == pytest.approx((0.1, 0.1))
    assert d.relative_interval == pytest.approx((1 / 3, 1 / 3))
    # Each reader's mean of 4 orders has variance var(0, .2, 0, .2; ddof 1) / 4; three
    # independent readers, the mean of three.
    per_reader_var = np.var([0.0, 0.2, 0.0, 0.2], ddof=1) / 4
    assert d.order_se == pytest.approx(np.sqrt(3 * per_reader_var) / 3)
    assert d.a_higher == 3


def test_the_bootstrap_interval_is_seeded_and_agrees_with_normal_theory():
    values = np.random.default_rng(5).normal(0.02, 0.05, size=400)
    low, high = bootstrap_interval(values, seed=1)
    assert (low, high) == bootstrap_interval(values, seed=1)
    assert (low, high) != bootstrap_interval(values, seed=2)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert high == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_the_report_table_gives_each_paired_difference_with_its_interval():
    libs = libraries()
    result = evaluate_real_readers(
        {"ours": SameGenre(), "popular": Popular()}, libs, ks=(5,), repetitions=6
    )
    d = paired_difference(result, result, "ours", "popular", k=5)
    table = EvalReport(real_readers=result).table()
    assert "12 Goodreads exports, k revealed ratings, 6 seeded orders each" in table
    assert "NDCG@10, ours minus (paired)" in table
    line = next(x for x in table.splitlines() if "k=5  popular" in x)
    assert f"| {d.difference:+.3f}  {d.interval[0]:+.3f} to {d.interval[1]:+.3f}" in line
    assert f"| {d.order_se:.3f}" in line and line.endswith(f"| {d.a_higher} of 12")
