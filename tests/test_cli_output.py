"""`--out` targets, damaged profiles and bad numbers on the command line (tiny data, in
process: these are about files and messages, not recommendations)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from bookrec_tui.cli import main


@pytest.fixture
def home(isolated_home, tiny_data, monkeypatch):
    monkeypatch.setenv("BOOKREC_DATA_DIR", str(tiny_data))
    profiles = isolated_home / "profiles"
    profiles.mkdir()
    (profiles / "default.json").write_text(json.dumps({"ratings": {"1": 5, "2": 3}}))
    return isolated_home


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_export_refuses_a_fifo_and_leaves_it_be(home, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["export", "--out", str(fifo)]) == 2
    assert "not a regular file" in one_line_error(capsys)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_export_refuses_a_folder(home, tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path)]) == 2
    assert "is a folder" in one_line_error(capsys)


def test_export_writes_through_a_symlink_and_keeps_permissions(home, tmp_path, capsys):
    real = tmp_path / "keep" / "ratings.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["export", "--out", str(link)]) == 0
    assert link.is_symlink()
    assert real.read_text().splitlines()[0] == "book_id,title,authors,rating"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_export_into_a_missing_folder_is_refused_not_created(home, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "x.csv"
    assert main(["export", "--out", str(out)]) == 2
    assert "does not exist" in one_line_error(capsys)
    assert not (tmp_path / "no").exists()


def test_a_failing_write_is_one_line_not_a_traceback(home, tmp_path, capsys, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.csv"))

    monkeypatch.setattr("bookrec_tui.fsutil.tempfile.mkstemp", full)
    assert main(["export", "--out", str(tmp_path / "x.csv")]) == 1
    assert "No space left on device" in one_line_error(capsys)


@pytest.mark.parametrize("command", [["train"], ["evaluate"], ["data", "pack-catalogue"]])
def test_train_and_evaluate_check_out_before_any_work(home, tmp_path, capsys, command):
    file_in_the_way = tmp_path / "file"
    file_in_the_way.write_text("x")
    target = tmp_path if command == ["evaluate"] else file_in_the_way
    assert main([*command, "--out", str(target)]) == 2
    assert str(target) in one_line_error(capsys)


def test_import_on_a_damaged_profile_says_so(home, tmp_path, capsys):
    (home / "profiles" / "default.json").write_text('{"ratings": {"1": 5')
    export = tmp_path / "export.csv"
    export.write_text('Book Id,Title,Author,My Rating\n1001,"Saga 1","Ann Author",4\n')
    assert main(["import", str(export), "--yes"]) == 0
    err = capsys.readouterr().err
    assert "could not be read" in err and "broken-" in err
    assert list((home / "profiles").glob("default.broken-*.json"))


@pytest.mark.parametrize("n", ["0", "-100000", "lots"])
def test_n_must_be_a_positive_whole_number(home, capsys, n):
    with pytest.raises(SystemExit) as exited:
        main(["search", "saga", "-n", n])
    assert exited.value.code == 2
    assert "-n" in capsys.readouterr().err


def test_import_of_read_and_to_read_shelves_without_ratings(home, tmp_path, capsys):
    """An export with no ratings brings its read and to-read books in, as the chat does, and
    says that ratings are what make the recommendations the reader's own."""
    from bookrec_tui.store.profile import Profile

    export = tmp_path / "export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n"
        "1003,Saga 3,Ann Author,0,read\n1004,Saga 4,Ann Author,0,to-read\n"
    )
    assert main(["import", str(export), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Imported 0 ratings, 1 read books and 1 to-read books" in out
    assert "ratings are what your recommendations are made from" in out
    profile = Profile.open("default")
    assert profile.read == {3} and profile.to_read == {4}
    assert profile.ratings == {1: 5, 2: 3}


def test_import_of_an_export_with_nothing_in_the_catalogue_changes_nothing(home, tmp_path, capsys):
    export = tmp_path / "export.csv"
    export.write_text(
        "Book Id,Title,Author,My Rating,Exclusive Shelf\n999999,Nowhere,Nobody,0,read\n"
    )
    assert main(["import", str(export), "--yes"]) == 1
    assert "none of its 1 book is in the catalogue; nothing to import" in capsys.readouterr().out
