"""Goodreads export import: every real variant in ../shared/goodreads-exports, plus quirks."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import EXPORTS_DIR as EXPORTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookrec_tui.store.goodbooks import load_catalogue
from bookrec_tui.store.goodreads import (
    CatalogueMatcher,
    GoodreadsError,
    isbn13_to_isbn10,
    match_rate,
    parse_export,
)

HEADER = (
    "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,"
    "Average Rating,Publisher,Binding,Number of Pages,Year Published,"
    "Original Publication Year,Date Read,Date Added,Bookshelves,"
    "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,"
    "Read Count,Owned Copies"
)


def index_rows() -> list[dict]:
    if not (EXPORTS / "INDEX.tsv").is_file():
        pytest.fail(f"Goodreads exports not found at {EXPORTS}: set BOOKREC_EXPORTS_DIR")
    return list(csv.DictReader(open(EXPORTS / "INDEX.tsv", encoding="utf-8"), delimiter="\t"))


@pytest.fixture(scope="module")
def matcher(real_data_dir) -> CatalogueMatcher:
    return CatalogueMatcher(load_catalogue(real_data_dir))


def test_every_real_export_parses_completely_and_reports_its_match_rate(matcher, capsys):
    rates = {}
    for row in index_rows():
        entries = parse_export(EXPORTS / row["filename"])
        rated = [e for e in entries if e.rating]
        assert len(rated) == int(row["rated_rows"]), row["filename"]
        # The fused-header file's first book is recovered, the others parse row for row.
        fused = "fused" in row["notes"]
        assert len(entries) == int(row["rows"]) + (1 if fused else 0), row["filename"]
        rates[row["filename"]] = match_rate(matcher.match_all(entries))
    with capsys.disabled():
        print("\nGoodreads export match rates (rated books found in goodbooks-10k):")
        for name, rate in sorted(rates.items(), key=lambda kv: -kv[1]):
            print(f"  {rate:5.2f}  {name}")
    assert len(rates) == 15
    assert sum(rates.values()) / len(rates) > 0.35


def test_title_matches_need_the_same_author(matcher):
    entries = parse_export(EXPORTS / "davidpolido__gr-data-exploration.csv")
    for m in matcher.match_all(entries):
        if m.rule == "title+author":
            author = matcher.catalogue.authors[matcher.catalogue.row(m.book_id)]
            surname = m.entry.author.split()[-1].lower()
            assert surname in author.lower(), (m.entry.title, m.entry.author, author)


def test_quirks(tmp_path):
    body = (
        "\ufeff" + HEADER.replace("Owned Copies", "Owned Copies3") + ',"Dune",Frank Herbert,'
        '"Herbert, Frank",,"=""0441013597""","=""9780441013593""",4.0,4.25,,,,,,,,,,read,'
        ",,,1,0\r\n"
        '5,"The Hobbit",J.R.R. Tolkien,,,,,0,,,,,,,,,,,to-read,,,,0,0\r\n'
    )
    p = tmp_path / "export.csv"
    p.write_text(body, encoding="utf-8", newline="")
    first, second = parse_export(p)
    assert (first.goodreads_id, first.title, first.rating) == (3, "Dune", 4)
    assert (first.isbn10, first.isbn13) == ("0441013597", "9780441013593")
    assert (second.rating, second.shelf) == (0, "to-read")


def test_lower_case_and_space_padded_headers(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text(
        'book id , title , author , my rating\n  12 ,  "Emma, a novel" , Jane Austen , 5\n'
    )
    (entry,) = parse_export(p)
    assert (entry.goodreads_id, entry.title, entry.rating) == (12, "Emma, a novel", 5)


@pytest.mark.parametrize("content", ["", "a,b,c\n1,2,3\n", "\x00\x01garbage"])
def test_files_that_are_not_exports_are_clear_errors(tmp_path, content):
    p = tmp_path / "x.csv"
    p.write_text(content)
    with pytest.raises(GoodreadsError, match="Goodreads"):
        parse_export(p)


def test_isbn13_to_isbn10():
    assert isbn13_to_isbn10("9780439023481") == "0439023483"
    assert isbn13_to_isbn10("9780306406157") == "0306406152"
    assert isbn13_to_isbn10("9791234567896") == ""


def test_import_command_previews_and_writes_with_yes(tiny_world, tmp_path):
    """No terminal to confirm on: nothing is written without --yes; with it, the books found
    (here by Goodreads id and by ISBN) are saved."""
    env = {
        **os.environ,
        "BOOKREC_HOME": str(tmp_path),
        "BOOKREC_DATA_DIR": str(tiny_world.data_dir),
        "BOOKREC_MODEL_DIR": str(tiny_world.model_dir),
    }
    export = tmp_path / "goodreads_library_export.csv"
    rows = [
        f"{1000 + b},Book {b},Somebody,,,,,{1 + b % 5},,,,,,,,,,,read,,,,," for b in range(1, 11)
    ]
    rows.append(',Dune,Frank Herbert,,,="100000013",,4,,,,,,,,,,,read,,,,,')  # by ISBN
    export.write_text("\n".join([HEADER, *rows]) + "\n")
    cmd = [sys.executable, "-m", "bookrec_tui.cli", "import", str(export), "--profile", "n"]
    refused = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not (tmp_path / "profiles" / "n.json").exists()
    done = subprocess.run([*cmd, "--yes"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "10 by goodreads id" in done.stdout and "1 by isbn" in done.stdout
    saved = json.loads((tmp_path / "profiles" / "n.json").read_text())["ratings"]
    assert saved == {str(b): 1 + b % 5 for b in range(1, 11)} | {"13": 4}


CELL = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["4.0", "inf", "-inf", "nan", "1e400", "-3", "99", "", '="0439023483"']),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=20),  # control characters
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_parse_or_give_a_clear_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "export.csv"
    path.write_bytes(blob)
    try:
        entries = parse_export(path)
    except GoodreadsError as exc:
        assert str(path) in str(exc)
        return
    assert all(0 <= e.rating <= 5 for e in entries)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, max_size=30), max_size=8), st.booleans())
def test_fuzzed_rows_under_a_real_header_never_crash(tmp_path_factory, rows, crlf):
    path = tmp_path_factory.mktemp("fuzz") / "export.csv"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows([HEADER.split(","), *rows])
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogatepass")
    entries = parse_export(path)
    assert all(0 <= e.rating <= 5 and e.title for e in entries)


def test_huge_cells_and_huge_lines_are_parsed(tmp_path):
    path = tmp_path / "export.csv"
    review = "x" * 500_000  # far beyond the csv module's default 128 KiB field limit
    path.write_text(f'{HEADER}\n1,Dune,Frank Herbert,,,,,5,4.2,,,,,,,,,,read,"{review}"\n')
    [entry] = parse_export(path)
    assert (entry.title, entry.rating) == ("Dune", 5)


def test_nothing_is_written_when_an_import_is_refused(tiny_world, tmp_path):
    """Bad files and exports with no known books leave the profile byte-for-byte alone."""
    from bookrec_tui.store.profile import Profile

    profile = Profile.open("ann")
    profile.rate(1, 5)
    before = profile.path.read_bytes()
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(f"{HEADER}\n,A Book Nobody Wrote,Nobody Atall,,,,,5,,,,,,,,,,,read,\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    for path in (unknown, binary, tmp_path / "missing.csv"):
        res = subprocess.run(
            [sys.executable, "-m", "bookrec_tui.cli", "import", str(path), "--yes"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "BOOKREC_DATA_DIR": str(tiny_world.data_dir),
                "BOOKREC_MODEL_DIR": str(tiny_world.model_dir),
            },
            timeout=120,
        )
        assert res.returncode != 0 and "Traceback" not in res.stderr
        assert profile.path.read_bytes() == before
