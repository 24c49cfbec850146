"""The trained models' ``.keras`` files, written a block of rows at a time: the same archive
Keras writes, loadable in safe mode, with no whole copy of a large table made to write it."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from bookrec_tui.training.keras_files import save_keras_model

N_BOOKS, DIM = 1_000, 16


def trained_like_models():
    """A ranking model and a rating head of ``N_BOOKS`` books with every weight set to
    distinct values (as training leaves them), both compiled with an optimizer."""
    from bookrec_tui.training.embeddings import EmbeddingConfig, build_model
    from bookrec_tui.training.rating_head import head_class

    rng = np.random.default_rng(5)
    ranking = build_model(N_BOOKS, EmbeddingConfig(dim=DIM, batch_size=8))
    head = head_class()(N_BOOKS, DIM, 4, 3, 5.0, 3.7)
    head.compile(optimizer="adam")
    for model in (ranking, head):
        for variable in model.weights:
            shape = tuple(variable.shape)
            if "int" in str(variable.dtype):
                variable.assign(rng.integers(0, N_BOOKS, shape).astype(np.int32))
            else:
                variable.assign(rng.standard_normal(shape).astype(np.float32))
        model.built = True
    return {"ranking": ranking, "head": head}


def weights_of(path) -> dict[str, np.ndarray]:
    import h5py  # a dependency of keras

    found = {}
    with zipfile.ZipFile(path) as archive:
        data = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(data, "r") as weights:
        weights.visititems(
            lambda name, item: (
                found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return found


@pytest.mark.parametrize("name", ["ranking", "head"])
def test_a_file_written_in_blocks_is_the_archive_keras_writes(tmp_path, name):
    from bookrec_tui.training.keras_backend import keras_module

    model = trained_like_models()[name]
    ours, theirs = tmp_path / "ours.keras", tmp_path / "keras.keras"
    save_keras_model(model, ours, chunk_rows=64)  # the tables (1,000 rows) in 16 blocks
    optimizer, model.optimizer = model.optimizer, None
    model.save(theirs)
    model.optimizer = optimizer

    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert json.loads(a.read("config.json")) == json.loads(b.read("config.json"))
    ours_weights, keras_weights = weights_of(ours), weights_of(theirs)
    assert ours_weights.keys() == keras_weights.keys()
    assert any(len(v) > 64 for v in ours_weights.values())  # some were written in blocks
    for path, values in keras_weights.items():
        assert ours_weights[path].dtype == values.dtype, path
        np.testing.assert_array_equal(ours_weights[path], values, err_msg=path)

    keras = keras_module()
    again = keras.saving.load_model(ours, safe_mode=True, compile=False)
    assert type(again) is type(model)
    assert [w.path for w in again.weights] == [w.path for w in model.weights]
    for loaded, trained in zip(again.weights, model.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(trained), err_msg=trained.path)
    assert model.optimizer is not None  # the model keeps its optimizer; the file has none


def test_saving_makes_no_whole_copy_of_a_large_table(tmp_path):
    """Keras's own save makes each variable one numpy array and writes the weights file
    into memory (at 100,000 books x 1,024: +0.78 GB over the process's memory, the whole
    training's peak); here no more than a block of rows is held at once."""
    from bookrec_tui.training.embeddings import EmbeddingConfig, build_model

    n_books, dim = 20_000, 64
    model = build_model(n_books, EmbeddingConfig(dim=dim, batch_size=8), compile=False)
    model.built = True
    table_bytes = n_books * dim * 4  # 5.1 MB
    save_keras_model(model, tmp_path / "warm.keras", chunk_rows=256)  # imports, first traces
    tracemalloc.start()
    try:
        save_keras_model(model, tmp_path / "m.keras", chunk_rows=256)  # 64 KB blocks
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < table_bytes / 4, peak


def test_a_keras_whose_saving_internals_moved_still_saves(tmp_path, monkeypatch):
    """If a Keras upgrade moves the private code the block writer drives, `train` still
    writes a model that loads (through Keras's own save), and says so."""
    import bookrec_tui.training.keras_files as keras_files
    from bookrec_tui.training.keras_backend import keras_module

    keras = keras_module()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    def moved(*args):
        raise AttributeError("module 'keras.src.saving.saving_lib' has no attribute 'x'")

    monkeypatch.setattr(keras_files, "_write_archive", moved)
    path = tmp_path / "m.keras"
    with pytest.warns(UserWarning, match="Keras's own save"):
        keras_files.save_keras_model(model, path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
