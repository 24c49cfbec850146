"""`bookrec-tui train --model embeddings`: links, book embeddings, their blend and a rating
head, exported as the runtime bundle the app already reads.

1. Book-to-book links from sparse co-counts (:mod:`.links`, a ridge solve per book over its
   most co-read books; no books x books matrix), from the training readers.
2. The book embedding table (:mod:`.embeddings`, ELSA on whole reader rows; the books a
   training reader shelved to read, where the data has them, are targets too).
3. The weight of the links next to the embeddings, chosen on validation readers held out of
   training (NDCG@10 with 5 and with 10 revealed ratings, averaged).
4. The links again, from every reader (the validation readers too, as the link model's
   closed form always was): the table the bundle ships.
5. The rating head (:mod:`.rating_head`) on the frozen vectors and those link ids.

The export fills the bundle's existing arrays, so the numpy runtime scores it unchanged: the
book vectors are both ``in_emb`` and ``out_emb`` (stored once, see ``Bundle.save``), the input
star weights are ``1 + star_mod`` and ``alpha`` is 0 (a reader is a plain weighted sum), the
links carry the chosen blend in ``nbr_w``, ``out_bias`` the Goodreads-popularity term
(``EmbeddingModelConfig.popularity_weight``) and ``pop_axis`` the same counts as an axis
the reader has a place on (``popularity_lean_weight``, see ``FoldInScorer.popularity_lean``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.core.metrics import ndcg_at, top_n
from bookrec_tui.core.scoring import FoldInScorer
from bookrec_tui.progress import ProgressFn
from bookrec_tui.training.embeddings import (
    STAR_WEIGHTS,
    EmbeddingConfig,
    book_vectors,
    train_embeddings,
    with_padding_row,
)
from bookrec_tui.training.interactions import TO_READ, UserItems, validation_readers
from bookrec_tui.training.links import link_table
from bookrec_tui.training.memory import release_freed_memory
from bookrec_tui.training.rating_head import RatingHeadConfig, train_rating_head

#: A link blend so large that the links alone rank (the embedding part of a score is a few
#: units, a book's link score times this is thousands or 0): the top of the blend grid.
LINKS_FIRST = 1e6


@dataclass
class EmbeddingModelConfig:
    embeddings: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    rating: RatingHeadConfig = field(default_factory=RatingHeadConfig)
    neighbors: int = 100  # links per book (0: embeddings alone)
    link_candidates: int = 200  # books each target's link weights are solved over
    link_lambda: float = 1000.0
    star_link_weight: tuple[float, ...] = STAR_WEIGHTS  # per-star scale of a book's links
    # Link weights tried next to the embeddings (the embedding part of a score is about
    # 1 per rated book, a link weight about 0.01-0.1); 0 is the embeddings alone and
    # LINKS_FIRST the links alone, the embeddings only ordering the books they leave tied.
    link_blends: tuple[float, ...] = (
        0.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        128.0,
        256.0,
        512.0,
        1024.0,
        4096.0,
        LINKS_FIRST,
    )
    validation_readers: int = 1000  # held out of training to choose the blend (0: none)
    # A fixed per-book term added to every book's ranking score (the bundle's ``out_bias``):
    # this times (log10 of the book's Goodreads-wide ratings count, centred). Readers of the
    # real world shelve famous books, which goodbooks-10k cannot show (every book there has
    # about 100 ratings). It is not part of the embeddings: "embeddings alone" is the
    # vectors' product without it. 0.5 was the validation choice (readers whose libraries
    # are restricted to famous books; docs/benchmarks.md, "Why the book vectors cost on real
    # readers"): +2.7 % / +1.2 % NDCG@10 on real readers at k = 5 / 10, but still -0.7 %
    # below the shipped bundle at k = 10, and on the cold-start test readers it costs at
    # k = 1 (0.187 against EASE's 0.190: a fixed term outweighs one book's vector). Off.
    popularity_weight: float = 0.0
    # The popularity term scaled by the reader (the bundle's ``pop_axis``, see
    # FoldInScorer.popularity_lean): a book's score gains this x its centred log10 Goodreads
    # count x the reader's own star-weighted sum of those over the square root of the summed
    # weights. It lifts famous books for readers of famous books only, and grows with the
    # revealed books instead of outweighing one. 0.6 was the validation choice
    # (docs/benchmarks.md, "The popularity lean"): real readers +0.020 / +0.010 NDCG@10 at
    # k = 5 / 10 over three seeds, level with the shipped bundle at k = 10 (+0.0004), the
    # cold-start test readers level. Off (0): the metric rewards ranking the famous books a
    # library already holds, and in the lists a reader sees it puts famous books above the
    # next book of a series the reader loved (docs/benchmarks.md, "Shipping the embedding
    # model? A reader's audit").
    popularity_lean_weight: float = 0.0
    seed: int = 42


@dataclass
class TrainedEmbeddings:
    """What training produces: the Keras models, and the runtime bundle's arrays."""

    ranking: object  # the embedding model (keras)
    rating: object  # the rating head (keras)
    vectors: np.ndarray  # (n_books, d) unit rows
    links: tuple[np.ndarray, np.ndarray]  # (n_books + 1, M) ids and weights
    link_blend: float
    history: list[dict]
    popularity: np.ndarray | None = None  # (n_books,) the ranking's per-book term, or none
    pop_axis: np.ndarray | None = None  # (n_books,) the popularity axis (popularity_lean_weight)


#: The link tables are built in a thread beside the embedding epochs while the co-counts they
#: read stay small (their bound, the sum of squared history lengths: 55 million on
#: goodbooks-10k, 572 million on 100k synthetic books). Beyond it they are built before the
#: epochs, so their ~2 GB (100k books) never stacks on TensorFlow's ~7 GB.
LINKS_BESIDE_MAX_CO_COUNTS = 200_000_000


def _now(fn, *args) -> Future:
    """``fn(*args)`` run at once, as a finished future (the serial stand-in for a pool)."""
    future: Future = Future()
    future.set_result(fn(*args))
    return future


def chosen_blend(tried: dict[float, float]) -> tuple[float, str | None]:
    """The blend with the best validation NDCG, and which end of the grid it is at (None
    inside it): at an end, a better blend may lie past the grid."""
    blend = max(tried, key=tried.get)
    grid = sorted(tried)
    edge = "lowest" if blend == grid[0] else "highest" if blend == grid[-1] else None
    return blend, edge if len(grid) > 1 else None


def blend_ndcg(
    scorer: FoldInScorer, readers: list, blends, reveals=(5, 10), chunk: int = 256
) -> dict[float, float]:
    """Mean NDCG@10 over ``reveals`` for each link blend, on shuffled (rows, stars) readers:
    the embedding and link parts are computed once per reader and reveal (the link part not
    at all when every blend is 0, as in the per-epoch check). The embedding parts of
    ``chunk`` readers at a time are one (chunk, d) x (d, books) product: one product per
    reader streams the whole table from memory each time (seconds per call at 10k books)."""
    parts = []
    for reveal in reveals:
        for rows, stars in readers:
            relevant = set(rows[reveal:][stars[reveal:] >= 4].tolist())
            if relevant:
                parts.append((rows[:reveal], stars[:reveal], relevant))
    vectors, bias = scorer.ranking_table()
    totals = {float(b): 0.0 for b in blends}
    for start in range(0, len(parts), chunk):
        group = parts[start : start + chunk]
        queries = np.stack([scorer.ranking_query(shown, s) for shown, s, _ in group])
        scores = queries @ vectors.T + bias
        if scorer.pop_axis is not None:
            leans = [scorer.popularity_lean(shown, s) for shown, s, _ in group]
            scores += np.float32(leans)[:, None] * scorer.pop_axis
        for emb, (shown, shown_stars, relevant) in zip(scores, group, strict=True):
            links = scorer.link_scores(shown, shown_stars) if any(blends) else 0.0
            for blend in totals:
                totals[blend] += ndcg_at(top_n(emb + blend * links, shown, 10), relevant, 10)
    return {b: total / len(parts) if parts else float("nan") for b, total in totals.items()}


def popularity_term(ratings_counts: np.ndarray | None, weight: float) -> np.ndarray | None:
    """``weight`` x (log10 ratings count - its mean over the catalogue), float32; None when
    there are no counts or no weight (a catalogue without them: every count 0)."""
    if ratings_counts is None or not weight:
        return None
    log_counts = np.log10(np.maximum(np.asarray(ratings_counts, np.float64), 1.0))
    if not log_counts.any():
        return None
    return (weight * (log_counts - log_counts.mean())).astype(np.float32)


@contextmanager
def timed_phase(history: list[dict], phase: str) -> Iterator[dict]:
    """Appends ``{"phase": phase, ...}`` to ``history`` with the block's wall seconds and
    the process's CPU seconds (all threads: what compares stages on a shared machine);
    the block may add to the row it is given."""
    wall, cpu = time.perf_counter(), time.process_time()
    row: dict = {"phase": phase}
    yield row
    row["seconds"] = round(time.perf_counter() - wall, 1)
    row["cpu_seconds"] = round(time.process_time() - cpu, 1)
    history.append(row)


def validation_split(
    items: UserItems, cfg: EmbeddingModelConfig
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The readers training holds out to choose settings on (``cfg.validation_readers``,
    drawn with ``cfg.seed``), the readers it trains on, and each held-out reader's library
    as shuffled (rows, stars): what :func:`train_embedding_model` and the benchmarks that
    tune it on the same readers use."""
    val = (
        validation_readers(items, cfg.validation_readers, np.random.default_rng(cfg.seed))
        if cfg.validation_readers
        else np.array([], np.int64)
    )
    train_users = np.setdiff1d(np.flatnonzero(items.counts >= 1), val)
    shuffle = np.random.default_rng(cfg.seed + 1)
    heldout = []
    for u in val:
        rows, stars = items.user(int(u))
        order = shuffle.permutation(len(rows))
        heldout.append((rows[order].astype(np.int64), stars[order].astype(np.int64)))
    return val, train_users, heldout


def train_embedding_model(
    items: UserItems,
    n_books: int,
    cfg: EmbeddingModelConfig,
    progress: ProgressFn | None = None,
    trainer=train_embeddings,
    ratings_counts: np.ndarray | None = None,
    to_read: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainedEmbeddings:
    """``trainer`` trains the book table (``train_embeddings``'s arguments and result; e.g.
    ``distribute.fit_embeddings`` under a tf.distribute strategy). ``history`` rows carry
    each phase's wall and CPU seconds (CPU of the process, or of the links' own thread).
    ``ratings_counts``: each book's Goodreads-wide count (the catalogue's), for the
    popularity term (``EmbeddingModelConfig.popularity_weight``); the link blend is chosen
    with it in place. ``to_read``: (reader ids, catalogue rows) of books shelved to read,
    targets of the embedding table only (``EmbeddingConfig.to_read_weight``; those of the
    validation readers, and of readers not in ``items``, are left out)."""
    history: list[dict] = []
    popularity = popularity_term(ratings_counts, cfg.popularity_weight)
    # the axis's places are sqrt(weight) x the same centred counts: the score gains their
    # product, weight x (book's) x (reader's)
    pop_axis = popularity_term(ratings_counts, float(np.sqrt(max(cfg.popularity_lean_weight, 0))))
    val, train_users, heldout = validation_split(items, cfg)
    train_items = items.select(train_users)
    table_items = train_items
    if to_read is not None and cfg.embeddings.to_read_weight:
        table_items = train_items.with_shelved(*to_read, TO_READ)
        history.append(
            {"phase": "to-read targets", "books": len(table_items.rows) - len(train_items.rows)}
        )

    def links_of(readers: UserItems) -> tuple[np.ndarray, np.ndarray]:
        return link_table(
            readers,
            n_books,
            cfg.neighbors,
            cfg.link_lambda,
            cfg.star_link_weight,
            candidates=cfg.link_candidates,
        )

    lengths = items.counts.astype(np.float64)
    beside = float(lengths @ lengths) <= LINKS_BESIDE_MAX_CO_COUNTS

    def timed_links(readers: UserItems, phase: str) -> tuple[tuple, dict]:
        wall, cpu = time.perf_counter(), time.thread_time()  # this thread's CPU alone
        table = links_of(readers)
        release_freed_memory()  # their build's co-counts: GBs at 100k books, kept by malloc
        seconds, cpu_seconds = time.perf_counter() - wall, time.thread_time() - cpu
        row = {"phase": phase, "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1)}
        return table, {**row, "beside": "embeddings"} if beside else row

    no_links = (np.zeros((n_books + 1, 0), np.int32), np.zeros((n_books + 1, 0), np.float32))

    def scorer_for(
        vectors: np.ndarray, links=no_links, popularity=None, pop_axis=None
    ) -> FoldInScorer:
        bundle = export_arrays(vectors, links, 1.0, None, cfg, 3.5, np.arange(n_books))
        return FoldInScorer(with_popularity(bundle, popularity, pop_axis))

    def on_epoch(epoch: int, model) -> dict:
        if not heldout:
            return {}
        tried = blend_ndcg(scorer_for(book_vectors(model)), heldout, (0.0,))
        release_freed_memory()
        return {"val_ndcg@10_embeddings": tried[0.0]}

    # The links need no embeddings: both tables (from the training readers, to choose the
    # blend with, and from every reader, the one shipped, which also learns from the
    # validation readers once the blend is chosen) are built in a second thread while the
    # embeddings train (the link solves run on one core; TensorFlow rarely keeps both busy),
    # or, for a big catalogue, before them (LINKS_BESIDE_MAX_CO_COUNTS).
    with ThreadPoolExecutor(1, thread_name_prefix="links") as pool:
        submit = pool.submit if beside else _now
        train_links = submit(timed_links, train_items, "links")
        all_links = submit(timed_links, items, "links (all readers)") if len(val) else None
        model, emb_history = trainer(
            table_items, np.arange(table_items.n_users), n_books, cfg.embeddings, on_epoch, progress
        )
        links, links_row = train_links.result()
        history += [links_row, *emb_history]
        vectors = book_vectors(model)
        blend = 0.0
        if heldout and cfg.neighbors:
            with timed_phase(history, "link blend") as row:
                scorer = scorer_for(vectors, links, popularity, pop_axis)
                tried = blend_ndcg(scorer, heldout, cfg.link_blends)
                blend, edge = chosen_blend(tried)
                row.update(chosen=blend, edge=edge)
                row["val_ndcg@10"] = {str(b): v for b, v in tried.items()}
        if all_links is not None:
            links, links_row = all_links.result()
            history.append(links_row)
    head, head_history = train_rating_head(
        train_items,
        np.arange(train_items.n_users),
        vectors,
        np.asarray(cfg.embeddings.input_star_weight),
        links[0],
        cfg.rating,
        progress,
    )
    history += head_history
    return TrainedEmbeddings(model, head, vectors, links, blend, history, popularity, pop_axis)


def with_popularity(
    bundle: Bundle, popularity: np.ndarray | None, pop_axis: np.ndarray | None = None
) -> Bundle:
    """``bundle`` with ``popularity`` (n_books,) as its per-book ranking term (``out_bias``,
    which the runtime adds to every book's score) and ``pop_axis`` (n_books,) as its
    popularity axis (``Bundle.pop_axis``, the term scaled by the reader)."""
    if popularity is not None:
        bundle.out_bias[1:] = popularity
    if pop_axis is not None:
        bundle.pop_axis = np.concatenate([[0.0], pop_axis]).astype(np.float32)
    return bundle


def export_arrays(
    vectors: np.ndarray,
    links: tuple[np.ndarray, np.ndarray],
    link_blend: float,
    head,
    cfg: EmbeddingModelConfig,
    mu: float,
    book_ids: np.ndarray,
    meta: dict | None = None,
) -> Bundle:
    """The runtime :class:`Bundle` (see the module docstring for how the arrays map). With
    no ``head`` the rating arrays are zeros (predicted stars = ``mu``)."""
    n, dim = vectors.shape
    padded = with_padding_row(vectors)
    w_in = np.asarray(cfg.embeddings.input_star_weight, np.float32)
    r = cfg.rating.dim
    m = links[0].shape[1]

    def weights(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if head is None:
            return np.zeros(shape, np.float32)
        layer = getattr(head, name)
        return np.asarray(layer.get_weights()[0], np.float32).reshape(shape)

    return Bundle(
        book_ids=np.asarray(book_ids, np.int32),
        in_emb=padded,
        star_mod=np.repeat((w_in - 1.0)[:, None], dim, axis=1).astype(np.float32),
        out_emb=padded,  # the same array: saved once
        out_bias=np.zeros(n + 1, np.float32),
        rate_proj=weights("rate_proj", (dim, r)),
        rate_emb=weights("rate_emb", (n + 1, r)),
        rate_in=weights("rate_in", (n + 1, r)),
        item_bias=weights("item_bias", (n + 1,)),
        nbr_ids=links[0].astype(np.int32),
        nbr_w=(links[1] * link_blend).astype(np.float32),
        star_nbr=np.asarray(cfg.star_link_weight, np.float32),
        nbr_rate=weights("nbr_rate", (n + 1, max(m, 1)))[:, :m],
        mu=float(mu if head is None else head.mu),
        alpha=0.0,
        user_bias_reg=cfg.rating.user_bias_reg,
        meta={**(meta or {}), "model": "embeddings", "config": asdict(cfg)},
    )


def export_bundle(
    trained: TrainedEmbeddings, cfg: EmbeddingModelConfig, book_ids: np.ndarray, meta: dict
) -> Bundle:
    bundle = export_arrays(
        trained.vectors,
        trained.links,
        trained.link_blend,
        trained.rating,
        cfg,
        float(trained.rating.mu),
        book_ids,
        {**meta, "link_blend": trained.link_blend},
    )
    return with_popularity(bundle, trained.popularity, trained.pop_axis)
