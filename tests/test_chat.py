from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookrec_tui.chat import wording
from bookrec_tui.chat.grammar import MAX_LINE, Action, Command, parse


@pytest.mark.parametrize(
    "line, expected",
    [
        ("loved the hobbit", Command("rate", "the hobbit", 5)),
        ("I liked Dune", Command("rate", "Dune", 4)),
        ("ok twilight", Command("rate", "twilight", 3)),
        ("disliked Twilight", Command("rate", "Twilight", 2)),
        ("hated moby dick", Command("rate", "moby dick", 1)),
        ("the hobbit 4", Command("rate", "the hobbit", 4)),
        ("Dune=5", Command("rate", "Dune", 5)),
        ("4 stars emma", Command("rate", "emma", 4)),
        ("rate dune 2", Command("rate", "dune", 2)),
        ("more like the hobbit", Command("more", "the hobbit")),
        ("/more like dune", Command("more", "dune")),
        ("similar to dune", Command("more", "dune")),
        ("why dune", Command("why", "dune")),
        ("forget dune", Command("forget", "dune")),
        ("details dune", Command("details", "dune")),
        ("recs", Command("recs")),
        ("/recs 20", Command("recs", n=20)),
        ("recs 0", Command("recs", n=0)),
        ("recs fantasy", Command("recs", shelf="fantasy")),
        ("recommend 5 science fiction", Command("recs", n=5, shelf="science fiction")),
        ("undo", Command("undo")),
        ("/help", Command("help")),
        ("?", Command("help")),
        ("quit", Command("quit")),
        ("shelf", Command("shelf")),
        ("3", Command("choose", n=3)),
        ("hary poter", Command("search", "hary poter")),
        # the book just discussed: "it", "this", stars alone
        ("loved it", Command("rate", "", 5)),
        ("rate it 4", Command("rate", "", 4)),
        ("3 stars", Command("rate", "", 3)),
        ("★★★", Command("rate", "", 3)),
        ("more like this", Command("more", "")),
        ("details it", Command("details", "")),
        # natural phrasing
        ("something like Gone Girl", Command("more", "Gone Girl")),
        ("anything like dune", Command("more", "dune")),
        (
            "I really liked Dune but hated its sequels",
            Command("rate", "Dune", 4, unused="but hated its sequels"),
        ),
        ("dune 4.5", Command("half", "dune", 4)),
        ("4.5 stars dune", Command("half", "dune", 4)),
        ("5/5 the secret history", Command("rate", "the secret history", 5)),
        ("the secret history ★★★★★", Command("rate", "the secret history", 5)),
        ("★★★★☆ the secret history", Command("rate", "the secret history", 4)),
        ("I loved the hobbit", Command("rate", "the hobbit", 5)),
        ("the hobbit 5 stars", Command("rate", "the hobbit", 5)),
        ("rate dune 4", Command("rate", "dune", 4)),
        ("dune: 4", Command("rate", "dune", 4)),
        ("gave dune 3 stars", Command("rate", "dune", 3)),
        ("dune 4/5", Command("rate", "dune", 4)),
        ("loved dune so much!", Command("rate", "dune", 5)),
        # a number that belongs to the title
        ("Dragon Ball, Vol. 2", Command("search", "Dragon Ball, Vol. 2")),
        ("harry potter book 3", Command("search", "harry potter book 3")),
        ("Fahrenheit 451", Command("search", "Fahrenheit 451")),
        ("   ", Command("empty")),
    ],
)
def test_grammar(line, expected):
    assert parse(line) == expected


def test_control_characters_and_huge_lines_are_tamed():
    cmd = parse("loved \x1b[31mdune\x00" + "x" * 100_000)
    assert cmd.kind == "rate" and "\x1b" not in cmd.text and len(cmd.text) <= MAX_LINE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_parse_never_raises_and_stars_stay_in_range(line):
    cmd = parse(line)
    assert cmd.kind
    if cmd.stars is not None:
        assert 1 <= cmd.stars <= 5
    assert all(ch.isprintable() for ch in cmd.text)


@pytest.mark.parametrize("action", list(Action))
def test_the_example_a_question_gives_is_a_line_that_does_it(action):
    """'Which book? e.g. `more like dune`': the example, typed, does what was asked (it
    said `more dune` and `order dune`, which search instead)."""
    example = wording.which_book(action, 4).split("`")[1]
    cmd = parse(example)
    assert (cmd.kind, cmd.text) == (action, "dune"), example
