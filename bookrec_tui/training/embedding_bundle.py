"""`bookrec-tui train --model embeddings`: links, book embeddings, their blend and a rating
head, exported as the runtime bundle the app already reads.

1. Book-to-book links from sparse co-counts (:mod:`.links`, a ridge solve per book over its
   most co-read books; no books x books matrix), from the training readers.
2. The book embedding table (:mod:`.embeddings`, ELSA on whole reader rows).
3. The weight of the links next to the embeddings, chosen on validation readers held out of
   training (NDCG@10 with 5 and with 10 revealed ratings, averaged).
4. The links again, from every reader (the validation readers too, as the link model's
   closed form always was): the table the bundle ships.
5. The rating head (:mod:`.rating_head`) on the frozen vectors and those link ids.

The export fills the bundle's existing arrays, so the numpy runtime scores it unchanged: the
book vectors are both ``in_emb`` and ``out_emb`` (stored once, see ``Bundle.save``), the input
star weights are ``1 + star_mod`` and ``alpha`` is 0 (a reader is a plain weighted sum), the
links carry the chosen blend in ``nbr_w``.
"""

from __future__ import annotations

import time
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
)
from bookrec_tui.training.interactions import UserItems, validation_readers
from bookrec_tui.training.links import link_table
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


def chosen_blend(tried: dict[float, float]) -> tuple[float, str | None]:
    """The blend with the best validation NDCG, and which end of the grid it is at (None
    inside it): at an end, a better blend may lie past the grid."""
    blend = max(tried, key=tried.get)
    grid = sorted(tried)
    edge = "lowest" if blend == grid[0] else "highest" if blend == grid[-1] else None
    return blend, edge if len(grid) > 1 else None


def blend_ndcg(scorer: FoldInScorer, readers: list, blends, reveals=(5, 10)) -> dict[float, float]:
    """Mean NDCG@10 over ``reveals`` for each link blend, on shuffled (rows, stars) readers:
    the embedding and link parts are computed once per reader and reveal (the link part not
    at all when every blend is 0, as in the per-epoch check)."""
    parts = []
    for reveal in reveals:
        for rows, stars in readers:
            relevant = set(rows[reveal:][stars[reveal:] >= 4].tolist())
            if relevant:
                shown, shown_stars = rows[:reveal], stars[:reveal]
                emb = scorer.embedding_scores(shown, shown_stars)
                links = scorer.link_scores(shown, shown_stars) if any(blends) else 0.0
                parts.append((emb, links, shown, relevant))

    def mean_ndcg(blend: float) -> float:
        return float(
            np.mean([ndcg_at(top_n(e + blend * li, s, 10), r, 10) for e, li, s, r in parts])
        )

    return {float(b): mean_ndcg(b) for b in blends}


def train_embedding_model(
    items: UserItems,
    n_books: int,
    cfg: EmbeddingModelConfig,
    progress: ProgressFn | None = None,
    trainer=train_embeddings,
) -> TrainedEmbeddings:
    """``trainer`` trains the book table (``train_embeddings``'s arguments and result; e.g.
    ``distribute.fit_embeddings`` under a tf.distribute strategy)."""
    started = time.perf_counter()
    history: list[dict] = []
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
    train_items = items.select(train_users)

    def links_of(readers: UserItems) -> tuple[np.ndarray, np.ndarray]:
        return link_table(
            readers,
            n_books,
            cfg.neighbors,
            cfg.link_lambda,
            cfg.star_link_weight,
            candidates=cfg.link_candidates,
        )

    links = links_of(train_items)
    history.append({"phase": "links", "seconds": round(time.perf_counter() - started, 1)})

    def scorer_for(vectors: np.ndarray) -> FoldInScorer:
        return FoldInScorer(export_arrays(vectors, links, 1.0, None, cfg, 3.5, np.arange(n_books)))

    def on_epoch(epoch: int, model) -> dict:
        if not heldout:
            return {}
        tried = blend_ndcg(scorer_for(book_vectors(model)), heldout, (0.0,))
        return {"val_ndcg@10_embeddings": tried[0.0]}

    model, emb_history = trainer(
        train_items, np.arange(train_items.n_users), n_books, cfg.embeddings, on_epoch, progress
    )
    history += emb_history
    vectors = book_vectors(model)
    blend = 0.0
    if heldout and cfg.neighbors:
        tried = blend_ndcg(scorer_for(vectors), heldout, cfg.link_blends)
        blend, edge = chosen_blend(tried)
        tried_json = {str(b): v for b, v in tried.items()}
        history.append(
            {"phase": "link blend", "chosen": blend, "edge": edge, "val_ndcg@10": tried_json}
        )
    if len(val) and cfg.neighbors:
        # The blend is chosen; the shipped links also learn from the validation readers.
        links_started = time.perf_counter()
        links = links_of(items)
        seconds = round(time.perf_counter() - links_started, 1)
        history.append({"phase": "links (all readers)", "seconds": seconds})
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
    return TrainedEmbeddings(model, head, vectors, links, blend, history)


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
    padded = np.vstack([np.zeros((1, dim), np.float32), vectors.astype(np.float32)])
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
    return export_arrays(
        trained.vectors,
        trained.links,
        trained.link_blend,
        trained.rating,
        cfg,
        float(trained.rating.mu),
        book_ids,
        {**meta, "link_blend": trained.link_blend},
    )
