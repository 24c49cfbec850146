"""The command line, run as a user would: in a process of its own, on the tiny world (its
books, its model); importing a real Goodreads library and exporting it again runs on the real
data and the shipped model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bookrec_tui.errors import BookrecError


def run(
    *args: str, data_dir=None, model_dir=None, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if data_dir:
        env["BOOKREC_DATA_DIR"] = str(data_dir)
    if model_dir:
        env["BOOKREC_MODEL_DIR"] = str(model_dir)
    return subprocess.run(
        [sys.executable, "-m", "bookrec_tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def world(tiny_world) -> dict[str, str]:
    """run()'s data and model folders for the tiny world: ``run(..., **world)``."""
    return {"data_dir": str(tiny_world.data_dir), "model_dir": str(tiny_world.model_dir)}


def test_help_lists_commands_and_examples():
    out = run("--help")
    assert out.returncode == 0
    for word in ("recommend", "similar", "search", "train", "evaluate", "data", "BOOKREC_DATA_DIR"):
        assert word in out.stdout


def test_recommend_json_by_title_and_id(world):
    out = run(
        "recommend", "--rate", "The Hobbit=5", "--rate", "id:13=4", "--json", "-n", "5", **world
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["recommendations"]) == 5 and data["ratings"] == {"1": 5, "13": 4}
    assert not {r["book_id"] for r in data["recommendations"]} & {1, 13}
    rec = data["recommendations"][0]
    assert {"book_id", "title", "authors", "score", "predicted_rating", "because"} <= set(rec)


def test_similar_json(world):
    out = run("similar", "Dune", "--json", **world)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["title"].startswith("Dune") and len(data["similar"]) == 10
    dune = [s["title"] for s in data["similar"] if "(Dune, #" in s["title"]]
    # Two entries of the series at most, the next unread first: Messiah, then Children.
    assert [t.split(" (")[0] for t in dune] == ["Dune Messiah", "Children of Dune"]


def test_rate_takes_a_title_only_when_it_clearly_wins_and_names_it(world):
    out = run("recommend", "--rate", "hitchhikers guide=3", "--rate", "1984=5", "-n", "3", **world)
    assert out.returncode == 0, out.stderr
    assert "The Hitchhiker's Guide to the Galaxy by Douglas Adams" in out.stderr
    assert "1984 by George Orwell" in out.stderr
    vague = run("recommend", "--rate", "harry potter=5", **world)
    assert vague.returncode == 2 and "id:5 " in vague.stderr and "Traceback" not in vague.stderr
    by_id = run("recommend", "--rate", "id:27=5", "--json", "-n", "1", **world)
    assert json.loads(by_id.stdout)["rated"][0]["title"] == "To Kill a Mockingbird"


def test_similar_never_guesses(world):
    nothing = run("similar", "The Book That Does Not Exist Anywhere", **world)
    assert nothing.returncode == 2 and nothing.stdout == ""
    assert "id:" in nothing.stderr or "no book matches" in nothing.stderr
    named = run("similar", "1984", "-n", "3", **world)
    assert named.returncode == 0 and named.stdout.startswith("More like 1984 — George Orwell")


def test_unknown_genre_exits_2_with_the_known_ones(world):
    out = run("recommend", "--shelf", "blah", **world)
    assert out.returncode == 2 and "non-fiction" in out.stderr and "horror" in out.stderr
    ok = run("recommend", "--shelf", "non-fiction", "-n", "3", **world)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 3


def test_errors_are_one_clear_line_without_traceback(world, tmp_path):
    bad = run("recommend", "--rate", "The Hobbit=9", **world)
    assert bad.returncode == 2 and "stars 1 to 5" in bad.stderr and "Traceback" not in bad.stderr
    missing = run("search", "dune", data_dir=tmp_path)
    assert missing.returncode == 2 and "data fetch" in missing.stderr
    assert "Traceback" not in missing.stderr


def train_tiny(tiny_data, out, *options: str, timeout: float = 120) -> None:
    """`train` on the tiny world's CSV files into ``out`` (8 dimensions), which must succeed."""
    res = run(
        "train",
        *options,
        "--ratings",
        str(tiny_data / "ratings.csv"),
        "--books",
        str(tiny_data / "books.csv"),
        "--out",
        str(out),
        "--dim",
        "8",
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.slow  # trains a model
def test_train_from_any_ratings_and_books_file(tiny_data, tmp_path):
    """`train --ratings --books --out` writes a bundle the API then serves."""
    out = tmp_path / "model"
    train_tiny(tiny_data, out, "--epochs", "1")
    assert (out / "bookrec-bundle.npz").is_file() and (out / "bookrec.keras").is_file()
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(model_dir=out, data_dir=tiny_data)
    assert len(rec.recommend({1: 5}, n=3)) == 3


@pytest.mark.slow  # trains a model
def test_train_the_embedding_model(tiny_data, tmp_path):
    """`train --model embeddings` writes a bundle the app serves, both Keras models and the
    first question; the bundle's book vectors are the learned ones, stored once."""
    out = tmp_path / "emb"
    # Two readers shelved books to read: the book table learns from them (targets only).
    (tiny_data / "to_read.csv").write_text("user_id,book_id\n1,19\n2,20\n1,999\n")
    # four Keras models traced: 155 s measured under a load of 10
    train_tiny(tiny_data, out, "--model", "embeddings", "--epochs", "2", timeout=600)
    for name in ("bookrec-bundle.npz", "bookrec.keras", "bookrec-rating.keras"):
        assert (out / name).is_file(), name
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(model_dir=out, data_dir=tiny_data)
    assert rec.bundle.meta["model"] == "embeddings" and rec.bundle.in_emb is rec.bundle.out_emb
    assert rec.book_vectors().shape == (20, 8) and rec.book_vectors().any()
    assert len(rec.recommend({1: 5}, n=3)) == 3
    rated = {
        tuple(map(int, line.split(",")[1::-1]))
        for line in (tiny_data / "ratings.csv").read_text().splitlines()[1:]
    }  # (user, book)
    unrated = len({(1, 19), (2, 20)} - rated)  # book 999 is not in the catalogue
    history = rec.bundle.meta["training"]["history"]
    assert [row["books"] for row in history if row["phase"] == "to-read targets"] == [unrated]
    assert rec.bundle.meta["n_to_read"] == unrated > 0


def test_the_to_read_weight_belongs_to_the_embedding_model(tmp_path):
    for options in (
        ["--model", "links", "--to-read-weight", "0.3"],
        ["--to-read-weight", "-1"],  # the default model, the embedding model
    ):
        res = run("train", *options, "--out", str(tmp_path / "m"), data_dir=tmp_path)
        assert res.returncode == 2 and "--model embeddings" in res.stderr, res.stderr


def test_import_then_export_round_trips_the_ratings(real_data_dir, exports_dir, tmp_path):
    """A reader brings in a Goodreads library, then takes their ratings out again as CSV."""
    import csv
    import io

    export = exports_dir / "notmahi__d3-book-timeline.csv"
    imported = run("import", str(export), "--yes", "--profile", "ann", data_dir=real_data_dir)
    assert imported.returncode == 0, imported.stderr
    from bookrec_tui.store.profile import Profile

    saved = Profile.open("ann").ratings
    assert len(saved) >= 150

    out = run("export", "--profile", "ann", data_dir=real_data_dir)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["book_id", "title", "authors", "rating"]
    assert {int(r["book_id"]): int(r["rating"]) for r in rows} == saved
    by_id = {int(r["book_id"]): r for r in rows}
    assert (by_id[4]["title"], by_id[4]["authors"]) == ("To Kill a Mockingbird", "Harper Lee")

    target = tmp_path / "mine.csv"
    to_file = run("export", "--profile", "ann", "--out", str(target), data_dir=real_data_dir)
    assert to_file.returncode == 0 and target.read_text() == out.stdout
    assert f"Wrote {len(saved)} ratings" in to_file.stderr


def test_map_draws_a_png_with_the_readers_books(world, tiny_world, tmp_path):
    from bookrec_tui.store.profile import Profile

    profile = Profile.open("pat")
    for book_id, stars in ((2, 5), (3, 2), (32, 4)):
        profile.rate(book_id, stars)
    out = tmp_path / "map.png"
    res = run("map", "--profile", "pat", "--out", str(out), **world)
    assert res.returncode == 0, res.stderr[-2000:]
    said = " ".join(res.stderr.split())  # the console wraps at its width
    books = len(tiny_world.catalogue())
    assert f"{books} books, 3 of yours" in said and "10 recommendations" in said
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1320, 1100)
    bad = run("map", "--method", "umap", **world)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_counts_below_one_are_refused():
    for args in (
        ("search", "dune", "-n", "0"),
        ("recommend", "-n", "-3"),
        ("similar", "dune", "-n", "0"),
    ):
        out = run(*args)
        assert out.returncode == 2 and "must be 1 or more" in out.stderr, args


def test_recommend_for_a_saved_profile_and_similar_marks_its_books(world):
    from bookrec_tui.store.profile import Profile

    profile = Profile.open("alice")
    for book_id, stars in ((1, 5), (29, 4), (32, 1)):  # The Hobbit, The Hunger Games, Twilight
        profile.rate(book_id, stars)
    out = run("recommend", "--profile", "alice", "--json", "-n", "5", **world)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["ratings"] == {"1": 5, "29": 4, "32": 1} and len(got["recommendations"]) == 5
    assert not {r["book_id"] for r in got["recommendations"]} & {1, 29, 32}
    missing = run("recommend", "--profile", "nobody", **world)
    assert missing.returncode == 2 and "No profile 'nobody'" in missing.stderr
    similar = run("similar", "The Two Towers", "--profile", "alice", "-n", "10", **world)
    assert "The Hobbit — J.R.R. Tolkien  (" in similar.stdout
    assert "[on your shelf: 5★]" in similar.stdout
    listed = json.loads(
        run("similar", "The Two Towers", "--profile", "alice", "--json", **world).stdout
    )
    assert {s["book_id"]: s["your_rating"] for s in listed["similar"]}.get(1) == 5


def test_train_and_evaluate_without_the_train_extra_say_how_to_get_it(tmp_path):
    """`pip install .` brings no TensorFlow or Keras: training commands say which extra."""
    blocked = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
        "from bookrec_tui.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for command in (["train", "--out", str(tmp_path)], ["evaluate", "--only", "seed"]):
        out = subprocess.run(
            [sys.executable, "-c", blocked, *command], capture_output=True, text=True, timeout=60
        )
        assert out.returncode != 0 and "pip install 'bookrec-tui[train]'" in out.stderr, out
        assert "Traceback" not in out.stderr
        assert not any(tmp_path.iterdir())


def test_the_embedding_model_trains_where_keras_runs_on_jax_without_tensorflow(monkeypatch):
    """A GPU machine with Keras on JAX and no TensorFlow can train the shipped (embedding)
    model; the link model and tf.distribute still ask for TensorFlow, and a missing backend
    is named."""
    import importlib.machinery
    import importlib.util

    from bookrec_tui import cli

    installed = {"keras", "jax"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: importlib.machinery.ModuleSpec(name, None) if name in installed else None,
    )
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    cli._require_training_extra(tensorflow=False)  # the embedding model: nothing missing
    with pytest.raises(BookrecError, match="needs tensorflow,"):
        cli._require_training_extra()
    installed.discard("jax")
    with pytest.raises(BookrecError, match="needs jax,"):
        cli._require_training_extra(tensorflow=False)
