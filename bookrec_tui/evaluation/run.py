"""Runs every method of `bookrec-tui evaluate` in one process and prints one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bookrec_tui.core.catalogue import Dataset
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.errors import BookrecError
from bookrec_tui.evaluation.config import ON_EXPORTS, REAL_READER_ORDERS, EvaluationConfig
from bookrec_tui.evaluation.protocols import (
    ColdStartSplit,
    EvalReport,
    RealReaders,
    cold_start_split,
    evaluate_cold_start,
    evaluate_known_readers,
    evaluate_onboarding,
    evaluate_real_readers,
    onboarding_askers,
    reveal_orders,
    save_report,
    timed,
    tutorial_split,
)
from bookrec_tui.progress import console, progress_bar
from bookrec_tui.store.goodbooks import load_dataset
from bookrec_tui.training.baselines import (
    EASE,
    CataloguePopularity,
    Popularity,
    TutorialFoldIn,
    gram_matrix,
    train_tutorial_model,
)
from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig, train_embedding_model
from bookrec_tui.training.embedding_bundle import export_bundle as export_embedding_bundle
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.model import TrainConfig, export_bundle, train_model

EASE_LAMBDAS = (300.0, 1000.0, 3000.0)
DEFAULT_EASE_LAMBDA = 1000.0  # what the cold-start protocol's validation readers pick
assert DEFAULT_EASE_LAMBDA in EASE_LAMBDAS  # the cold-start protocol fits it for the lists
#: The lists protocol's real readers keep 5 orders each (its list assembly is the slow part).
LISTS_REAL_READER_ORDERS = 5
#: Readers of the tutorial split whose held-out ratings are also ranked (a seeded sample).
TUTORIAL_RANKING_READERS = 2000


OursConfig = TrainConfig | EmbeddingModelConfig


@dataclass(frozen=True)
class HeldOut:
    """The cold-start protocol's held-out readers and the models fit without them: the lists
    protocol ranks for the same readers with the same models (trained once a run)."""

    split: ColdStartSplit
    ours: FoldInScorer
    ease: EASE  # at DEFAULT_EASE_LAMBDA, whatever lambda the cold-start protocol reports


def _train_ours(items: UserItems, dataset: Dataset, cfg: OursConfig, label: str) -> FoldInScorer:
    """Our model on ``items`` (a split's training readers); the embedding model also learns
    from the ``dataset``'s to-read shelvings of those readers (read only for it)."""
    catalogue = dataset.catalogue
    n_books = len(catalogue)
    with progress_bar(f"ours ({label})", None) as update:

        def progress(done, total, logs):
            update(done, total, f"{logs.get('phase', '')} epoch {logs['epoch']}")

        if isinstance(cfg, EmbeddingModelConfig):
            trained = train_embedding_model(
                items,
                n_books,
                cfg,
                progress,
                ratings_counts=catalogue.ratings_counts,
                to_read=dataset.to_read_rows(),
            )
            bundle = export_embedding_bundle(trained, cfg, np.arange(n_books), {})
        else:
            model, _ = train_model(items, n_books, cfg, progress)
            bundle = export_bundle(model, items, np.arange(n_books), cfg, {})
    return FoldInScorer(bundle)


class RankingPart:
    """One part of our embedding model's ranking alone: its book vectors
    (``FoldInScorer.vector_scores``, without the popularity term) or its links
    (``link_scores``)."""

    def __init__(self, part: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.part = part

    def rank_scores(self, rows, stars) -> np.ndarray:
        return self.part(rows, stars)

    def predict_stars(self, rows, stars, targets):
        return None  # the same stars as ours: counted once


def ranking_parts(scorer: FoldInScorer) -> dict[str, RankingPart]:
    """A model with learned book vectors and links: each part alone (none for the link
    model, whose ranking is its links)."""
    if scorer.bundle.learned_vectors() is None:
        return {}
    return {
        "ours: embeddings alone": RankingPart(scorer.vector_scores),
        "ours: links alone": RankingPart(scorer.link_scores),
    }


def _tutorial_model(items: UserItems, n_books: int, label: str) -> np.ndarray:
    owner = np.repeat(np.arange(items.n_users), items.counts)
    with progress_bar(f"tutorial model ({label})", 10) as update:
        user_emb, book_emb = train_tutorial_model(
            owner,
            items.rows,
            items.stars,
            items.n_users,
            n_books,
            progress=lambda e, t, logs: update(e, t, f"loss {logs.get('loss', 0):.3f}"),
        )
    return user_emb, book_emb


def run_tutorial_protocol(dataset, cfg: OursConfig, report: EvalReport) -> None:
    train, test = tutorial_split(dataset.ratings)
    cat = dataset.catalogue
    n_books = len(cat)
    items = UserItems.build(train, cat)
    test_rows = cat.rows(test.book_ids)
    test_stars = test.stars.astype(np.float64)
    # CSR user index for test rows (users are the same readers as in training).
    user_pos = np.searchsorted(items.user_ids, test.user_ids)
    known = (user_pos < items.n_users) & (
        items.user_ids[np.minimum(user_pos, items.n_users - 1)] == test.user_ids
    )
    mu = float(train.stars.mean())
    rmse = {"global mean": float(np.sqrt(np.mean((test_stars - mu) ** 2)))}
    with timed(report.timings, "tutorial protocol: tutorial model"):
        user_emb, book_emb = _tutorial_model(items, n_books, "tutorial split")
    pred = np.where(
        known,
        np.sum(user_emb[np.minimum(user_pos, items.n_users - 1)] * book_emb[test_rows], axis=1),
        mu,
    )  # the tutorial model has no fold-in: an unseen reader gets the global mean
    rmse["tutorial model"] = float(np.sqrt(np.mean((np.clip(pred, 1, 5) - test_stars) ** 2)))
    with timed(report.timings, "tutorial protocol: ours"):
        scorer = _train_ours(items, dataset, cfg, "tutorial split")
    # A reader whose ratings all fell into the test split is folded in from no ratings.
    owner = np.where(known, user_pos, -1)
    pred = scorer.predict_stars(np.array([], np.int64), np.array([], np.int64), test_rows)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(items.n_users + 1))
    for u in range(items.n_users):
        sel = order[bounds[u] : bounds[u + 1]]
        if len(sel):
            rows, stars = items.user(u)
            pred[sel] = scorer.predict_stars(rows, stars, test_rows[sel])
    rmse["ours (fold-in of train ratings)"] = float(np.sqrt(np.mean((pred - test_stars) ** 2)))
    report.tutorial_protocol = rmse
    sample = np.random.default_rng(0).permutation(items.n_users)[:TUTORIAL_RANKING_READERS]
    readers = []
    for u in np.sort(sample):
        sel = order[bounds[u] : bounds[u + 1]]
        rows, stars = items.user(u)
        readers.append((rows, stars, test_rows[sel], test.stars[sel].astype(np.int64)))
    methods = {"popularity": Popularity(items, n_books), "ours": scorer}
    with timed(report.timings, "tutorial protocol: ranking"):
        report.tutorial_ranking = evaluate_known_readers(methods, readers)


def run_cold_start(dataset, cfg: OursConfig, n_users: int, report: EvalReport) -> HeldOut:
    """Held-out readers, k revealed ratings: popularity, EASE (lambda tuned on validation
    readers), the tutorial model's fold-in and ours. Returns the split and the models the
    lists protocol reuses."""
    split = cold_start_split(dataset, n_users=n_users)
    cat = dataset.catalogue
    n_books = len(cat)
    items = UserItems.build(split.train, cat)
    methods: dict = {"popularity": Popularity(items, n_books)}
    with timed(report.timings, "cold start: EASE (tuning lambda on validation readers)"):
        gram = gram_matrix(items, n_books)
        best, best_ndcg, default = None, -1.0, None
        tuning = {}
        for lam in EASE_LAMBDAS:
            ease = EASE(gram, lam)
            val = evaluate_cold_start({"EASE": ease}, split.validation, ks=(5,))["EASE"][5]
            tuning[lam] = val["ndcg@10"]
            if val["ndcg@10"] > best_ndcg:
                best, best_ndcg = ease, val["ndcg@10"]
            if lam == DEFAULT_EASE_LAMBDA:
                default = ease
        del gram
    report.settings["ease_lambda_validation_ndcg@10_k5"] = tuning
    report.settings["ease_lambda"] = best.lam
    methods[f"EASE (lambda={best.lam:g})"] = best
    with timed(report.timings, "cold start: tutorial model"):
        _, book_emb = _tutorial_model(items, n_books, "cold-start split")
    methods["tutorial model (fold-in)"] = TutorialFoldIn(book_emb)
    with timed(report.timings, "cold start: ours"):
        methods["ours"] = _train_ours(items, dataset, cfg, "cold-start split")
    if isinstance(cfg, EmbeddingModelConfig):
        methods |= ranking_parts(methods["ours"])
    with timed(report.timings, "cold start: scoring"):
        report.cold_start = evaluate_cold_start(methods, split.test)
    return HeldOut(split, methods["ours"], default)


def fit_held_out(dataset, cfg: OursConfig, n_users: int, report: EvalReport) -> HeldOut:
    """The cold-start protocol's split and models, for a run of the lists protocol alone."""
    split = cold_start_split(dataset, n_users=n_users)
    cat = dataset.catalogue
    items = UserItems.build(split.train, cat)
    with timed(report.timings, "lists: EASE (held-out split)"):
        ease = EASE(gram_matrix(items, len(cat)), DEFAULT_EASE_LAMBDA)
    with timed(report.timings, "lists: ours (held-out split)"):
        ours = _train_ours(items, dataset, cfg, "lists split")
    return HeldOut(split, ours, ease)


def _ease_on_all_ratings(dataset, lam: float) -> EASE:
    items = UserItems.build(dataset.ratings, dataset.catalogue)
    return EASE(gram_matrix(items, len(dataset.catalogue)), lam)


def run_real_readers(
    dataset,
    libraries: dict,
    bundle_path: Path,
    ease_lambda: float,
    report: EvalReport,
    orders: int = REAL_READER_ORDERS,
) -> EASE:
    """Real Goodreads readers (never in goodbooks-10k) against models fit on all of it: the
    bundle the app runs on, EASE on every rating, and Goodreads-wide popularity. Returns
    the EASE (the lists protocol reuses it when its lambda is the same)."""
    from bookrec_tui.core.bundle import Bundle
    from bookrec_tui.core.recommender import Recommender

    cat = dataset.catalogue
    ours = Recommender(Bundle.load(bundle_path), cat).scorer  # checks the bundle fits the data
    with timed(report.timings, "real readers: EASE on all ratings"):
        ease = _ease_on_all_ratings(dataset, ease_lambda)
    methods = {
        "popularity (Goodreads-wide)": CataloguePopularity(cat),
        f"EASE (lambda={ease_lambda:g})": ease,
        ours_label(bundle_path): ours,
    } | ranking_parts(ours)
    with timed(report.timings, "real readers: scoring"):
        report.real_readers = evaluate_real_readers(
            methods, libraries, ks=(5, 10), repetitions=orders
        )
    report.settings["real_readers"] = {"bundle": str(bundle_path)}
    return ease


def ours_label(bundle_path: Path) -> str:
    """The name a report gives the bundle it scored: the shipped one, or the folder of
    another (``evaluate --model-dir``), so a report of a candidate never reads as shipped."""
    from bookrec_tui.core.recommender import shipped_bundle_path

    if Path(bundle_path).resolve() == shipped_bundle_path().resolve():
        return "ours (shipped bundle)"
    return f"ours (bundle in {Path(bundle_path).resolve().parent.name})"


def run_onboarding(dataset, shelves: dict, config: EvaluationConfig, report: EvalReport) -> None:
    """Issue #10 9(c): the shipped model's app-side onboarding on real readers."""
    from bookrec_tui.core.bundle import Bundle
    from bookrec_tui.core.recommender import Recommender, default_bundle_path

    rec = Recommender(Bundle.load(default_bundle_path(config.model_dir)), dataset.catalogue)
    with timed(report.timings, "onboarding: 10 questions per reader, every asker"):
        report.onboarding = evaluate_onboarding(rec, onboarding_askers(rec), shelves)


def run_held_out_lists(dataset, held_out: HeldOut, report: EvalReport) -> None:
    """Series-aware protocol and trust audit on the cold-start protocol's held-out readers:
    raw top 20 beside the app's final lists, for our model and EASE (``held_out``: models fit
    without those readers)."""
    from bookrec_tui.core.recommender import LIST_CALIBRATION, STAR_BLEND
    from bookrec_tui.evaluation.list_audit import evaluate_lists

    ours, ease = held_out.ours, held_out.ease
    methods = {
        "ours": (ours.rank_scores, ours.predict_stars),
        f"EASE (lambda={ease.lam:g})": ease.rank_scores,
    }
    with timed(report.timings, "lists: held-out readers"):
        report.lists["held-out readers (k=10)"] = evaluate_lists(
            methods,
            held_out.split.test,
            _assembler(dataset),
            star_blend=STAR_BLEND,
            calibration=LIST_CALIBRATION,
        )


def run_real_reader_lists(
    dataset,
    libraries: dict,
    bundle_path: Path,
    report: EvalReport,
    ease_all: EASE | None = None,
) -> None:
    """The same on real Goodreads readers (LISTS_REAL_READER_ORDERS seeded orders each):
    the shipped bundle and EASE on all ratings (``ease_all`` if already fit at lambda 1000)."""
    from bookrec_tui.core.bundle import Bundle
    from bookrec_tui.core.recommender import LIST_CALIBRATION, STAR_BLEND, Recommender
    from bookrec_tui.evaluation.list_audit import evaluate_lists

    shipped = Recommender(Bundle.load(bundle_path), dataset.catalogue).scorer
    if ease_all is None or ease_all.lam != DEFAULT_EASE_LAMBDA:
        ease_all = _ease_on_all_ratings(dataset, DEFAULT_EASE_LAMBDA)
    orders = [
        (rows[o], stars[o])
        for rows, stars in libraries.values()
        for o in reveal_orders(len(rows), LISTS_REAL_READER_ORDERS)
    ]
    real = {
        ours_label(bundle_path): (shipped.rank_scores, shipped.predict_stars),
        f"EASE (lambda={DEFAULT_EASE_LAMBDA:g})": ease_all.rank_scores,
    }
    population = f"real readers ({len(libraries)} exports x {LISTS_REAL_READER_ORDERS} orders"
    with timed(report.timings, "lists: real readers"):
        report.lists[f"{population}, k=10)"] = evaluate_lists(
            real,
            orders,
            _assembler(dataset),
            star_blend=STAR_BLEND,
            calibration=LIST_CALIBRATION,
        )


def _assembler(dataset):
    from bookrec_tui.core.listing import ListAssembler

    c = dataset.catalogue
    return ListAssembler(c.works, c.first_authors, genre_counts=c.genre_counts)


def _exports_dir(config: EvaluationConfig) -> Path | None:
    """--exports, else a goodreads-exports folder beside the data directory, if any."""
    from bookrec_tui.paths import resolve_data_dir

    if config.exports:
        if not Path(config.exports).is_dir():
            raise BookrecError(f"--exports {config.exports}: no such folder.")
        return Path(config.exports)
    beside = resolve_data_dir(config.data_dir).parent / "goodreads-exports"
    return beside if beside.is_dir() else None


def run_evaluation(config: EvaluationConfig) -> int:
    """Run the configured protocols, print their table and write the JSON report."""
    from bookrec_tui.core.recommender import default_bundle_path

    protocols = config.protocols()
    cfg: OursConfig
    if config.model == "embeddings":
        cfg = EmbeddingModelConfig()
        if config.epochs:
            cfg.embeddings.epochs = config.epochs
    else:
        cfg = TrainConfig()
        if config.epochs:
            cfg.epochs = config.epochs
    on_exports = [p for p in ON_EXPORTS if p in protocols]
    exports = _exports_dir(config) if on_exports or "lists" in protocols else None
    if on_exports and exports is None:
        if config.only:
            raise BookrecError(
                f"The {config.only} protocol needs Goodreads exports: pass --exports DIR "
                "(a folder of goodreads_library_export.csv files)."
            )
        console.print("no Goodreads exports found (see --exports): skipping real readers")
        for p in on_exports:
            protocols.remove(p)
    dataset = load_dataset(config.data_dir)
    report = EvalReport(
        settings={
            "protocols": protocols,
            "model": config.model,
            "config": asdict(cfg),
            "heldout_readers": config.users,
            "ratings": len(dataset.ratings),
            "ratings_sha256": dataset.ratings.sha256,
        }
    )
    readers = RealReaders.read(exports, dataset.catalogue) if exports else None
    held_out: HeldOut | None = None
    ease_all: EASE | None = None
    if "tutorial" in protocols:
        run_tutorial_protocol(dataset, cfg, report)
        console.print(report.table())
    if "cold-start" in protocols:
        held_out = run_cold_start(dataset, cfg, config.users, report)
        console.print(report.table())
    if "lists" in protocols:
        if held_out is None:
            held_out = fit_held_out(dataset, cfg, config.users, report)
        run_held_out_lists(dataset, held_out, report)
    # The held-out readers' models (EASE at lambda 1000 alone is ~400 MB) are done with:
    # released before the real-reader protocols fit EASE on all ratings.
    held_out = None
    if "real-readers" in protocols:
        libraries = readers.libraries(config.min_rated)
        if not libraries:
            raise BookrecError(
                f"No export in {exports} has {config.min_rated} rated books in the catalogue."
            )
        lam = report.settings.get("ease_lambda", DEFAULT_EASE_LAMBDA)
        bundle = default_bundle_path(config.model_dir)
        ease_all = run_real_readers(dataset, libraries, bundle, lam, report, config.orders)
    if "onboarding" in protocols:
        run_onboarding(dataset, readers.shelves(config.min_rated), config, report)
    if "lists" in protocols and readers:
        libraries = readers.libraries(config.min_rated)
        if libraries:
            bundle = default_bundle_path(config.model_dir)
            run_real_reader_lists(dataset, libraries, bundle, report, ease_all)
    save_report(report, config.out)
    print(report.table())
    console.print(f"wrote {config.out}")
    return 0
