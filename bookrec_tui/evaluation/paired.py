"""Paired comparison of two methods on the real-reader protocol: the same readers, revealed in
the same seeded orders, so each reader's difference is the measurement and the spread over
readers (a seeded bootstrap) is its uncertainty.

Works on the JSON form of a report's ``real_readers`` section (``evaluate --out``), so two
runs of `bookrec-tui evaluate` (two bundles) compare as well as two methods of one run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from bookrec_tui.errors import BookrecError

#: Bootstrap resamples of the readers behind every interval.
BOOTSTRAP_SAMPLES = 10_000


class PairingError(BookrecError):
    """Two real-reader results that do not measure the same readers in the same orders."""


@dataclass(frozen=True)
class PairedDifference:
    """Method a minus method b on one metric at one k, reader by reader."""

    metric: str
    k: int
    readers: int
    mean_a: float
    mean_b: float
    difference: float  # mean over readers of a - b (= mean_a - mean_b)
    interval: tuple[float, float]  # bootstrap percentile interval over readers
    #: Student's t interval over the same per-reader differences: with a dozen readers the
    #: bootstrap's percentiles run narrow, so both are given.
    t_interval: tuple[float, float]
    relative: float  # difference / mean_b
    relative_interval: tuple[float, float]  # the same resamples, ratio of means - 1
    level: float
    a_higher: int  # readers for whom a is above b
    b_higher: int
    ties: int
    #: Standard error of ``difference`` from the reveal orders alone (readers held fixed);
    #: None where the results carry no per-order values (NDCG@10 only carries them).
    order_se: float | None
    per_reader: dict[str, float]  # a - b, by reader

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_interval(
    values: np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = 0.95,
    baseline: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` over resamples of its entries (with
    replacement, seeded). With ``baseline`` (paired with ``values``, same resamples), the
    interval of mean(values) / mean(baseline) - 1 instead."""
    values = np.asarray(values, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(values), size=(samples, len(values)))
    stat = values[picks].mean(axis=1)
    if baseline is not None:  # a resample whose baseline is all zero: an unbounded ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = stat / np.asarray(baseline, dtype=np.float64)[picks].mean(axis=1) - 1.0
        stat = np.where(np.isnan(stat), 0.0, stat)  # 0 / 0: no difference
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(stat, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean of ``values`` (independent readers)."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1)
    half /= np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def _cell(result: Mapping, reader: str, method: str, k: int) -> Mapping:
    """One reader's figures for one method at k; JSON has turned k into a string."""
    by_method = result["per_reader"][reader]
    if method not in by_method:
        raise PairingError(f"no method {method!r} in the results (they have {list(by_method)})")
    per_k = by_method[method]
    cell = per_k.get(k, per_k.get(str(k)))
    if cell is None:
        raise PairingError(f"{method!r} was not measured at k={k}")
    return cell


def check_paired(a: Mapping, b: Mapping) -> None:
    """Refuse two real-reader results that are not the same readers (with as many matched
    ratings) revealed in the same seeded orders."""
    for key in ("libraries", "order_seeds"):
        if key not in a or key not in b:
            raise PairingError(
                f"a real-reader result without {key!r}: rerun `bookrec-tui evaluate` "
                "(results from before the paired comparison cannot be paired)"
            )
    if dict(a["libraries"]) != dict(b["libraries"]):
        raise PairingError(
            "not the same readers: the libraries differ "
            f"({sorted(a['libraries'].items())} against {sorted(b['libraries'].items())})"
        )
    if list(a["order_seeds"]) != list(b["order_seeds"]):
        raise PairingError(
            f"not the same reveal orders ({len(a['order_seeds'])} against "
            f"{len(b['order_seeds'])} seeded orders per reader)"
        )


def _order_se(a: Mapping, b: Mapping, readers: list[str], ma: str, mb: str, k: int):
    """The standard error the reveal orders leave in the mean over readers of a - b: each
    reader's paired per-order differences give their mean's standard error; readers are
    independent, so these add in quadrature (divided by the number of readers)."""
    variances = []
    for r in readers:
        each_a = _cell(a, r, ma, k).get("ndcg@10 each")
        each_b = _cell(b, r, mb, k).get("ndcg@10 each")
        if each_a is None or each_b is None:
            return None
        d = np.array([x - y for x, y in zip(each_a, each_b, strict=True) if x is not None])
        variances.append(d.var(ddof=1) / len(d) if len(d) > 1 else 0.0)
    return float(np.sqrt(np.sum(variances)) / len(readers))


def paired_difference(
    a: Mapping,
    b: Mapping,
    method_a: str,
    method_b: str,
    k: int,
    metric: str = "ndcg@10",
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """``method_a`` of real-reader result ``a`` minus ``method_b`` of ``b`` (the same result
    for two methods of one run), paired reader by reader: the mean difference, its bootstrap
    interval over readers, and how many readers each method is ahead for."""
    check_paired(a, b)
    readers = sorted(a["libraries"])
    va = np.array([_cell(a, r, method_a, k)[metric] for r in readers], dtype=np.float64)
    vb = np.array([_cell(b, r, method_b, k)[metric] for r in readers], dtype=np.float64)
    diff = va - vb
    return PairedDifference(
        metric=metric,
        k=k,
        readers=len(readers),
        mean_a=float(va.mean()),
        mean_b=float(vb.mean()),
        difference=float(diff.mean()),
        interval=bootstrap_interval(diff, samples, seed, level),
        t_interval=t_interval(diff, level),
        relative=float(diff.mean() / vb.mean()),
        relative_interval=bootstrap_interval(va, samples, seed, level, baseline=vb),
        level=level,
        a_higher=int((diff > 0).sum()),
        b_higher=int((diff < 0).sum()),
        ties=int((diff == 0).sum()),
        order_se=_order_se(a, b, readers, method_a, method_b, k) if metric == "ndcg@10" else None,
        per_reader={r: float(d) for r, d in zip(readers, diff, strict=True)},
    )


def first_orders(result: Mapping, n: int) -> dict:
    """The real-reader result a run with only the first ``n`` seeded orders would have given,
    for NDCG@10 (rebuilt from each order's value; the other metrics are dropped): what
    fewer orders would have said, from one run."""
    seeds = list(result["order_seeds"])
    if n > len(seeds):
        raise PairingError(f"the result has {len(seeds)} orders per reader, not {n}")
    per_reader = {}
    for reader, by_method in result["per_reader"].items():
        per_reader[reader] = {}
        for method, per_k in by_method.items():
            per_reader[reader][method] = {}
            for k, cell in per_k.items():
                each = cell["ndcg@10 each"][:n]
                kept = [x for x in each if x is not None]
                per_reader[reader][method][k] = {
                    "ndcg@10": float(np.mean(kept)) if kept else float("nan"),
                    "ndcg@10 each": each,
                }
    return {
        "per_reader": per_reader,
        "order_seeds": seeds[:n],
        "libraries": dict(result["libraries"]),
        "repetitions": n,
    }
