"""The runtime bundle: the trained model's weights as plain numpy arrays in one ``.npz``.

Saved uncompressed, so loading maps the arrays from disk instead of reading them (a
million-book bundle opens in milliseconds; see npz.py); older compressed bundles still load,
read into memory. Nothing executable is ever read (no pickles). The fingerprint ties a
bundle to the books file it was trained against, so a mismatch is caught at load time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError
from .fsutil import atomic_writer
from .npz import MappedNpz

FORMAT_VERSION = 1
BUNDLE_NAME = "bookrec-bundle.npz"
ARRAYS = (
    "book_ids",
    "in_emb",
    "star_mod",
    "out_emb",
    "out_bias",
    "rate_proj",
    "rate_emb",
    "rate_in",
    "item_bias",
    "nbr_ids",
    "nbr_w",
    "star_nbr",
    "nbr_rate",
)


@dataclass
class Bundle:
    book_ids: np.ndarray  # (N,) goodbooks book_id of each model row (row i -> embedding i+1)
    in_emb: np.ndarray  # (N+1, d) input ("what you rated") embeddings, row 0 = padding
    star_mod: np.ndarray  # (6, d) per-star modulation of input embeddings
    out_emb: np.ndarray  # (N+1, d) output ("what you will read") embeddings
    out_bias: np.ndarray  # (N+1,)
    rate_proj: np.ndarray  # (d, d) user vector -> rating space
    rate_emb: np.ndarray  # (N+1, d) rating-head book embeddings
    rate_in: np.ndarray  # (N+1, d) rating-head embeddings of rated books, by surprise
    item_bias: np.ndarray  # (N+1,) star bias per book
    nbr_ids: np.ndarray  # (N+1, M) ids (row+1) of each book's co-read neighbours, 0 = none
    nbr_w: np.ndarray  # (N+1, M) learned item-to-item weights for those neighbours
    star_nbr: np.ndarray  # (6,) per-star scale of the item-to-item weights
    nbr_rate: np.ndarray  # (N+1, M) rating head: how surprise on a book carries along a link
    mu: float  # global mean star
    alpha: float  # ranking user vector = sum / n**alpha
    user_bias_reg: float  # shrinkage of the user's star bias
    meta: dict = field(default_factory=dict)  # fingerprint, training config and metrics

    @property
    def dim(self) -> int:
        return int(self.in_emb.shape[1])

    def save(self, path: Path) -> None:
        meta = {**self.meta, "format_version": FORMAT_VERSION, "dim": self.dim}
        with atomic_writer(Path(path)) as handle:
            np.savez(  # uncompressed: memory-mapped at load (npz.MappedNpz)
                handle,
                **{name: getattr(self, name) for name in ARRAYS},
                scalars=np.array([self.mu, self.alpha, self.user_bias_reg], dtype=np.float64),
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )

    @classmethod
    def load(cls, path: Path) -> Bundle:
        path = Path(path)
        if not path.is_file():
            raise ModelError(
                f"Model bundle not found: {path}. Train one with `bookrec-tui train --out DIR`, "
                "or reinstall bookrec-tui to get the shipped model."
            )
        try:
            with MappedNpz(path) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format_version") != FORMAT_VERSION:
                    raise ModelError(
                        f"{path}: bundle format {meta.get('format_version')} is not supported "
                        f"(this version reads format {FORMAT_VERSION}). Retrain with "
                        "`bookrec-tui train`."
                    )
                arrays = {name: z[name] for name in ARRAYS}
                mu, alpha, reg = (float(x) for x in z["scalars"])
        except ModelError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"{path}: not a readable bookrec bundle ({exc}). Retrain with `bookrec-tui train`."
            ) from exc
        bundle = cls(**arrays, mu=mu, alpha=alpha, user_bias_reg=reg, meta=meta)
        stat = path.stat()  # names this file's contents for caches of derived tables
        bundle.origin = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return bundle
