"""`bookrec-tui evaluate`: the tutorial protocol (RMSE on an 80/20 split) and the cold-start
protocol (held-out readers, k revealed ratings), every method in the same run."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bookrec_tui.core.catalogue import Catalogue, Dataset, Ratings
from bookrec_tui.core.metrics import ndcg_at, recall_at, top_n
from bookrec_tui.core.scoring import Scorer
from bookrec_tui.errors import DataError
from bookrec_tui.evaluation.config import REAL_READER_ORDERS
from bookrec_tui.training.interactions import UserItems

if TYPE_CHECKING:
    from bookrec_tui.store.goodreads import Match

Log = Callable[[str], None]


Heldout = list[tuple[np.ndarray, np.ndarray]]  # per reader: shuffled (rows, stars)


@dataclass
class ColdStartSplit:
    train: Ratings
    test: Heldout  # the reported readers
    validation: Heldout  # other held-out readers, for tuning (EASE's lambda, our settings)


def _shuffled(ratings: Ratings, dataset: Dataset, seed: int) -> Heldout:
    items = UserItems.build(ratings, dataset.catalogue)
    shuffle = np.random.default_rng(seed)
    out = []
    for u in range(items.n_users):
        rows, stars = items.user(u)
        perm = shuffle.permutation(len(rows))
        out.append((rows[perm], stars[perm].astype(np.int64)))
    return out


def cold_start_split(
    dataset: Dataset,
    n_users: int = 2000,
    min_ratings: int = 20,
    seed: int = 0,
    n_validation: int = 1000,
) -> ColdStartSplit:
    """Hold out ``n_users`` test readers (sampled with ``seed`` among readers with at least
    ``min_ratings`` ratings) and ``n_validation`` more for tuning; all removed from training."""
    r = dataset.ratings
    users, counts = np.unique(r.user_ids, return_counts=True)
    eligible = users[counts >= min_ratings]
    if len(eligible) < 2:  # one test reader and one validation reader at the very least
        raise DataError(
            f"The cold-start protocol needs readers with at least {min_ratings} ratings (some "
            f"to hold out, some to tune on); this ratings file has {len(eligible)} of "
            f"{len(users)} readers. Evaluate on a fuller ratings file (goodbooks-10k has "
            "tens of thousands), or run another protocol: `--only real-readers`."
        )
    test = np.sort(
        np.random.default_rng(seed).choice(
            eligible, size=min(n_users, len(eligible)), replace=False
        )
    )
    rest = np.setdiff1d(eligible, test)
    val = np.sort(
        np.random.default_rng(seed + 1).choice(
            rest, size=min(n_validation, len(rest)), replace=False
        )
    )
    is_test, is_val = np.isin(r.user_ids, test), np.isin(r.user_ids, val)
    return ColdStartSplit(
        train=r.subset(~(is_test | is_val)),
        test=_shuffled(r.subset(is_test), dataset, seed + 100),
        validation=_shuffled(r.subset(is_val), dataset, seed + 200),
    )


def _ranking_metrics(method: Scorer, rev_rows, rev_stars, hid_rows, hid_stars):
    """(Recall@20, NDCG@10) of ranking every book but the revealed ones, relevant = the
    hidden books rated >= 4; None when none is."""
    relevant = {int(i) for i in hid_rows[hid_stars >= 4]}
    if not relevant:
        return None
    ranked = top_n(method.rank_scores(rev_rows, rev_stars), rev_rows, 20)
    return recall_at(ranked, relevant, 20), ndcg_at(ranked, relevant, 10)


def evaluate_known_readers(methods: dict[str, Scorer], readers) -> dict:
    """Readers whose training ratings are all revealed and whose held-out ratings are
    hidden (the tutorial protocol's split): Recall@20 and NDCG@10, relevant = held-out books
    rated >= 4, means over the readers that have one. ``readers``: (revealed rows, stars,
    hidden rows, stars) each."""
    results = {}
    for name, method in methods.items():
        scored = [m for r in readers if (m := _ranking_metrics(method, *r)) is not None]
        results[name] = {
            "recall@20": float(np.mean([m[0] for m in scored])),
            "ndcg@10": float(np.mean([m[1] for m in scored])),
            "readers": len(scored),
        }
    return results


def evaluate_cold_start(
    methods: dict[str, Scorer], heldout, ks=(1, 3, 5, 10), each: bool = False
) -> dict:
    """Recall@20, NDCG@10 (relevant = hidden books rated >= 4) and RMSE on hidden books.
    With ``each``, also every entry's NDCG@10 in ``heldout`` order ("ndcg@10 each"; None
    for an entry with no relevant hidden book, which the mean leaves out too)."""
    results: dict = {}
    for name, method in methods.items():
        per_k = {}
        for k in ks:
            recalls, ndcgs, sq, cnt = [], [], 0.0, 0
            ndcg_each: list[float | None] = []
            for rows, stars in heldout:
                rev_rows, rev_stars = rows[:k], stars[:k]
                hid_rows, hid_stars = rows[k:], stars[k:]
                ranking = _ranking_metrics(method, rev_rows, rev_stars, hid_rows, hid_stars)
                ndcg_each.append(None)
                if ranking is not None:
                    recalls.append(ranking[0])
                    ndcgs.append(ranking[1])
                    ndcg_each[-1] = ndcgs[-1]
                pred = method.predict_stars(rev_rows, rev_stars, hid_rows)
                if pred is not None:
                    sq += float(((pred - hid_stars) ** 2).sum())
                    cnt += len(hid_stars)
            per_k[k] = {
                "recall@20": float(np.mean(recalls)),
                "ndcg@10": float(np.mean(ndcgs)),
                "rmse": float(np.sqrt(sq / cnt)) if cnt else None,
                "readers": len(recalls),
            }
            if each:
                per_k[k]["ndcg@10 each"] = ndcg_each
        results[name] = per_k
    return results


@dataclass(frozen=True)
class RealReaders:
    """The Goodreads exports in a folder, each parsed and matched to the catalogue once:
    file name -> its matches. The real-reader, onboarding and lists protocols all read
    from it (a file that is not an export is left out)."""

    catalogue: Catalogue
    matches: dict[str, list[Match]]

    @classmethod
    def read(cls, exports_dir: Path, catalogue: Catalogue) -> RealReaders:
        from bookrec_tui.store.goodreads import CatalogueMatcher, GoodreadsError, parse_export

        matcher = CatalogueMatcher(catalogue)
        matches = {}
        for path in sorted(Path(exports_dir).glob("*.csv")):
            try:
                entries = parse_export(path)
            except GoodreadsError:
                continue
            matches[path.name] = matcher.match_all(entries)
        return cls(catalogue, matches)

    def libraries(self, min_rated: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Exports with at least ``min_rated`` rated books found in the catalogue: file
        name -> (catalogue rows, stars). A book listed twice keeps its last rating."""
        from bookrec_tui.store.goodreads import matched_ratings

        libraries = {}
        for name, matches in self.matches.items():
            rated = matched_ratings(matches)
            if len(rated) >= min_rated:
                rows = self.catalogue.rows(np.fromiter(rated, np.int64)).astype(np.int64)
                libraries[name] = (rows, np.fromiter(rated.values(), np.int64))
        return libraries

    def shelves(self, min_rated: int = 20) -> dict[str, dict[int, int]]:
        """What each reader has read, as onboarding answers: file name -> {book_id: stars,
        or 0 for a book on the `read` shelf without a rating}, for the same exports as
        :meth:`libraries` (at least ``min_rated`` rated books in the catalogue)."""
        shelves = {}
        for name, matches in self.matches.items():
            read: dict[int, int] = {}
            for m in matches:
                if m.book_id is not None and (m.entry.rating or m.entry.shelf == "read"):
                    read[m.book_id] = m.entry.rating or read.get(m.book_id, 0)
            if sum(1 for s in read.values() if s) >= min_rated:
                shelves[name] = read
        return shelves


Asker = Callable[[dict[int, int | None]], int | None]


def fixed_list_asker(book_ids: list[int]) -> Asker:
    """An onboarding that asks the same books in the same order whatever the answers."""

    def ask(answers: dict[int, int | None]) -> int | None:
        return next((b for b in book_ids if b not in answers), None)

    return ask


def fixed_onboarding_list(rec, n: int = 40, pool: int = 600) -> list[int]:
    """The onboarding the app asked before next_question, kept as a baseline: popular times
    divisive books, one per author, none linked to an earlier one, no sequels, in the same
    order whatever the answers."""
    c = rec.catalogue
    counts = np.log10(np.maximum(c.ratings_counts.astype(np.float64), 1.0))
    chosen: list[int] = []
    blocked: set[int] = set()
    authors: set[str] = set()
    for row in np.argsort(-counts * c.rating_stds)[:pool]:
        book_id = int(c.book_ids[row])
        author = c.first_author(book_id)
        if row in blocked or author in authors or (c.series_position(book_id) or 1) > 1:
            continue
        chosen.append(book_id)
        authors.add(author)
        blocked.update(rec.linked_rows(int(row)).tolist())
        if len(chosen) == n:
            break
    return chosen


def most_rated_list(catalogue, n: int = 40) -> list[int]:
    """Plain most-rated on Goodreads, as a fixed onboarding list (a baseline)."""
    order = np.argsort(-catalogue.ratings_counts, kind="stable")[:n]
    return [int(b) for b in catalogue.book_ids[order]]


def onboarding_askers(rec) -> dict[str, Asker]:
    """The onboarding strategies `bookrec-tui evaluate` compares."""
    return {
        "adaptive (next_question)": rec.next_question,
        "fixed list (before)": fixed_list_asker(fixed_onboarding_list(rec)),
        "most rated on Goodreads": fixed_list_asker(most_rated_list(rec.catalogue)),
    }


def simulate_onboarding(ask: Asker, read: Mapping[int, int], n: int = 10) -> dict:
    """Ask ``n`` questions of a reader who answers from their shelf: stars for a rated book,
    0 for one read without a rating, None (not read) otherwise."""
    answers: dict[int, int | None] = {}
    for _ in range(n):
        book = ask(answers)
        if book is None:
            break
        answers[book] = read.get(book)
    return answers


def evaluate_onboarding(rec, askers: dict[str, Asker], shelves: dict, n: int = 10) -> dict:
    """Per asker: books the reader had read among the first ``n`` questions (mean per reader),
    and NDCG@10 of the recommendations made from the answers (relevant = the reader's other
    books rated >= 4; the books asked about are not recommended)."""
    results: dict = {}
    for name, ask in askers.items():
        answered, rated, ndcgs, per_reader = [], [], [], {}
        for reader, read in shelves.items():
            answers = simulate_onboarding(ask, read, n)
            known = [b for b, a in answers.items() if a is not None]
            stars = {b: a for b, a in answers.items() if a}
            relevant = {rec.catalogue.row(b) for b, s in read.items() if s >= 4} - {
                rec.catalogue.row(b) for b in answers
            }
            recs = rec.recommend(stars, n=10, exclude=list(answers))
            ranked = rec.catalogue.rows(np.array([r.book_id for r in recs], np.int64))
            ndcg = ndcg_at(ranked, relevant, 10) if relevant else 0.0
            answered.append(len(known))
            rated.append(len(stars))
            ndcgs.append(ndcg)
            per_reader[reader] = {"read": len(known), "rated": len(stars), "ndcg@10": ndcg}
        results[name] = {
            "read_of_first_10": float(np.mean(answered)),
            "rated_of_first_10": float(np.mean(rated)),
            "ndcg@10_after": float(np.mean(ndcgs)),
            "readers": len(shelves),
            "per_reader": per_reader,
        }
    return results


def reveal_orders(n_rated: int, repetitions: int) -> list[np.ndarray]:
    """The seeded orders a library of ``n_rated`` books is revealed in: order i is seeded
    with i, so the first 5 of 30 orders are the 5 orders of a 5-order run, and two runs
    with the same libraries reveal the same books (their results pair)."""
    return [np.random.default_rng(rep).permutation(n_rated) for rep in range(repetitions)]


def evaluate_real_readers(
    methods: dict[str, Scorer], libraries: dict, ks=(5, 10), repetitions: int = REAL_READER_ORDERS
) -> dict:
    """Each reader's library, revealed k books at a time in ``repetitions`` seeded random
    orders (:func:`reveal_orders`); the rest is hidden (relevant = hidden books rated >= 4).
    Reported per reader (with each order's NDCG@10, for the order noise), and as the mean
    over readers, so a big library counts as much as a small one."""
    per_reader = {}
    for name, (rows, stars) in libraries.items():
        orders = reveal_orders(len(rows), repetitions)
        per_reader[name] = evaluate_cold_start(
            methods, [(rows[o], stars[o]) for o in orders], ks=ks, each=True
        )
    mean = {
        method: {
            k: {
                metric: (
                    None
                    if any(per_reader[r][method][k][metric] is None for r in per_reader)
                    else float(np.mean([per_reader[r][method][k][metric] for r in per_reader]))
                )
                for metric in ("recall@20", "ndcg@10", "rmse")
            }
            | {"readers": len(per_reader)}
            for k in ks
        }
        for method in methods
    }
    return {
        "mean": mean,
        "per_reader": per_reader,
        "repetitions": repetitions,
        "order_seeds": list(range(repetitions)),
        "libraries": {name: len(rows) for name, (rows, _) in libraries.items()},
    }


def tutorial_split(ratings: Ratings, seed: int = 42, test_frac: float = 0.2):
    """The tutorial's protocol: ``test_frac`` of all ratings, drawn at random, held out."""
    rng = np.random.default_rng(seed)
    test = rng.random(len(ratings)) < test_frac
    return ratings.subset(~test), ratings.subset(test)


def machine_info() -> dict:
    import os

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


@dataclass
class EvalReport:
    tutorial_protocol: dict = field(default_factory=dict)
    tutorial_ranking: dict = field(default_factory=dict)  # a sample of its readers
    cold_start: dict = field(default_factory=dict)
    real_readers: dict = field(default_factory=dict)
    onboarding: dict = field(default_factory=dict)
    lists: dict = field(default_factory=dict)  # series-aware protocol and trust audit
    settings: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "tutorial_protocol": self.tutorial_protocol,
                "tutorial_ranking": self.tutorial_ranking,
                "cold_start": self.cold_start,
                "real_readers": self.real_readers,
                "onboarding": self.onboarding,
                "lists": self.lists,
                "settings": self.settings,
                "timings": self.timings,
                "machine": machine_info(),
            },
            indent=2,
        )

    def table(self) -> str:
        lines = []
        if self.tutorial_protocol:
            lines.append("Tutorial protocol (80/20 random split, seed 42): test RMSE")
            for name, rmse in self.tutorial_protocol.items():
                lines.append(f"  {name:<26} {rmse:.4f}")
        if self.tutorial_ranking:
            first = next(iter(self.tutorial_ranking.values()))
            lines.append(
                f"Tutorial split, ranking ({first['readers']} sampled readers: all their "
                "training ratings revealed, their test ratings hidden)"
            )
            lines.append(f"  {'method':<26} R@20   N@10")
            for name, m in self.tutorial_ranking.items():
                lines.append(f"  {name:<26} {m['recall@20']:.3f}  {m['ndcg@10']:.3f}")
        if self.cold_start:
            lines.append("Cold-start protocol (held-out readers, k revealed ratings)")
            lines += _metric_rows(self.cold_start)
        if self.real_readers:
            mean = self.real_readers["mean"]
            readers = next(iter(next(iter(mean.values())).values()))["readers"]
            lines.append(
                f"Real-reader protocol ({readers} Goodreads exports, k revealed ratings, "
                f"{self.real_readers['repetitions']} seeded orders each)"
            )
            lines += _metric_rows(mean)
            lines += _paired_rows(self.real_readers)
        if self.onboarding:
            first = next(iter(self.onboarding.values()))
            lines.append(
                f"Onboarding ({first['readers']} Goodreads exports answering from their "
                "shelves: first 10 questions)"
            )
            lines.append(f"  {'asker':<28} | read  rated | NDCG@10 after")
            for name, m in self.onboarding.items():
                lines.append(
                    f"  {name:<28} | {m['read_of_first_10']:4.2f}  {m['rated_of_first_10']:4.2f}"
                    f"  | {m['ndcg@10_after']:.3f}"
                )
        for population, methods in self.lists.items():
            lines.append(
                f"Series-aware lists, {population}: NDCG@10, R@20 and per-slot rates of the top 20"
            )
            lines.append(
                f"  {'method':<34} N@10   R@20   gap+read  gap    read   edition  crowd@10"
            )
            for name, m in methods.items():
                lines.append(
                    f"  {name:<34} {m['ndcg@10']:.3f}  {m['recall@20']:.3f}  "
                    f"{m['sequel_gap + implied_read rate']:.3f}     {m['sequel_gap rate']:.3f}  "
                    f"{m['implied_read rate']:.3f}  {m['edition_overlap rate']:.3f}    "
                    f"{m['crowding rate']:.3f}"
                )
        return "\n".join(lines)


def _paired_rows(real_readers: dict) -> list[str]:
    """'ours' against each other method, paired reader by reader on NDCG@10: the mean
    difference, its bootstrap interval over readers, the order noise and who is ahead."""
    from bookrec_tui.evaluation.paired import paired_difference

    first = next(iter(real_readers["per_reader"].values()))
    ours = next(m for m in first if m.startswith("ours"))
    lines = [
        f"  {'NDCG@10, ours minus (paired)':<33} | diff    95 % over readers | orders SE"
        " | ours higher"
    ]
    for other in (m for m in first if m != ours):
        for k in first[ours]:
            d = paired_difference(real_readers, real_readers, ours, other, k)
            low, high = d.interval
            noise = f"{d.order_se:.3f}" if d.order_se is not None else "  -  "
            lines.append(
                f"  {f'k={k}':<5}{other:<28} | {d.difference:+.3f}  {low:+.3f} to {high:+.3f}"
                f"  | {noise}     | {d.a_higher} of {d.readers}"
            )
    return lines


def _metric_rows(results: dict) -> list[str]:
    ks = sorted({int(k) for m in results.values() for k in m})
    lines = [f"  {'method':<28}" + "".join(f" | k={k:<2} R@20  N@10  RMSE " for k in ks)]
    for name, per_k in results.items():
        cells = []
        for k in ks:
            m = per_k.get(k) or per_k.get(str(k))
            rmse = f"{m['rmse']:.3f}" if m["rmse"] is not None else "  -  "
            cells.append(f" |      {m['recall@20']:.3f} {m['ndcg@10']:.3f} {rmse}")
        lines.append(f"  {name:<28}" + "".join(cells))
    return lines


def timed(timings: dict, key: str):
    class _T:
        def __enter__(self):
            self.t = time.perf_counter()

        def __exit__(self, *exc):
            timings[key] = round(time.perf_counter() - self.t, 2)

    return _T()


def save_report(report: EvalReport, path: Path) -> None:
    from bookrec_tui.fsutil import atomic_writer

    with atomic_writer(Path(path), "w") as handle:
        handle.write(report.to_json())
