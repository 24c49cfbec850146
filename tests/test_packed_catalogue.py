"""The catalogue packed beside the model: the app and CLI work with no download."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.core.recommender import Recommender, shipped_bundle_path
from bookrec_tui.errors import DataError, ModelError
from bookrec_tui.paths import DATA_ENV
from bookrec_tui.store.goodbooks import load_catalogue
from bookrec_tui.store.packed_catalogue import (
    PACKED_NAME,
    load_packed_catalogue,
    load_runtime_catalogue,
    pack_catalogue,
    packed_catalogue_path,
)

REPO = Path(__file__).resolve().parents[1]


def test_pack_and_load_round_trip(tiny_data, tmp_path):
    catalogue = load_catalogue(tiny_data)
    path = pack_catalogue(catalogue, tmp_path / PACKED_NAME)
    back = load_packed_catalogue(path)
    for name in Catalogue._FIELDS:
        assert np.array_equal(getattr(back, name), getattr(catalogue, name)), name
    assert back.sha256 == catalogue.sha256 and back.title(3) == catalogue.title(3)
    assert back.shelf_shares(1) == {"fantasy": 1.0}


def test_damaged_packed_catalogue_says_so(tmp_path):
    bad = tmp_path / PACKED_NAME
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable packed catalogue"):
        load_packed_catalogue(bad)


def test_data_directory_wins_over_the_packed_catalogue(tiny_data, tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    bundle = tmp_path / "model" / "bookrec-bundle.npz"
    bundle.parent.mkdir()
    pack_catalogue(load_catalogue(tiny_data), packed_catalogue_path(bundle))
    assert len(load_runtime_catalogue(bundle)) == 20  # the packed one, beside the bundle
    monkeypatch.setenv(DATA_ENV, str(tiny_data))
    assert load_runtime_catalogue(bundle).sha256 == load_catalogue(tiny_data).sha256


def test_no_data_directory_still_recommends(monkeypatch):
    """A fresh install: no BOOKREC_DATA_DIR, nothing fetched, only the package."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    rec = Recommender.load()
    hobbit = rec.resolve("The Hobbit")
    assert hobbit is not None and "Hobbit" in rec.catalogue.title(hobbit)
    recs = rec.recommend({hobbit: 5}, n=10)
    assert len(recs) == 10 and hobbit not in {r.book_id for r in recs}
    assert any("Tolkien" in r.authors for r in recs)


def test_cli_recommends_with_no_data_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV}
    env["BOOKREC_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "bookrec_tui.cli", "recommend", "--rate", "dune=5", "-n", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 3 and "Dune" in out.stdout


def test_a_catalogue_the_model_was_not_trained_on_is_refused(tiny_data, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(ModelError, match="different books.csv"):
        Recommender.load(data_dir=tiny_data)


def test_shipped_catalogue_matches_the_data_and_the_model(real_data_dir):
    packed = load_packed_catalogue(packed_catalogue_path(shipped_bundle_path()))
    fresh = load_catalogue(real_data_dir)
    for name in Catalogue._FIELDS:
        assert np.array_equal(getattr(packed, name), getattr(fresh, name)), name
    assert packed.sha256 == fresh.sha256
    assert packed_catalogue_path(shipped_bundle_path()).stat().st_size < 5_000_000


def test_the_built_wheel_carries_the_catalogue_and_the_model(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("bookrec_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"bookrec_tui/shipped_model/{PACKED_NAME}" in names
    assert "bookrec_tui/shipped_model/bookrec-bundle.npz" in names
    assert "bookrec_tui/shipped_model/bookrec-maps.npz" in names
    assert "bookrec_tui/shipped_model/bookrec-opening.json" in names


def test_shipped_map_projections_belong_to_the_shipped_model(isolated_home):
    """The first map of a fresh install is read, not computed (it took minutes on a busy
    2-core machine). After retraining: bookrec-tui data pack-maps --out models"""
    from bookrec_tui.core.bundle import Bundle
    from bookrec_tui.map.projection import METHODS, SHIPPED_MAPS, bundle_key, projection

    bundle = Bundle.load(shipped_bundle_path())
    with np.load(shipped_bundle_path().parent / SHIPPED_MAPS) as z:
        assert str(z["key"]) == bundle_key(bundle), "stale: run bookrec-tui data pack-maps"
        shipped = {m: z[m] for m in METHODS}
    for method in METHODS:
        assert np.array_equal(projection(bundle, method), shipped[method])
    assert not list((isolated_home / "cache").glob("map-*"))  # nothing was computed


def test_shipped_opening_is_the_sessions_first_question(monkeypatch):
    """The app shows it before the model loads. After retraining or changing onboarding:
    bookrec-tui data pack-catalogue --out models"""
    from bookrec_tui.chat.opening import OPENING_NAME, first_question, read_opening

    monkeypatch.delenv(DATA_ENV, raising=False)
    shipped = read_opening(shipped_bundle_path().parent / OPENING_NAME)
    assert shipped == first_question(Recommender.load()), "stale: run data pack-catalogue"
