"""The profile store under several processes, failed saves, odd files and newer formats."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bookrec_tui.store.profile import Profile, ProfileError

RATER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bookrec_tui.store.profile import Profile

    folder, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    go = folder / "go"
    while not go.exists():  # start together with the other copy
        time.sleep(0.001)
    p = Profile.open("shared", folder)
    for book in range(first, first + count):
        p.rate(book, book % 5 + 1)
    """
)


def test_two_processes_rating_at_once_lose_nothing(tmp_path):
    """Two copies of the app on one profile, each saving 1,000 different ratings as fast as
    they can, at the same time: all 2,000 are on disk at the end."""
    count = 1000
    children = [
        subprocess.Popen([sys.executable, "-c", RATER, str(tmp_path), str(first), str(count)])
        for first in (1, 100_001)
    ]
    (tmp_path / "go").touch()
    assert [c.wait(timeout=300) for c in children] == [0, 0]
    ratings = Profile.open("shared", tmp_path).ratings
    expected = {b: b % 5 + 1 for first in (1, 100_001) for b in range(first, first + count)}
    assert len(ratings) == 2 * count
    assert ratings == expected


def test_undo_does_not_remove_another_copys_later_rating(tmp_path):
    a = Profile.open("shared", tmp_path)
    b = Profile.open("shared", tmp_path)
    a.rate(7, 5)
    b.rate(7, 2)  # the other window changed it since
    from bookrec_tui.store.profile import UndoConflict

    with pytest.raises(UndoConflict) as caught:
        a.undo()
    assert caught.value.book_id == 7 and caught.value.stars_now == 2
    assert Profile.open("shared", tmp_path).ratings == {7: 2}
    assert a.ratings == {7: 2}  # this copy now shows what is on disk
    assert b.undo() == (7, 5)  # the copy that wrote it can still undo its own change
    assert Profile.open("shared", tmp_path).ratings == {7: 5}


def test_unknown_fields_of_a_newer_format_survive_a_save(tmp_path):
    newer = {
        "format": 3,
        "ratings": {"1": 4},
        "not_read": [],
        "to_read": [9],
        "reading_goal": {"year": 2027, "books": 40},
        "hidden": [5, 6],
    }
    (tmp_path / "ann.json").write_text(json.dumps(newer))
    p = Profile.open("ann", tmp_path)
    assert p.warning is None
    p.rate(2, 5)
    saved = json.loads((tmp_path / "ann.json").read_text())
    assert saved["reading_goal"] == {"year": 2027, "books": 40}
    assert saved["hidden"] == [5, 6] and saved["to_read"] == [9]
    assert saved["format"] == 3
    assert saved["ratings"] == {"1": 4, "2": 5}


def test_a_symlinked_profile_stays_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "ann.json"
    real.parent.mkdir()
    real.write_text('{"format": 1, "ratings": {"1": 3}}')
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "ann.json").symlink_to(real)
    p = Profile.open("ann", folder)
    p.rate(2, 4)
    assert (folder / "ann.json").is_symlink()
    assert json.loads(real.read_text())["ratings"] == {"1": 3, "2": 4}


def test_backups_never_overwrite_each_other_nor_follow_symlinks(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for i in range(3):  # three damaged profiles within the same second
        (tmp_path / "bob.json").write_text(f"not json {i}")
        assert Profile.open("bob", tmp_path).warning
    backups = sorted(tmp_path.glob("bob.broken-*.json"))
    assert sorted(b.read_text() for b in backups) == ["not json 0", "not json 1", "not json 2"]
    # A backup name already taken by a symlink is not written through.
    for b in backups:
        b.unlink()
        b.symlink_to(victim)
    (tmp_path / "bob.json").write_text("not json 3")
    assert Profile.open("bob", tmp_path).warning
    assert victim.read_text() == "precious"


def test_a_damaged_symlinked_profile_keeps_its_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("garbage")
    (tmp_path / "ann.json").symlink_to(real)
    p = Profile.open("ann", tmp_path)
    assert p.warning
    p.rate(1, 5)
    assert (tmp_path / "ann.json").is_symlink()
    assert json.loads(real.read_text())["ratings"] == {"1": 5}


def test_import_keeps_a_rating_given_after_the_preview(tmp_path):
    p = Profile.open("ann", tmp_path)
    p.rate(1, 2)
    seen = dict(p.ratings)  # what the import preview compared against
    other = Profile.open("ann", tmp_path)
    other.rate(1, 4)  # changed in another window after the preview
    other.rate(3, 1)  # and a new one the export also holds
    skipped = p.import_books({1: 5, 2: 5, 3: 5}, set(), seen=seen)
    assert skipped == 2
    assert Profile.open("ann", tmp_path).ratings == {1: 4, 2: 5, 3: 1}


def test_a_failed_save_changes_nothing_and_says_so(tmp_path, full_disk):
    from bookrec_tui.store.profile import ProfileSaveError

    p = Profile.open("ann", tmp_path)
    p.rate(1, 5)
    full_disk["full"] = True
    with pytest.raises(ProfileSaveError, match="not saved.*No space left"):
        p.rate(2, 4)
    assert p.ratings == {1: 5}  # memory agrees with the disk
    with pytest.raises(ProfileSaveError):
        p.forget(1)
    assert p.ratings == {1: 5}
    with pytest.raises(ProfileSaveError):
        p.undo()
    assert p.ratings == {1: 5}
    with pytest.raises(ProfileSaveError):
        p.import_books({3: 3}, {4})
    assert p.ratings == {1: 5} and p.to_read == set()
    with pytest.raises(ProfileSaveError):
        p.mark_not_read(9)
    assert p.not_read == set()
    full_disk["full"] = False
    assert Profile.open("ann", tmp_path).ratings == {1: 5}
    assert p.undo() == (1, None)  # the undo that failed is still there to do
    assert list(tmp_path.glob(".ann.json.*.tmp")) == []  # no temp file left behind


@pytest.mark.parametrize(
    "text",
    [
        '{"ratings": {"1": Infinity}}',
        '{"ratings": {"1": NaN}}',
        '{"ratings": {"1": 4.7}}',
        '{"ratings": {"1": true}}',
        '{"ratings": ["1", 4]}',
        '{"ratings": {"1": 4}, "to_read": {"a": 1}}',
        '{"ratings": {"' + "9" * 5000 + '": 4}}',
        "[" * 100_000 + "]" * 100_000,
        '"just a string"',
        "",
    ],
    ids=["inf", "nan", "float", "bool", "list", "set-dict", "huge-id", "deep", "string", "empty"],
)
def test_bad_profiles_are_backed_up_not_crashed_on(tmp_path, text):
    (tmp_path / "eve.json").write_text(text)
    p = Profile.open("eve", tmp_path)
    assert p.ratings == {} and p.warning and "could not be read" in p.warning
    assert [b.read_text() for b in tmp_path.glob("eve.broken-*.json")] == [text]


@pytest.mark.parametrize("name", ["ann\n", "ann\r", " ann", "ann\x00"])
def test_profile_names_with_control_characters_are_refused(tmp_path, name):
    with pytest.raises(ProfileError):
        Profile.open(name, tmp_path)
    assert list(Path(tmp_path).iterdir()) == []


def test_undoing_an_import_leaves_books_rerated_since(tmp_path):
    p = Profile.open("ann", tmp_path)
    p.rate(1, 2)
    p.import_books({1: 5, 2: 4, 3: 3}, {8})
    Profile.open("ann", tmp_path).rate(2, 1)  # another window re-rates an imported book
    p.undo()
    assert Profile.open("ann", tmp_path).ratings == {1: 2, 2: 1}
    assert p.to_read == set()
