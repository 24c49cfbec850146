"""How far a reader can trust a list: the series-aware protocol and the trust audit of
`bookrec-tui evaluate --only lists`. numpy only.

Series-aware relevance: a hidden book rated >= 4 counts only if the revealed ratings do not
already imply it read (an earlier entry of a series read in order, a book inside a rated
omnibus): recommending it is no discovery.

The audit counts, per slot of a top-``n`` list (each slot judged against the reader's
revealed books and the slots above it):

* sequel gap: an entry of a series read in order whose earlier whole entry is unread;
* implied read: a book the reader has read (stated, inside an omnibus, or before their
  furthest entry of an ordered series);
* edition overlap: an omnibus, box set, partial edition or adaptation sharing a book with
  one read or listed above;
* crowding (top 10 only): a second entry of one series or a fourth book by one author.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from bookrec_tui.core.listing import ListAssembler, ReaderBooks
from bookrec_tui.core.metrics import ndcg_at, recall_at, top_n
from bookrec_tui.core.works import Works

AUDIT_KEYS = ("sequel_gap", "implied_read", "edition_overlap", "crowding")


def series_relevant(
    works: Works, revealed: np.ndarray, hidden: np.ndarray, hidden_stars: np.ndarray
) -> set[int]:
    """Hidden books rated >= 4 that the revealed ratings do not imply read."""
    implied = works.implied_read(revealed.tolist())
    return {int(r) for r in hidden[hidden_stars >= 4] if int(r) not in implied}


def audit_list(
    works: Works, author_ids: np.ndarray, revealed: Iterable[int], shown: Iterable[int]
) -> dict[str, int]:
    """Counts of each problem in one list (see the module docstring)."""
    known = [int(r) for r in revealed]
    read = works.implied_read(known)
    counts = dict.fromkeys(AUDIT_KEYS, 0)
    above: list[int] = []
    covered = set(works.read_closure(known))
    per_series: dict[int, int] = {}
    per_author: dict[int, int] = {}
    for slot, r in enumerate(int(x) for x in shown):
        sid = int(works.series[r])
        if r in read or int(works.main[r]) in read:
            counts["implied_read"] += 1
        elif works.overlaps(r, covered):
            counts["edition_overlap"] += 1
        elif sid >= 0 and works.is_ordered(sid):
            held = [works.position[x] for x in works.contains.get(r, ())]
            start = works.position[r] if not held else np.nanmin([*held, np.inf])
            seen = read | works.read_closure(above)
            if np.isfinite(start) and works.earlier_unread(sid, float(start), seen):
                counts["sequel_gap"] += 1
        if slot < 10:
            a = int(author_ids[r])
            if sid >= 0:
                per_series[sid] = per_series.get(sid, 0) + 1
            per_author[a] = per_author.get(a, 0) + 1
            if (sid >= 0 and per_series[sid] > 1) or per_author[a] > 3:
                counts["crowding"] += 1
        above.append(r)
        covered |= works.read_closure([r])
    return counts


@dataclass
class ListResults:
    """Sums over readers for one method, turned into means and per-slot rates."""

    ndcg: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AUDIT_KEYS, 0))
    slots: int = 0
    top10_slots: int = 0

    def summary(self) -> dict:
        rate = {
            k: (self.counts[k] / max(self.top10_slots if k == "crowding" else self.slots, 1))
            for k in AUDIT_KEYS
        }
        return {
            "ndcg@10": float(np.mean(self.ndcg)) if self.ndcg else None,
            "recall@20": float(np.mean(self.recall)) if self.recall else None,
            "readers": len(self.ndcg),
            "slots": self.slots,
            **{f"{k} rate": round(v, 4) for k, v in rate.items()},
            "sequel_gap + implied_read rate": round(rate["sequel_gap"] + rate["implied_read"], 4),
        }


ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
StarsFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def evaluate_lists(
    methods: dict[str, ScoreFn | tuple[ScoreFn, StarsFn]],
    heldout: list[tuple[np.ndarray, np.ndarray]],
    assembler: ListAssembler,
    k: int = 10,
    n: int = 20,
    star_blend: float = 0.0,
    calibration: float = 0.0,
) -> dict[str, dict]:
    """Each method's raw top-``n`` (its scores, minus the revealed books) beside the final
    list the app would show from the same scores; series-aware NDCG@10 and recall@20 and
    the audit's per-slot rates, over readers with ``k`` revealed ratings. A method given
    as (scores, predicted stars) has its final list ordered as the app orders it
    (:func:`~.listing.blend_order` with ``star_blend``), its books picked with the
    app's genre ``calibration``."""
    works = assembler.works
    results = {
        f"{name} ({kind})": ListResults() for name in methods for kind in ("raw", "final list")
    }
    for rows, stars in heldout:
        rev, rev_stars = rows[:k], stars[:k]
        hid, hid_stars = rows[k:], stars[k:]
        relevant = series_relevant(works, rev, hid, hid_stars)
        reader = ReaderBooks.of(
            known=rev.tolist(), stars=dict(zip(rev.tolist(), rev_stars.tolist(), strict=True))
        )
        for name, method in methods.items():
            score, stars_fn = method if isinstance(method, tuple) else (method, None)
            scores = np.asarray(score(rev, rev_stars), dtype=np.float64)
            raw = top_n(scores, rev, n)
            listed = assembler.assemble(scores, reader, n, calibration=calibration)
            final = np.array([b.row for b in listed], np.int64)
            if stars_fn is not None and len(final):
                predicted = stars_fn(rev, rev_stars, final)
                final = final[assembler.reorder(listed, predicted, star_blend)]
            for kind, shown in (("raw", raw), ("final list", final)):
                res = results[f"{name} ({kind})"]
                if relevant:
                    res.ndcg.append(ndcg_at(shown, relevant, 10))
                    res.recall.append(recall_at(shown, relevant, n))
                found = audit_list(works, assembler.author_ids, rev, shown)
                for key, value in found.items():
                    res.counts[key] += value
                res.slots += len(shown)
                res.top10_slots += min(len(shown), 10)
    return {name: res.summary() for name, res in results.items()}
