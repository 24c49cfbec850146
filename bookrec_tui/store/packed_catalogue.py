"""The catalogue packed beside the model, so the app and the CLI run with no download.

The packed file holds what a reader sees and what ranking reads (titles with their series
notes, original titles, authors, year, language, Goodreads counts and average, the top
shelves with their counts, the genre shelf counts), never a rating. It is made from a data
directory by ``bookrec-tui data pack-catalogue`` (and by ``train``, beside the bundle it
writes); strings are stored as UTF-8 blobs so the file stays small (~1 MB) and loads in
milliseconds. From ``MAPPED_FROM_BOOKS`` books on the file is written uncompressed with
fixed-width text arrays instead, and opened memory-mapped (a million titles are not read).

Where the catalogue comes from (:func:`load_runtime_catalogue`): the file packed beside the
model when its books are not goodbooks-10k's (a model trained with ``--catalogue
goodreads``: no data directory fits it); otherwise a data directory when one is given
(``--data-dir``, ``$BOOKREC_DATA_DIR``) or was fetched (``bookrec-tui data fetch``), else
the file packed beside the model. The model refuses a catalogue it was not trained
against either way (the row check in :class:`~bookrec_tui.core.recommender.Recommender`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.core.npz import MappedNpz, save_npz
from bookrec_tui.errors import DataError, DataMissingError
from bookrec_tui.fsutil import atomic_writer
from bookrec_tui.paths import DATA_ENV, default_download_dir
from bookrec_tui.store.goodbooks import BOOKS_FILE, load_catalogue

PACKED_NAME = "bookrec-catalogue.npz"
PACKED_VERSION = 3  # 2: genre shelf counts (genres.py); 3: food and art genres
_SEPARATOR = "\x00"  # never in a title, author or shelf name (books.csv is text)
GOODBOOKS = "goodbooks-10k"
MAPPED_FROM_BOOKS = 100_000
SOURCE_NOTES = {
    "goodreads": "Derived from the UCSD Goodreads data (Wan and McAuley, RecSys 2018, "
    "https://mengtingwan.github.io/data/goodreads.html); use it under that data's terms.",
}
LICENCE = (
    "Derived from goodbooks-10k by Zygmunt Zając (https://github.com/zygmuntz/goodbooks-10k), "
    "CC BY-SA 4.0; this file carries the same licence."
)


def _is_text(array: np.ndarray) -> bool:
    return array.dtype.kind == "U"


def pack_catalogue(catalogue: Catalogue, path: Path, source: str = GOODBOOKS) -> Path:
    """Write ``catalogue`` as an ``.npz``: small catalogues compressed with text fields as
    one UTF-8 blob each; from MAPPED_FROM_BOOKS books on, uncompressed with text as
    fixed-width arrays, so loading maps the file instead of reading it (npz.MappedNpz).
    ``source`` names where the books come from: a catalogue not from goodbooks-10k is the
    only one its model fits, so it wins over a data directory at load time."""
    mapped = len(catalogue) >= MAPPED_FROM_BOOKS
    arrays: dict[str, np.ndarray] = {}
    for name in Catalogue._FIELDS:
        value = getattr(catalogue, name)
        if _is_text(value) and not mapped:
            blob = _SEPARATOR.join(str(v) for v in value).encode("utf-8")
            arrays[f"{name}.utf8"] = np.frombuffer(blob, dtype=np.uint8)
        else:
            arrays[name] = np.asarray(value)
    meta = {
        "version": PACKED_VERSION,
        "books": len(catalogue),
        "books_sha256": catalogue.sha256,
        "source": source,
        "licence": LICENCE if source == GOODBOOKS else SOURCE_NOTES.get(source, ""),
    }
    save = save_npz if mapped else np.savez_compressed
    with atomic_writer(Path(path)) as handle:
        save(handle, meta=np.array(json.dumps(meta)), **arrays)
    return Path(path)


def packed_source(path: Path) -> str:
    """Where a packed catalogue's books come from (goodbooks-10k for files that predate it)."""
    try:
        with MappedNpz(path) as z:
            return str(json.loads(str(z["meta"])).get("source", GOODBOOKS))
    except (OSError, ValueError, KeyError):
        return GOODBOOKS


def load_packed_catalogue(path: Path) -> Catalogue:
    """Read a file written by :func:`pack_catalogue`; a damaged one raises DataError."""
    path = Path(path)
    try:
        with MappedNpz(path) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("version") != PACKED_VERSION:
                raise DataError(
                    f"{path}: packed catalogue version {meta.get('version')} is not supported "
                    f"(this version reads {PACKED_VERSION}). Reinstall bookrec-tui, or point "
                    f"--data-dir at goodbooks-10k."
                )
            fields = {}
            for name in Catalogue._FIELDS:
                if f"{name}.utf8" in z.files:
                    text = z[f"{name}.utf8"].tobytes().decode("utf-8").split(_SEPARATOR)
                    fields[name] = np.array(text if meta["books"] else [], dtype=str)
                else:
                    fields[name] = z[name]
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - empty (EOFError), an .npy (AttributeError), zlib...
        raise DataError(
            f"{path}: not a readable packed catalogue ({type(exc).__name__}: {str(exc)[:200]}). "
            "Reinstall bookrec-tui, or point --data-dir at goodbooks-10k."
        ) from exc
    if any(len(v) != meta["books"] for v in fields.values()):
        raise DataError(f"{path}: its columns disagree in length; the file is damaged.")
    return Catalogue(**fields, sha256=str(meta.get("books_sha256", "")))


def packed_catalogue_path(bundle_path: Path) -> Path:
    """Where the catalogue belonging to a model bundle lives: beside it."""
    return Path(bundle_path).parent / PACKED_NAME


def load_runtime_catalogue(
    bundle_path: Path, data_dir: str | os.PathLike[str] | None = None
) -> Catalogue:
    """The catalogue the app and the CLI use (the order is in the module docstring)."""
    beside = packed_catalogue_path(bundle_path)
    if beside.is_file() and packed_source(beside) != GOODBOOKS:
        return load_packed_catalogue(beside)  # e.g. Goodreads works: no data dir fits them
    if data_dir or os.environ.get(DATA_ENV):
        from bookrec_tui.paths import resolve_data_dir

        return load_catalogue(resolve_data_dir(data_dir))
    fetched = default_download_dir()
    if (fetched / BOOKS_FILE).is_file():
        return load_catalogue(fetched)
    beside = packed_catalogue_path(bundle_path)
    if beside.is_file():
        return load_packed_catalogue(beside)
    from bookrec_tui.core.recommender import shipped_bundle_path

    shipped = packed_catalogue_path(shipped_bundle_path())
    if shipped.is_file():
        return load_packed_catalogue(shipped)
    raise DataMissingError(
        f"No book catalogue: none beside the model ({beside}) and no goodbooks-10k data. "
        f"Point --data-dir or ${DATA_ENV} at a folder with the goodbooks-10k CSV files, or run "
        "`bookrec-tui data fetch` to download them."
    )
