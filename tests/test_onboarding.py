"""Adaptive onboarding (next_question) on a small hand-made catalogue and a stub model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.core.genres import GENRE_NAMES
from bookrec_tui.core.onboarding import QuestionPicker

# (title, author, ratings count, language, taste group)
BOOKS = [
    ("Alpha", "Ann A", 9_000_000, "eng", 0),
    ("Bravo", "Bob B", 8_000_000, "eng", 1),
    ("Charlie (Saga, #2)", "Cy C", 7_900_000, "eng", 0),  # a sequel: never asked
    ("Delta Box Set", "Di D", 7_800_000, "eng", 0),  # a box set: never asked
    ("SparkNotes: Alpha", "Ed E", 7_700_000, "eng", 0),  # a study guide: never asked
    ("Alpha: The Graphic Novel", "Fa F", 7_600_000, "eng", 0),  # an adaptation: never asked
    ("Le Livre", "Gi G", 7_500_000, "fre", 0),  # French: only once French is shown
    ("Echo", "Ann A", 7_400_000, "eng", 0),  # Alpha's author: not twice
    ("Foxtrot", "Hu H", 8_000_000, "eng", 0),  # as widely read as Bravo
    ("Golf", "Io I", 1_000_000, "eng", 1),
    ("Hotel", "Jo J", 900_000, "eng", 0),
    ("Un Autre", "Ka K", 800_000, "fre", 1),
]


class TasteScorer:
    """Reading a book lifts every book of its taste group by ``lift``."""

    def __init__(self, groups: np.ndarray, lift: float = 40.0) -> None:
        self.groups = groups
        self.lift = lift

    def rank_scores(self, rows: np.ndarray, stars: np.ndarray) -> np.ndarray:
        scores = np.zeros(len(self.groups))
        for row in np.asarray(rows, dtype=np.int64):
            scores[self.groups == self.groups[row]] += self.lift
        return scores


def stub_recommender(lift: float = 40.0) -> SimpleNamespace:
    n = len(BOOKS)
    title, author, count, language, group = (np.array(col) for col in zip(*BOOKS, strict=True))
    catalogue = Catalogue(
        book_ids=np.arange(1, n + 1, dtype=np.int32),
        goodreads_ids=np.arange(1, n + 1, dtype=np.int64),
        best_book_ids=np.arange(1, n + 1, dtype=np.int64),
        titles=title,
        authors=author,
        years=np.zeros(n, np.int16),
        average_ratings=np.full(n, 4.0, np.float32),
        ratings_counts=count.astype(np.int64),
        isbns=np.array([""] * n),
        shelves=np.array([""] * n),
        rating_stds=np.ones(n, np.float32),
        original_titles=title,
        languages=language,
        shelf_counts=np.zeros((n, 8), np.int32),
        genre_counts=np.zeros((n, len(GENRE_NAMES)), np.int32),
    )
    return SimpleNamespace(catalogue=catalogue, scorer=TasteScorer(group.astype(np.int64), lift))


def ids(*titles: str) -> list[int]:
    return [[b[0] for b in BOOKS].index(t) + 1 for t in titles]


def ask_all(picker: QuestionPicker, answer) -> list[int]:
    answers: dict[int, int | None] = {}
    asked = []
    while (book := picker.next_question(answers)) is not None:
        asked.append(book)
        answers[book] = answer(book)
    return asked


@pytest.fixture
def picker() -> QuestionPicker:
    return QuestionPicker(stub_recommender())


def test_first_question_is_the_most_read_book(picker):
    assert picker.next_question({}) == ids("Alpha")[0]


def test_never_asks_sequels_box_sets_guides_adaptations_or_an_author_twice(picker):
    asked = ask_all(picker, lambda b: None)
    never = set(ids("Charlie (Saga, #2)", "Delta Box Set", "SparkNotes: Alpha"))
    never |= set(ids("Alpha: The Graphic Novel", "Echo", "Le Livre", "Un Autre"))
    assert not never & set(asked)
    assert sorted(asked) == sorted(ids("Alpha", "Bravo", "Foxtrot", "Golf", "Hotel"))


def test_what_the_reader_has_read_steers_the_next_question(picker):
    alpha = ids("Alpha")[0]
    # Read Alpha: the next is from Alpha's taste group (Foxtrot) over Bravo, as widely read.
    assert picker.next_question({alpha: 4}) == ids("Foxtrot")[0]
    assert picker.next_question({alpha: 0}) == ids("Foxtrot")[0]  # read, no opinion
    # Not read Alpha: the other group's Bravo.
    assert picker.next_question({alpha: None}) == ids("Bravo")[0]


def test_a_language_is_asked_once_the_reader_has_shown_it(picker):
    alpha, bravo, livre = ids("Alpha", "Bravo", "Le Livre")
    assert ids("Un Autre")[0] not in ask_all(picker, lambda b: None)
    shown = {alpha: None, bravo: None, livre: 5}
    asked = []
    while (book := picker.next_question(shown)) is not None:
        asked.append(book)
        shown[book] = None
    assert ids("Un Autre")[0] in asked


def test_nothing_left_to_ask_is_none(picker):
    everything = {int(b): None for b in picker.rec.catalogue.book_ids}
    assert picker.next_question(everything) is None


@pytest.mark.parametrize("lift", [0.04, 40.0, 4000.0])
def test_the_questions_do_not_depend_on_the_scale_of_the_models_scores(lift):
    """Models score on different scales (the embedding model's scores move ~6x as far as
    the link model's): the model's pull on the questions is counted in units of its own
    spread, so the same answers bring the same questions."""
    picker = QuestionPicker(stub_recommender(lift))
    alpha, bravo = ids("Alpha", "Bravo")
    reference = QuestionPicker(stub_recommender())
    for answers in ({alpha: 4}, {alpha: None}, {alpha: 5, bravo: None}, {alpha: None, bravo: 2}):
        np.testing.assert_allclose(picker.read_logits(answers), reference.read_logits(answers))
        assert picker.next_question(answers) == reference.next_question(answers)
