"""Saving a trained Keras model as a ``.keras`` file without a whole copy of its weights.

Keras's own ``model.save`` turns each variable into one numpy array before writing it, and
writes the weights file into memory before zipping it: at 100,000 synthetic books saving a
model with its 100,000 x 1,024 book table (0.4 GB) peaked 0.78 GB above what the process
held (measured alone; in the whole training the export was the run's peak, 7.8 GB against
the 8 GB bar: docs/benchmarks.md, "The whole training at 100k books"). Here a large
variable is written to an HDF5 file on disk a block of rows at a time, and the file is then
streamed into the zip: the same archive Keras writes (``config.json``, ``metadata.json``,
``model.weights.h5`` with the same datasets), which ``keras.saving.load_model`` reads.

Keras has no public hook for how a variable is written, so this drives Keras's own writer
(``keras.src.saving.saving_lib``: its model walk, config and stores) and replaces only the
one step that writes a variable's values; the tests compare the file with Keras's own save.
"""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from bookrec_tui.training.keras_backend import keras_module

#: Rows of a variable written at a time (8,192 x 1,024 float32: 32 MB).
CHUNK_ROWS = 8192


def save_keras_model(keras_model, path: Path, chunk_rows: int = CHUNK_ROWS) -> None:
    """Save ``keras_model`` as the ``.keras`` file at ``path`` without its optimizer's state,
    each variable of more than ``chunk_rows`` rows written ``chunk_rows`` rows at a time.

    The files are the trained model, not a checkpoint to resume: Nadam's two slots per
    weight made the ranking model's file three times its weights (goodbooks-10k: 123 MB for
    a 41 MB table). Load with ``compile=False``
    (:func:`bookrec_tui.training.model.load_keras_model`)."""
    optimizer = getattr(keras_model, "optimizer", None)
    keras_model.optimizer = None
    try:
        _write_archive(keras_model, Path(path), chunk_rows)
    except (ImportError, AttributeError) as moved:
        # A Keras whose private saving code moved: its own save writes the same file, with
        # the whole-copy peak (tests/test_keras_files.py fails loudly on such a Keras).
        warnings.warn(f"saving {Path(path).name} with Keras's own save: {moved}", stacklevel=2)
        keras_model.save(path)
    finally:
        keras_model.optimizer = optimizer


def _write_archive(keras_model, path: Path, chunk_rows: int) -> None:
    keras_module()
    from keras.src.saving import saving_lib

    store_class = _sliced_store_class(saving_lib, chunk_rows)
    config_json, metadata_json = saving_lib._serialize_model_as_json(keras_model)
    with (
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".weights-") as scratch,
        zipfile.ZipFile(path, "w") as archive,
    ):
        archive.writestr(saving_lib._METADATA_FILENAME, metadata_json)
        archive.writestr(saving_lib._CONFIG_FILENAME, config_json)
        weights_path = Path(scratch) / saving_lib._VARS_FNAME_H5
        weights = store_class(weights_path, mode="w")
        assets = saving_lib.DiskIOStore(saving_lib._ASSETS_DIRNAME, archive=archive, mode="w")
        try:
            saving_lib._save_state(
                keras_model,
                weights_store=weights,
                assets_store=assets,
                inner_path="",
                visited_saveables=set(),
            )
        finally:
            weights.close()
            assets.close()
        archive.write(weights_path, saving_lib._VARS_FNAME_H5)  # copied a block at a time


def _sliced_store_class(saving_lib, chunk_rows: int):
    """Keras's HDF5 weights store, writing a variable of more than ``chunk_rows`` rows into
    a dataset of its shape ``chunk_rows`` rows at a time (its own ``__setitem__`` makes the
    whole variable one numpy array first)."""
    keras = keras_module()

    class SlicedH5IOStore(saving_lib.H5IOStore):
        def __setitem__(self, key, value):
            shape = tuple(int(s) for s in value.shape)
            dtype = keras.backend.standardize_dtype(value.dtype)
            if len(shape) == 0 or shape[0] <= chunk_rows or dtype == "bfloat16":
                super().__setitem__(key, value)
                return
            # Keras's own write makes the entry's group; the dataset is then made again at
            # full size and filled a block of rows at a time.
            super().__setitem__(key, np.zeros((0, *shape[1:]), dtype))
            group = self._h5_entry_group
            del group[key]
            dataset = group.create_dataset(key, shape=shape, dtype=dtype)
            for start in range(0, shape[0], chunk_rows):
                block = value[start : start + chunk_rows]
                dataset[start : start + len(block)] = keras.ops.convert_to_numpy(block)

    return SlicedH5IOStore
