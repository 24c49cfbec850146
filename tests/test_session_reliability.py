"""The conversation when saves fail, copies race and profiles hold what the catalogue lacks
(real data and the shipped model)."""

from __future__ import annotations

import json

from bookrec_tui.chat.session import ReaderSession
from bookrec_tui.store.profile import Profile


def test_a_failed_save_is_reported_as_not_saved(session, tmp_path, full_disk):
    assert session.handle("loved the hobbit").changed
    full_disk["full"] = True
    reply = session.handle("loved dune frank herbert")
    assert reply.kind == "error"
    assert "not saved" in reply.text and "No space left" in reply.text
    assert "is saved" not in reply.text
    assert len(session.ratings) == 1  # the shelf shows what is on disk
    assert "Dune" not in session.handle("shelf").text
    full_disk["full"] = False
    assert len(Profile.open("t", tmp_path).ratings) == 1


def test_undo_leaves_another_windows_later_rating(session, tmp_path):
    session.handle("loved the hobbit")
    (book,) = session.ratings
    other = Profile.open("t", tmp_path)
    other.rate(book, 2)
    reply = session.handle("undo")
    assert reply.kind == "error" and "another window" in reply.text and "Hobbit" in reply.text
    assert Profile.open("t", tmp_path).ratings == {book: 2}
    assert session.ratings == {book: 2}


def test_yes_on_an_import_keeps_a_rating_given_after_the_preview(session, tmp_path):
    c = session.rec.catalogue
    rows = [c.row(b) for b in (1, 2, 3)]  # three books from the catalogue, rated 5 on Goodreads
    lines = ["Book Id,Title,Author,My Rating,Exclusive Shelf"]
    for r in rows:
        lines.append(f'{c.goodreads_ids[r]},"{c.titles[r]}","{c.authors[r]}",5,read')
    export = tmp_path / "goodreads_library_export.csv"
    export.write_text("\n".join(lines) + "\n")
    preview = session.handle(f"import {export}")
    assert "3 found in the catalogue" in preview.text
    Profile.open("t", tmp_path).rate(2, 1)  # rated in another window after the preview
    reply = session.handle("yes")
    assert "kept your new rating" in reply.text
    assert Profile.open("t", tmp_path).ratings == {1: 5, 2: 1, 3: 5}


def test_ratings_of_books_missing_from_the_catalogue_are_kept_and_ignored(tiny_rec, tmp_path):
    (tmp_path / "t.json").write_text(json.dumps({"ratings": {"1": 5, "2": 4, "3": 5, "999999": 3}}))
    session = ReaderSession(tiny_rec, Profile.open("t", tmp_path))
    assert any("999999" in w for w in session.warnings)
    assert set(session.ratings) == {1, 2, 3}
    assert session.handle("recs").kind == "recs"
    assert "Your shelf (3 books)" in session.handle("shelf").text
    session.handle("loved dune frank herbert")
    assert "999999" in json.loads((tmp_path / "t.json").read_text())["ratings"]


def test_chat_export_refuses_a_missing_folder_and_a_device(session, tmp_path):
    reply = session.handle(f"export {tmp_path}/no/such/x.csv")
    assert reply.kind == "error" and "does not exist" in reply.text
    assert not (tmp_path / "no").exists()
    assert "not a regular file" in session.handle("export /dev/null").text
