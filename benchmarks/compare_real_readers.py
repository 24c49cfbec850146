"""Paired real-reader comparison of two `bookrec-tui evaluate` reports: method a of report A
minus method b of report B, reader by reader over the same readers and seeded orders, with a
seeded bootstrap 95 % interval over readers, the order noise, and who is ahead. Prints JSON.

    bookrec-tui evaluate --only real-readers --model-dir /tmp/emb3 --out /tmp/rr/emb3.json
    bookrec-tui evaluate --only real-readers --out /tmp/rr/shipped.json
    python benchmarks/compare_real_readers.py /tmp/rr/emb3.json /tmp/rr/shipped.json

By default both methods are each report's "ours" (the bundle it scored); --method-a/-b pick
others (e.g. "EASE (lambda=1000)"); one report passed twice compares two of its methods.
--first-orders N also reports NDCG@10 from the first N orders only (what a run with N orders
gives), to see how much the order count moves it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import run_header  # noqa: E402

from bookrec_tui.evaluation.paired import (  # noqa: E402
    BOOTSTRAP_SAMPLES,
    first_orders,
    paired_difference,
)

METRICS = ("ndcg@10", "recall@20", "rmse")


def ours(result: dict) -> str:
    """The report's own model: the method whose name starts with "ours"."""
    methods = next(iter(result["per_reader"].values()))
    return next(m for m in methods if m.startswith("ours"))


def compare(a: dict, b: dict, method_a: str, method_b: str, samples: int, seed: int) -> dict:
    ks = [int(k) for k in next(iter(a["per_reader"].values()))[method_a]]
    out = {}
    for k in ks:
        out[f"k={k}"] = {}
        for metric in METRICS:
            cell = next(iter(a["per_reader"].values()))[method_a][str(k)]
            if cell.get(metric) is None:
                continue  # e.g. EASE predicts no stars
            d = paired_difference(a, b, method_a, method_b, k, metric, samples, seed)
            out[f"k={k}"][metric] = d.to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_a", type=Path, help="evaluate's JSON report (method a)")
    parser.add_argument("report_b", type=Path, help="evaluate's JSON report (method b)")
    parser.add_argument("--method-a", help="default: report A's 'ours'")
    parser.add_argument("--method-b", help="default: report B's 'ours'")
    parser.add_argument("--samples", type=int, default=BOOTSTRAP_SAMPLES)
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    parser.add_argument("--first-orders", type=int, nargs="*", default=[])
    args = parser.parse_args(argv)
    a = json.loads(args.report_a.read_text())["real_readers"]
    b = json.loads(args.report_b.read_text())["real_readers"]
    if not a or not b:
        parser.error("both reports need a real-reader protocol (evaluate --only real-readers)")
    method_a, method_b = args.method_a or ours(a), args.method_b or ours(b)
    result = run_header() | {
        "a": {"report": str(args.report_a), "method": method_a},
        "b": {"report": str(args.report_b), "method": method_b},
        "readers": len(a["libraries"]),
        "orders": len(a["order_seeds"]),
        "bootstrap": {"samples": args.samples, "seed": args.seed, "level": 0.95},
        "difference": compare(a, b, method_a, method_b, args.samples, args.seed),
    }
    for n in args.first_orders:
        fa, fb = first_orders(a, n), first_orders(b, n)
        result[f"first {n} orders"] = {
            f"k={k}": paired_difference(
                fa, fb, method_a, method_b, k, "ndcg@10", args.samples, args.seed
            ).to_dict()
            for k in (int(k) for k in next(iter(a["per_reader"].values()))[method_a])
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
