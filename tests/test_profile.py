from __future__ import annotations

import json

import pytest

from bookrec_tui.store.profile import Profile, ProfileError


def test_every_change_is_on_disk_at_once(tmp_path):
    p = Profile.open("ann", tmp_path)
    p.rate(5, 4)
    assert json.loads((tmp_path / "ann.json").read_text())["ratings"] == {"5": 4}
    p.rate(5, 2)
    p.forget(5)
    assert Profile.open("ann", tmp_path).ratings == {}


def test_undo_restores_the_previous_rating(tmp_path):
    p = Profile.open("ann", tmp_path)
    p.rate(1, 5)
    p.rate(1, 2)
    assert p.undo() == (1, 5) and p.ratings == {1: 5}
    assert p.undo() == (1, None) and p.ratings == {}
    assert p.undo() is None


def test_two_copies_do_not_clobber_each_other(tmp_path):
    a = Profile.open("shared", tmp_path)
    b = Profile.open("shared", tmp_path)
    a.rate(1, 5)
    b.rate(2, 3)  # b never saw a's rating in memory
    a.rate(3, 4)
    assert Profile.open("shared", tmp_path).ratings == {1: 5, 2: 3, 3: 4}


def test_a_corrupted_profile_is_kept_as_a_backup_and_reported(tmp_path):
    (tmp_path / "bob.json").write_text('{"ratings": {"12": 9')
    p = Profile.open("bob", tmp_path)
    assert p.ratings == {} and p.warning and "could not be read" in p.warning
    backups = list(tmp_path.glob("bob.broken-*.json"))
    assert len(backups) == 1 and backups[0].read_text() == '{"ratings": {"12": 9'


def test_out_of_range_ratings_on_disk_are_not_trusted(tmp_path):
    (tmp_path / "eve.json").write_text('{"ratings": {"12": 9}}')
    assert Profile.open("eve", tmp_path).warning


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "x" * 100])
def test_profile_names_cannot_escape_the_folder(tmp_path, name):
    with pytest.raises(ProfileError):
        Profile.open(name, tmp_path)


def test_bad_star_values_are_refused(tmp_path):
    p = Profile.open("ann", tmp_path)
    with pytest.raises(ProfileError):
        p.rate(1, 6)
    assert p.ratings == {}


WRITER = """
import sys
from pathlib import Path
from bookrec_tui.store.profile import Profile

p = Profile.open("ann", Path(sys.argv[1]))
assert p.warning is None, p.warning
i = len(p.ratings)
while True:
    i += 1
    p.rate(i, i % 5 + 1)
"""


def test_kill_9_while_rating_leaves_the_old_or_the_new_state(tmp_path):
    """SIGKILL a process that saves a rating after rating, again and again: every time, the
    profile on disk reads cleanly and holds exactly the ratings saved before the kill."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(9)
    saved = 0
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
        time.sleep(rng.uniform(0.25, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        p = Profile.open("ann", tmp_path)
        assert p.warning is None
        n = len(p.ratings)
        assert p.ratings == {i: i % 5 + 1 for i in range(1, n + 1)}
        assert n >= saved  # nothing that was saved is ever lost
        saved = n
    assert saved > 100
    # Each kill inside a save leaves that save's temp file: some kills did land mid-write.
    assert len(list(tmp_path.glob(".ann.json.*.tmp"))) >= 1


def test_temp_files_left_by_a_killed_save_are_cleared_once_stale(tmp_path):
    import os

    from bookrec_tui.store.profile import STALE_TEMP_SECONDS

    Profile.open("ann", tmp_path).rate(1, 5)
    old = tmp_path / ".ann.json.abc123.tmp"
    fresh = tmp_path / ".ann.json.def456.tmp"  # may be another running copy's save
    for f in (old, fresh):
        f.write_text('{"ratings": {"1": ')
    past = old.stat().st_mtime - STALE_TEMP_SECONDS - 5
    os.utime(old, (past, past))
    assert Profile.open("ann", tmp_path).ratings == {1: 5}
    assert not old.exists() and fresh.exists()
