"""Goodreads imports in other encodings, the app's own export back in, escapes, odd cells,
pipes and devices; formula-safe export."""

from __future__ import annotations

import csv
import io
import os
import threading

import pytest

from bookrec_tui.cli import main
from bookrec_tui.store.goodbooks import load_catalogue
from bookrec_tui.store.goodreads import GoodreadsError, parse_export, plan_import
from bookrec_tui.store.profile import Profile, write_ratings_csv

HEADER = "Book Id,Title,Author,My Rating,Exclusive Shelf"


@pytest.fixture
def catalogue(tiny_data):
    return load_catalogue(tiny_data)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-8-sig"])
def test_exports_in_other_encodings_keep_their_accented_books(tmp_path, encoding):
    path = tmp_path / "export.csv"
    text = f'{HEADER}\n1,"Les Misérables",Victor Hugo,5,read\n2,"Njál’s Saga",Anon,3,read\n'
    if encoding == "latin-1":
        text = text.replace("’", "'")
    path.write_bytes(text.encode(encoding))
    entries = parse_export(path)
    assert [(e.title, e.rating) for e in entries][0] == ("Les Misérables", 5)
    assert len(entries) == 2 and entries[1].rating == 3


def test_the_apps_own_export_imports_back(tiny_data, catalogue, tmp_path):
    source = Profile.open("a", tmp_path)
    for book, stars in {1: 5, 7: 2, 15: 4}.items():
        source.rate(book, stars)
    exported = tmp_path / "mine.csv"
    with open(exported, "w", encoding="utf-8") as handle:
        write_ratings_csv(source, catalogue, handle)
    plan = plan_import(exported, catalogue, {})
    assert plan.ratings == {1: 5, 7: 2, 15: 4} and plan.by_rule == {"book id": 3}


def test_export_cells_that_look_like_formulas_are_quoted_and_read_back(tiny_data, tmp_path):
    books = (tiny_data / "books.csv").read_text().splitlines()
    books[1] = books[1].replace('"Saga 1"', '"=HYPERLINK(""http://x"",""y"")"')
    books[2] = books[2].replace("Ann Writer2", "@Ann")
    (tiny_data / "books.csv").write_text("\n".join(books) + "\n")
    catalogue = load_catalogue(tiny_data, use_cache=False)
    profile = Profile.open("a", tmp_path)
    profile.rate(1, 5)
    profile.rate(2, 4)
    out = io.StringIO()
    write_ratings_csv(profile, catalogue, out)
    cells = [c for row in csv.reader(io.StringIO(out.getvalue())) for c in row]
    assert not [c for c in cells if c[:1] in "=+-@"]
    assert '\'=HYPERLINK("http://x","y")' in cells and "'@Ann" in cells
    path = tmp_path / "back.csv"
    path.write_text(out.getvalue())
    titles = {e.title for e in parse_export(path)}
    assert '=HYPERLINK("http://x","y")' in titles


def test_terminal_escapes_in_an_export_never_reach_the_screen(
    tiny_data, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("BOOKREC_DATA_DIR", str(tiny_data))
    path = tmp_path / "evil.csv"
    path.write_text(
        f'{HEADER}\n99999,"\x1b]0;pwned\x07\x1b[2JNot Here\x9b31m\u202e",Who,5,read\n'
        '1001,"Saga 1",Ann Author,4,read\n'
    )
    (entry, _) = parse_export(path)
    assert entry.title == "]0;pwned[2JNot Here31m"
    main(["import", str(path), "--yes"])
    out = capsys.readouterr()
    for stream in (out.out, out.err):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "Not Here" in out.out


def test_odd_cells_are_coerced_sanely(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "Book Id,Title,Author,My Rating,My Rating\n"
        "1,Whole,A,,4\n"  # a duplicate My Rating column: the filled one counts
        "2,Fraction,A,4.7,\n"  # not whole stars: unrated, never rounded up to 5
        "3,Boolean,A,true,\n"
        "4,Four point oh,A,4.0,\n"
        "5,Cut sh"  # the file was cut off mid-row
    )
    entries = parse_export(path)
    assert [(e.title, e.rating) for e in entries] == [
        ("Whole", 4),
        ("Fraction", 0),
        ("Boolean", 0),
        ("Four point oh", 4),
    ]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    # Something holds the write end open forever, as a stuck producer would.
    holder = threading.Thread(target=lambda: open(fifo, "wb").close(), daemon=True)
    holder.start()
    with pytest.raises(GoodreadsError, match="not a regular file"):
        parse_export(fifo)


def test_dev_zero_is_refused():
    with pytest.raises(GoodreadsError, match="not a regular file"):
        parse_export("/dev/zero")
