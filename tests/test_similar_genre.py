"""How "more like this" follows the seed's genre, not the books everyone reads (tiny world)."""

from __future__ import annotations

import numpy as np
import tiny_world

from bookrec_tui.core.recommender import Recommender

TITLES = [title for title, *_ in tiny_world.BOOKS]
GENRE = {i + 1: genre for i, (*_, genre, _) in enumerate(tiny_world.BOOKS)}  # book_id -> genre
CANON = [
    "Harry Potter and the Sorcerer's Stone",
    "The Hunger Games",
    "1984",
    "The Great Gatsby",
    "To Kill a Mockingbird",
]


def test_a_thrillers_similar_books_are_thrillers_not_what_everyone_reads(tmp_path):
    """800 heavy readers rate the five most-read books of other genres and Gone Girl: its
    strongest links are then those five. "More like Gone Girl" still lists mysteries."""
    ratings = tiny_world.make_ratings()
    first = int(ratings[:, 0].max()) + 1
    heavy = [
        (first + reader, TITLES.index(title) + 1, 5)
        for reader in range(800)
        for title in [*CANON, "Gone Girl"]
    ]
    world = tiny_world.build(tmp_path, np.concatenate([ratings, np.array(heavy)]))
    rec = Recommender(world.bundle(), world.catalogue())
    seed = rec.resolve("Gone Girl")
    listed = rec.similar(seed, 5)
    assert [GENRE[s.book_id] for s in listed] == ["mystery"] * 5, [s.title for s in listed]
