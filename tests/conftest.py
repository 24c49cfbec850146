"""Shared fixtures: tiny synthetic data, a tiny real-looking book world with a model, an
isolated home, the real data.

Markers are set here from what a test uses: ``realdata`` for every test that needs the real
goodbooks-10k data or Goodreads exports (through any fixture), so
``pytest -m "not realdata and not slow"`` is the fast suite that runs anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tiny_world as tiny_world_module

from bookrec_tui.chat.session import ReaderSession
from bookrec_tui.core.recommender import Recommender
from bookrec_tui.paths import resolve_data_dir
from bookrec_tui.store.profile import Profile

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Caches and profiles go to a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BOOKREC_HOME", str(home))
    return home


def write_books(path: Path, n_books: int) -> None:
    lines = [
        "book_id,goodreads_book_id,best_book_id,work_id,books_count,isbn,isbn13,authors,"
        "original_publication_year,original_title,title,language_code,average_rating,"
        "ratings_count"
    ]
    for b in range(1, n_books + 1):
        series = "Saga" if b <= n_books // 2 else "Chronicle"
        # One author per book and no series note: the final lists' series and author
        # limits would otherwise leave one book of each taste group.
        author = f"{'Ann' if b <= n_books // 2 else 'Bob'} Writer{b}"
        lines.append(
            f"{b},{1000 + b},{1000 + b},{5000 + b},1,{100000000 + b},,{author},"
            f'{1990 + b}.0,{series} {b},"{series} {b}",eng,3.9,'
            f"{1000 * (n_books - b + 1)}"
        )
    path.write_text("\n".join(lines) + "\n")


def make_ratings(n_users: int, n_books: int, seed: int = 0) -> np.ndarray:
    """Two taste groups: users who love the first half of the books and the rest."""
    rng = np.random.default_rng(seed)
    rows = []
    half = n_books // 2
    for u in range(1, n_users + 1):
        group = u % 2
        liked = range(1, half + 1) if group == 0 else range(half + 1, n_books + 1)
        other = range(half + 1, n_books + 1) if group == 0 else range(1, half + 1)
        for b in rng.choice(list(liked), size=min(6, half), replace=False):
            rows.append((u, b, rng.choice([4, 5])))
        for b in rng.choice(list(other), size=2, replace=False):
            rows.append((u, b, rng.choice([1, 2])))
    return np.array(rows, dtype=np.int64)


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """A goodbooks-shaped folder: 20 books, 60 readers in two taste groups, v1 schema."""
    d = tmp_path / "gb"
    d.mkdir()
    write_books(d / "books.csv", 20)
    r = make_ratings(60, 20)
    body = "\n".join(f"{b},{u},{s}" for u, b, s in r)
    (d / "ratings.csv").write_text("book_id,user_id,rating\n" + body + "\n")
    (d / "tags.csv").write_text("tag_id,tag_name\n0,to-read\n1,fantasy\n2,mystery\n")
    bt = ["goodreads_book_id,tag_id,count"]
    for b in range(1, 21):
        bt.append(f"{1000 + b},0,500")
        bt.append(f"{1000 + b},{1 if b <= 10 else 2},{100 + b}")
    (d / "book_tags.csv").write_text("\n".join(bt) + "\n")
    return d


# Resolved once, before any test points BOOKREC_HOME at a temporary folder: the same order the
# app uses (BOOKREC_DATA_DIR, else where `bookrec-tui data fetch` put it).
REAL_DATA_DIR = resolve_data_dir()
# Real Goodreads library exports: BOOKREC_EXPORTS_DIR, else a goodreads-exports folder beside
# the data (as `bookrec-tui evaluate` looks for them).
EXPORTS_DIR = Path(
    os.environ.get("BOOKREC_EXPORTS_DIR") or REAL_DATA_DIR.parent / "goodreads-exports"
)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real goodbooks-10k folder. Missing data fails the test: it must run in CI."""
    if not (REAL_DATA_DIR / "ratings.csv").is_file():
        pytest.fail(
            f"goodbooks-10k not found at {REAL_DATA_DIR}: run `bookrec-tui data fetch`, or set "
            "BOOKREC_DATA_DIR to a folder holding books.csv, ratings.csv, tags.csv and "
            "book_tags.csv"
        )
    return REAL_DATA_DIR


@pytest.fixture(scope="session")
def exports_dir() -> Path:
    """The real Goodreads exports (INDEX.tsv and the CSV files). Missing: the test fails."""
    if not (EXPORTS_DIR / "INDEX.tsv").is_file():
        pytest.fail(
            f"Goodreads exports not found at {EXPORTS_DIR}: set BOOKREC_EXPORTS_DIR, or put a "
            "goodreads-exports folder beside the goodbooks-10k data"
        )
    return EXPORTS_DIR


@pytest.fixture
def full_disk(monkeypatch) -> dict[str, bool]:
    """Profile saves fail as on a full disk while ``full_disk["full"]`` is set (a read-only
    folder fails the same way; these tests run as root here, which may write into
    read-only folders)."""
    import contextlib
    import errno

    from bookrec_tui.store import profile as profile_module

    real = profile_module.atomic_writer
    state = {"full": False}

    @contextlib.contextmanager
    def writer(*args, **kwargs):
        with real(*args, **kwargs) as handle:
            yield handle
            if state["full"]:
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(profile_module, "atomic_writer", writer)
    return state


REAL_DATA_FIXTURES = {"real_data_dir", "exports_dir"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realdata)


# One recommender over the real data per test module (loading it takes a moment), shared by the
# session and list tests.
@pytest.fixture(scope="module")
def rec(real_data_dir) -> Recommender:
    return Recommender.load(data_dir=real_data_dir)


# A new reader's session on the real data, their profile in a temporary folder: for checks of
# what the real model answers.
@pytest.fixture
def real_session(rec, tmp_path) -> ReaderSession:
    return ReaderSession(rec, Profile.open("t", tmp_path))


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> tiny_world_module.TinyWorld:
    """56 real titles (series, authors, genres), synthetic readers and a numpy-built model."""
    return tiny_world_module.build(tmp_path_factory.mktemp("tiny-world"))


@pytest.fixture(scope="session")
def tiny_rec(tiny_world) -> Recommender:
    return Recommender(tiny_world.bundle(), tiny_world.catalogue())


@pytest.fixture(scope="session")
def tiny_app(tiny_world) -> dict[str, str]:
    """BookrecApp's data_dir and model_dir for the tiny world: ``BookrecApp(**tiny_app, ...)``."""
    return {"data_dir": str(tiny_world.data_dir), "model_dir": str(tiny_world.model_dir)}


# A new reader's session on the tiny world: for the conversation itself.
@pytest.fixture
def session(tiny_rec, tmp_path) -> ReaderSession:
    return ReaderSession(tiny_rec, Profile.open("t", tmp_path))
