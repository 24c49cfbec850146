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

from bookrec_tui.core.npz import MappedNpz, save_npz
from bookrec_tui.errors import ModelError
from bookrec_tui.fsutil import atomic_writer

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
#: Expected shape of each array, in symbols: N books, d embedding size, r rating-head size,
#: M links per book;
#: "N+1" is a table with a padding row 0. Checked at load time (an array not listed here is
#: only checked for NaN/inf), so a new array needs one line here.
SHAPES: dict[str, tuple[str, ...]] = {
    "book_ids": ("N",),
    "in_emb": ("N+1", "d"),
    "star_mod": ("6", "d"),
    "out_emb": ("N+1", "d"),
    "out_bias": ("N+1",),
    "rate_proj": ("d", "r"),
    "rate_emb": ("N+1", "r"),
    "rate_in": ("N+1", "r"),
    "item_bias": ("N+1",),
    "nbr_ids": ("N+1", "M"),
    "nbr_w": ("N+1", "M"),
    "star_nbr": ("6",),
    "nbr_rate": ("N+1", "M"),
    "pop_axis": ("N+1",),
}
#: Arrays a bundle may leave out (older bundles, and any model that does not use them): they
#: are saved only when they hold something, and read as None when absent.
OPTIONAL = ("pop_axis",)
#: Meta key: true when in_emb is not stored because it equals out_emb.
TIED = "in_emb_is_out_emb"
#: Integer arrays holding model rows (1..N, 0 = none): their values must stay in range.
ROW_REFERENCES = ("nbr_ids",)


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
    # (N+1,) each book's place on a popularity axis, or None: a reader's place on it is
    # their rated books' places, star-weighted, summed and divided by the square root of
    # their summed weights, and a book's score gains the product of the two places (see
    # FoldInScorer.popularity_lean). None or zeros: no such term.
    pop_axis: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.in_emb.shape[1])

    def learned_vectors(self) -> np.ndarray | None:
        """The ranking's book vectors, (n_books, d) float32 in catalogue order, or None when
        the model has none (the link model's stay at their zero start)."""
        table = self.out_emb
        if table.shape[0] < 2 or not np.any(table[1:]):
            return None
        return np.asarray(table[1:], dtype=np.float32)

    def save(self, path: Path) -> None:
        # A model whose readers are sums of the very vectors that rank (the embedding model)
        # has in_emb == out_emb: that table is stored once.
        tied = self.in_emb is self.out_emb or (
            self.in_emb.shape == self.out_emb.shape and np.array_equal(self.in_emb, self.out_emb)
        )
        meta = {**self.meta, "format_version": FORMAT_VERSION, "dim": self.dim}
        meta[TIED] = tied
        names = [n for n in ARRAYS if not (tied and n == "in_emb")]
        names += [n for n in OPTIONAL if getattr(self, n) is not None and np.any(getattr(self, n))]
        with atomic_writer(Path(path)) as handle:
            save_npz(  # uncompressed and aligned: memory-mapped at load (npz.MappedNpz)
                handle,
                **{name: getattr(self, name) for name in names},
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
                names = set(z.files)
                if "meta" not in names:
                    raise _Damaged("missing meta")
                meta = json.loads(str(z["meta"]))
                if not isinstance(meta, dict):
                    raise _Damaged("its meta is not a JSON object")
                stored = [n for n in ARRAYS if not (meta.get(TIED) is True and n == "in_emb")]
                missing = [n for n in ("scalars", *stored) if n not in names]
                if missing:
                    raise _Damaged(f"missing {', '.join(missing)}")
                if meta.get("format_version") != FORMAT_VERSION:
                    raise ModelError(
                        f"{path}: bundle format {meta.get('format_version')!r} is not supported "
                        f"(this version reads format {FORMAT_VERSION}). Retrain with "
                        "`bookrec-tui train`."
                    )
                arrays = {name: z[name] for name in (*stored, *OPTIONAL) if name in names}
                arrays.setdefault("in_emb", arrays["out_emb"])
                scalars = np.asarray(z["scalars"], dtype=np.float64).ravel()
        except ModelError:
            raise
        except _Damaged as exc:
            raise _unreadable(path, str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - truncated zip, an .npy, bad zlib stream...
            raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc
        problem = check_arrays(arrays, scalars)
        if problem:
            raise _unreadable(path, problem)
        mu, alpha, reg = (float(x) for x in scalars)
        bundle = cls(**arrays, mu=mu, alpha=alpha, user_bias_reg=reg, meta=meta)
        stat = path.stat()  # names this file's contents for caches of derived tables
        bundle.origin = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return bundle


class _Damaged(Exception):
    pass


def _unreadable(path: Path, why: str) -> ModelError:
    return ModelError(
        f"{path}: not a readable bookrec bundle ({why[:300]}). Retrain with "
        "`bookrec-tui train --out DIR` and pass --model-dir DIR, or reinstall bookrec-tui "
        "for the shipped model."
    )


def check_arrays(
    arrays: dict[str, np.ndarray], scalars: np.ndarray, whole: bool = False
) -> str | None:
    """What is wrong with a bundle's arrays (shapes that do not fit together, NaN or inf
    weights, row references out of range, a wrong scalar count), or None. Big arrays are
    sampled unless ``whole``."""
    rows = (lambda a: np.asarray(a)) if whole else _checked_rows
    if scalars.shape != (3,) or not np.isfinite(scalars).all():
        return f"scalars must be 3 finite numbers, got {scalars[:5].tolist()}"
    sizes: dict[str, int] = {}
    for name, array in arrays.items():
        if array.dtype.kind not in "iuf":
            return f"{name} holds {array.dtype}, not numbers"
        expected = SHAPES.get(name)
        if expected is not None:
            if array.ndim != len(expected):
                return f"{name} has {array.ndim} dimension(s), expected {len(expected)}"
            for symbol, size in zip(expected, array.shape, strict=True):
                base, plus = (symbol[:-2], 1) if symbol.endswith("+1") else (symbol, 0)
                if base.isdigit():
                    if size != int(base):
                        return f"{name} has shape {array.shape}, expected {expected}"
                    continue
                known = sizes.setdefault(base, size - plus)
                if size - plus != known or known < 0:
                    return f"{name} has shape {array.shape}, which does not fit {expected}"
        if array.dtype.kind == "f" and not np.isfinite(rows(array)).all():
            return f"{name} holds NaN or infinite values"
    n = sizes.get("N")
    if n == 0:
        return "it holds no books"
    for name in ROW_REFERENCES:
        ids = arrays.get(name)
        if ids is None or n is None or not ids.size:
            continue
        ids = rows(ids)
        if ids.min() < 0 or ids.max() > n:
            return f"{name} refers to rows outside 0..{n}"
    return None


#: Arrays up to this size are checked whole at load; a bigger (memory-mapped) one is checked
#: on 4,096 rows in 16 evenly spaced runs (runs, not single rows: each single row would be
#: a page read from disk), so opening a million-book bundle stays cheap.
FULL_CHECK_BYTES = 64 << 20


def _checked_rows(array: np.ndarray) -> np.ndarray:
    if array.nbytes <= FULL_CHECK_BYTES or array.ndim == 0 or len(array) <= 4096:
        return np.asarray(array)
    starts = np.linspace(0, len(array) - 256, 16).astype(np.int64)
    return np.concatenate([np.asarray(array[s : s + 256]) for s in starts])
