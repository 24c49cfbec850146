"""`bookrec-tui train`: ratings file + books file -> .keras model + numpy runtime bundle."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
from bookrec_tui.core.catalogue import Catalogue, Dataset
from bookrec_tui.store.packed_catalogue import GOODBOOKS, PACKED_NAME, pack_catalogue
from bookrec_tui.training.embedding_bundle import (
    EmbeddingModelConfig,
    train_embedding_model,
)
from bookrec_tui.training.embedding_bundle import export_bundle as export_embeddings
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.keras_files import save_keras_model
from bookrec_tui.training.model import TrainConfig, export_bundle, train_model

KERAS_NAME = "bookrec.keras"
RATING_KERAS_NAME = "bookrec-rating.keras"  # the embedding model's rating head


def fingerprint(dataset: Dataset) -> dict:
    return {
        "books_sha256": dataset.catalogue.sha256,
        "ratings_sha256": dataset.ratings.sha256,
        "ratings_schema": dataset.ratings.schema,
        "n_ratings": len(dataset.ratings),
        "n_users": dataset.ratings.n_users,
        "n_books": len(dataset.catalogue),
        "duplicates_dropped": dataset.ratings.duplicates_dropped,
    }


def train_bundle(dataset: Dataset, cfg: TrainConfig, progress=None) -> tuple[Bundle, object]:
    """Train on all of ``dataset.ratings``; returns (bundle, keras model)."""
    items = UserItems.build(dataset.ratings, dataset.catalogue)
    started = time.perf_counter()
    model, history = train_model(items, len(dataset.catalogue), cfg, progress)
    seconds = time.perf_counter() - started
    meta = {
        **fingerprint(dataset),
        "training": {"seconds": round(seconds, 1), "history": history},
    }
    bundle = export_bundle(model, items, dataset.catalogue.book_ids, cfg, meta)
    return bundle, model


def train_embedding_bundle(
    dataset: Dataset, cfg: EmbeddingModelConfig, progress=None, trainer=None
) -> tuple[Bundle, dict[str, object]]:
    """The embedding model on all of ``dataset.ratings`` (less its validation readers);
    returns (bundle, {file name: keras model}). ``trainer``: see ``train_embedding_model``."""
    items = UserItems.build(dataset.ratings, dataset.catalogue)
    started = time.perf_counter()
    more = {"trainer": trainer} if trainer else {}
    counts = dataset.catalogue.ratings_counts
    trained = train_embedding_model(
        items,
        len(dataset.catalogue),
        cfg,
        progress,
        ratings_counts=counts,
        to_read=dataset.to_read_rows(),
        **more,
    )
    seconds = time.perf_counter() - started
    meta = {
        **fingerprint(dataset),
        "n_to_read": 0 if dataset.to_read is None else len(dataset.to_read[0]),
        "training": {"seconds": round(seconds, 1), "history": trained.history},
    }
    bundle = export_embeddings(trained, cfg, dataset.catalogue.book_ids, meta)
    return bundle, {KERAS_NAME: trained.ranking, RATING_KERAS_NAME: trained.rating}


def save_outputs(
    bundle: Bundle,
    model: object | Mapping[str, object],
    out_dir: Path,
    catalogue: Catalogue | None = None,
    source: str = GOODBOOKS,
) -> dict[str, Path]:
    """The bundle, the Keras model (or models, by file name), the training metrics and
    (given) the catalogue packed beside the bundle, so the folder runs the app with no data
    directory."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = model if isinstance(model, Mapping) else {KERAS_NAME: model}
    paths = {"bundle": out_dir / BUNDLE_NAME, "metrics": out_dir / "training.json"}
    bundle.save(paths["bundle"])
    for name, keras_model in models.items():
        paths[name] = out_dir / name
        tmp = out_dir / f".{name}.tmp.keras"
        save_keras_model(keras_model, tmp)
        tmp.replace(paths[name])
    paths["metrics"].write_text(json.dumps(bundle.meta, indent=2, default=_np_default))
    if catalogue is not None:
        paths["catalogue"] = pack_catalogue(catalogue, out_dir / PACKED_NAME, source)
    return paths


def _np_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))
