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


def test_a_cookbook_has_a_genre_of_its_own_not_true_crimes():
    """ "More like In Cold Blood" listed The Joy of Cooking: with no food genre, a cookbook's
    genre shelving was "non-fiction" and "classics" alone, as close to a true-crime classic
    as another non-fiction classic. Its cooking shelves now name a genre."""
    from bookrec_tui.core import genres

    shelves = {  # book -> {shelf: readers}, as in book_tags.csv (Goodreads' own counts)
        "The Joy of Cooking": {"cookbooks": 400, "cooking": 300, "food": 200, "non-fiction": 416},
        "In Cold Blood": {"non-fiction": 7796, "crime": 2447, "classics": 3396, "history": 706},
        "Cold Blood's neighbour": {"non-fiction": 900, "crime": 300, "history": 300},
        "A fantasy": {"fantasy": 5000, "fiction": 900},
        "Another fantasy": {"fantasy": 3000, "fiction": 700},
    }
    counts = np.zeros((len(shelves), len(genres.GENRE_NAMES)))
    for row, tags in enumerate(shelves.values()):
        columns = genres.tag_genre_columns(list(tags))
        for column, readers in zip(columns, tags.values(), strict=True):
            if column >= 0:
                counts[row, column] += readers
    unit = genres.shelf_vectors(counts)
    cookbook, cold_blood, neighbour = unit[0], unit[1], unit[2]
    assert cookbook @ cold_blood < 0.5 < neighbour @ cold_blood, cookbook @ cold_blood
    assert genres.genre_membership(counts)[0, genres.GENRE_NAMES.index("food")]
