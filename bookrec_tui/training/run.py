"""`bookrec-tui train`: ratings file + books file -> .keras model + numpy runtime bundle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
from bookrec_tui.core.catalogue import Catalogue, Dataset
from bookrec_tui.store.packed_catalogue import GOODBOOKS, PACKED_NAME, pack_catalogue
from bookrec_tui.training.interactions import UserItems
from bookrec_tui.training.model import TrainConfig, export_bundle, train_model

KERAS_NAME = "bookrec.keras"


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


def save_outputs(
    bundle: Bundle,
    model,
    out_dir: Path,
    catalogue: Catalogue | None = None,
    source: str = GOODBOOKS,
) -> dict[str, Path]:
    """The bundle, the Keras model, the training metrics and (given) the catalogue packed
    beside the bundle, so the folder runs the app with no data directory."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "bundle": out_dir / BUNDLE_NAME,
        "keras": out_dir / KERAS_NAME,
        "metrics": out_dir / "training.json",
    }
    bundle.save(paths["bundle"])
    tmp = out_dir / f".{KERAS_NAME}.tmp.keras"
    model.save(tmp)
    tmp.replace(paths["keras"])
    paths["metrics"].write_text(json.dumps(bundle.meta, indent=2, default=_np_default))
    if catalogue is not None:
        paths["catalogue"] = pack_catalogue(catalogue, out_dir / PACKED_NAME, source)
    return paths


def _np_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))
