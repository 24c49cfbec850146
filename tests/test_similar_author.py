""" "More like this" keeps one of the seed author's other books, without a flood (a tiny world
with The Road, whose readers go on to dystopias, and Cormac McCarthy's western)."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_world

from bookrec_tui.core import recommender as recommender_module
from bookrec_tui.core.recommender import SIMILAR_AUTHOR_PLACE, Recommender

ROAD = ("The Road", "Cormac McCarthy", 2006, "young-adult", None)  # shelved dystopian
MERIDIAN = ("Blood Meridian", "Cormac McCarthy", 1985, "classics", None)
DYSTOPIAS = [
    ("The Giver", "Lois Lowry", 1993, "young-adult", None),
    ("Never Let Me Go", "Kazuo Ishiguro", 2005, "young-adult", None),
    ("World War Z", "Max Brooks", 2006, "young-adult", None),
    ("The Handmaid's Tale", "Margaret Atwood", 1985, "young-adult", None),
]
#: What The Road's heavy readers also read (and love).
ALSO_READ = [
    "1984",
    "Brave New World",
    "Fahrenheit 451",
    "The Hunger Games",
    "Divergent",
    "Ender's Game",
    *(title for title, *_ in DYSTOPIAS),
]


def road_world(root, meridian_fans: int):
    """The tiny world plus The Road, Blood Meridian and four dystopias; 300 readers love
    The Road and the dystopias, ``meridian_fans`` others love Blood Meridian alone (without
    them its average rating is low)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiny_world, "BOOKS", [*tiny_world.BOOKS, ROAD, MERIDIAN, *DYSTOPIAS])
        titles = [title for title, *_ in tiny_world.BOOKS]
        ratings = tiny_world.make_ratings()
        first = int(ratings[:, 0].max()) + 1
        heavy = [
            (first + reader, titles.index(title) + 1, 5)
            for reader in range(300)
            for title in ["The Road", *ALSO_READ]
        ]
        fans = [
            (first + 300 + reader, titles.index("Blood Meridian") + 1, 5)
            for reader in range(meridian_fans)
        ]
        world = tiny_world.build(root, np.array([*ratings.tolist(), *heavy, *fans]))
        return Recommender(world.bundle(), world.catalogue())


@pytest.fixture(scope="module")
def road_rec(tmp_path_factory) -> Recommender:
    return road_world(tmp_path_factory.mktemp("road"), meridian_fans=60)


def titles_of(hits) -> list[str]:
    return [h.title for h in hits]


def test_more_like_the_road_holds_blood_meridian(road_rec):
    c = road_rec.catalogue
    road, meridian = road_rec.resolve("The Road"), road_rec.resolve("Blood Meridian")
    assert c.average_ratings[c.row(meridian)] >= recommender_module.SIMILAR_AUTHOR_STARS
    # Its score alone would leave it out: the dystopias outscore it.
    scores = road_rec.similar_scores(c.row(road))
    assert (scores > scores[c.row(meridian)]).sum() >= SIMILAR_AUTHOR_PLACE
    hits = road_rec.similar(road, 10)
    assert titles_of(hits)[-1] == "Blood Meridian", titles_of(hits)
    assert [h.authors for h in hits].count("Cormac McCarthy") == 1
    # The rest are the best scoring books, in order.
    assert [h.score for h in hits[:-1]] == sorted((h.score for h in hits[:-1]), reverse=True)
    assert hits[-2].score > hits[-1].score


def test_a_longer_list_starts_as_the_ten(road_rec):
    road = road_rec.resolve("The Road")
    ten, twenty = road_rec.similar(road, 10), road_rec.similar(road, 20)
    assert twenty[:10] == ten
    assert len(twenty) == 20 and len({h.book_id for h in twenty}) == 20


def test_a_reader_who_read_blood_meridian_is_not_shown_it(road_rec):
    road, meridian = road_rec.resolve("The Road"), road_rec.resolve("Blood Meridian")
    hits = road_rec.similar(road, 10, ratings={meridian: 4})
    assert "Blood Meridian" not in titles_of(hits)
    assert "Cormac McCarthy" not in {h.authors for h in hits}


def test_a_poorly_rated_book_by_the_author_gets_no_place(tmp_path):
    rec = road_world(tmp_path, meridian_fans=0)
    c = rec.catalogue
    meridian = rec.resolve("Blood Meridian")
    assert c.average_ratings[c.row(meridian)] < recommender_module.SIMILAR_AUTHOR_STARS
    assert "Blood Meridian" not in titles_of(rec.similar(rec.resolve("The Road"), 10))


def test_the_candidate_path_places_the_same_book(road_rec, tmp_path, monkeypatch):
    """A large catalogue's candidates hold every book by the seed's author, so its list is
    the one scoring every book gives."""
    monkeypatch.setattr(recommender_module, "EXACT_UP_TO", 0)
    monkeypatch.setattr(recommender_module, "SIMILAR_CANDIDATES", 12)
    fast = Recommender(road_rec.bundle, road_rec.catalogue)
    assert fast.similar_index is not None
    for book_id in road_rec.catalogue.book_ids:
        full, got = road_rec.similar(int(book_id), 10), fast.similar(int(book_id), 10)
        assert [(h.book_id, h.note) for h in got] == [(h.book_id, h.note) for h in full]


def test_lists_holding_the_author_already_are_unchanged(road_rec, monkeypatch):
    """No flood: against the lists without the author's place, a list changes only where no
    book by the seed's author was among the ten, and then by that one book at place 10."""
    c = road_rec.catalogue
    with_place = {int(b): road_rec.similar(int(b), 10) for b in c.book_ids}
    monkeypatch.setattr(recommender_module, "SIMILAR_AUTHOR_PLACE", 10**6)
    changed = 0
    for book_id, hits in with_place.items():
        before = road_rec.similar(book_id, 10)
        if hits == before:
            continue
        changed += 1
        author = c.first_authors[c.row(book_id)]
        assert author not in {c.first_authors[c.row(h.book_id)] for h in before}
        assert hits[:9] == before[:9]
        assert c.first_authors[c.row(hits[9].book_id)] == author
    assert 1 <= changed < len(with_place) // 4
