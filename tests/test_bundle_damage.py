"""Damaged, truncated and odd bundles are one clear error naming the file, never a
traceback or a list of NaN stars."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from bookrec_tui.core.bundle import ARRAYS, FORMAT_VERSION, SHAPES, Bundle
from bookrec_tui.errors import ModelError

SIZES = {"N": 5, "d": 3, "r": 4, "M": 2}


def _size(symbol: str) -> int:
    if symbol.endswith("+1"):
        return SIZES[symbol[:-2]] + 1
    return int(symbol) if symbol.isdigit() else SIZES[symbol]


def sound_arrays() -> dict[str, np.ndarray]:
    """A tiny bundle that loads: every array shaped as SHAPES says."""
    rng = np.random.default_rng(0)
    arrays = {}
    for name in ARRAYS:
        shape = tuple(_size(s) for s in SHAPES.get(name, ("N+1",)))
        arrays[name] = rng.normal(size=shape)
    arrays["book_ids"] = np.arange(1, SIZES["N"] + 1)
    arrays["nbr_ids"] = rng.integers(0, SIZES["N"] + 1, size=arrays["nbr_ids"].shape)
    return arrays


def write_bundle(path, arrays=None, meta=None, scalars=(3.5, 0.5, 1.0)) -> bytes:
    arrays = sound_arrays() if arrays is None else arrays
    meta = {"format_version": FORMAT_VERSION} if meta is None else meta
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        **arrays,
        scalars=np.array(scalars, dtype=np.float64),
        meta=np.array(meta if isinstance(meta, str) else json.dumps(meta)),
    )
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_a_sound_tiny_bundle_loads(tmp_path):
    write_bundle(tmp_path / "b.npz")
    assert Bundle.load(tmp_path / "b.npz").in_emb.shape == (6, 3)


def damage(tmp_path, case: str):
    path = tmp_path / "bookrec-bundle.npz"
    arrays = sound_arrays()
    if case == "truncated":
        path.write_bytes(write_bundle(path)[:700])
    elif case == "corrupted":
        good = bytearray(write_bundle(path))
        good[200:260] = b"\xff" * 60
        path.write_bytes(bytes(good))
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        path.write_bytes(buffer.getvalue())
    elif case == "meta-list":
        write_bundle(path, meta="[1, 2]")
    elif case == "meta-not-json":
        write_bundle(path, meta="{format_version: 1")
    elif case == "wrong-shape":
        arrays["in_emb"] = arrays["in_emb"][:-1]
        write_bundle(path, arrays)
    elif case == "nan":
        arrays["out_emb"][2, 1] = np.nan
        write_bundle(path, arrays)
    elif case == "links-out-of-range":
        arrays["nbr_ids"][1, 0] = 99
        write_bundle(path, arrays)
    elif case == "missing-array":
        del arrays["rate_emb"]
        write_bundle(path, arrays)
    elif case == "strings":
        arrays["item_bias"] = np.array(["x"] * 6)
        write_bundle(path, arrays)
    elif case == "scalars":
        write_bundle(path, scalars=(np.inf, 1.0))
    return path


CASES = [
    "truncated",
    "corrupted",
    "empty",
    "npy",
    "meta-list",
    "meta-not-json",
    "wrong-shape",
    "nan",
    "links-out-of-range",
    "missing-array",
    "strings",
    "scalars",
]


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_bundle_is_one_clear_error(tmp_path, case):
    path = damage(tmp_path, case)
    with pytest.raises(ModelError) as caught:
        Bundle.load(path)
    message = str(caught.value)
    assert str(path) in message and "Retrain" in message and "\n" not in message


@pytest.mark.parametrize("case", ["truncated", "npy", "nan"])
def test_the_cli_says_it_in_one_line(tmp_path, case, tiny_world):
    import subprocess
    import sys

    damage(tmp_path, case)
    out = subprocess.run(
        [sys.executable, "-m", "bookrec_tui.cli", "recommend", "--model-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "BOOKREC_DATA_DIR": str(tiny_world.data_dir)},
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "bookrec-bundle.npz" in out.stderr


@pytest.mark.parametrize("case", ["truncated", "empty", "npy"])
def test_a_damaged_packed_catalogue_is_one_clear_error(tmp_path, case):
    from bookrec_tui.errors import DataError
    from bookrec_tui.store.packed_catalogue import load_packed_catalogue

    path = damage(tmp_path, case)
    with pytest.raises(DataError, match="not a readable packed catalogue"):
        load_packed_catalogue(path)
