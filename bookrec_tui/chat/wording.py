"""How the app says things, once: stars, a book's line, why a book is listed, the shelf's
order, the import summaries and the help. The chat, the side panels, the book map and the CLI
all say these the same way because they all call these. No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from bookrec_tui.chat.grammar import Action

if TYPE_CHECKING:
    from bookrec_tui.core.catalogue import Catalogue
    from bookrec_tui.core.recommender import Recommendation
    from bookrec_tui.store.goodreads import ImportPlan

STAR_WORDS = {5: "loved", 4: "liked", 3: "thought OK", 2: "disliked", 1: "hated"}

HELP = """\
Tell me about books you've read and I'll suggest what to read next.
  loved <title> · liked · ok · disliked · hated     rate 5..1 stars
  <title> 4   ·   4 stars <title>                    rate with a number
  read <title>         read, no opinion   ·   not interested <title>   hide it
  more like <title>    more by <author>   ·   any order / in order <title>
  why <title>                                        why it was recommended
  recs [n] [genre]     e.g. recs 20 · recs fantasy   recommendations
  onboard              questions: 1-5 · 0 read, no opinion · n not read · s skip
  loved it · 3 stars    after `details <title>`: rate the book just discussed
  details <title>      undo      forget <title>      shelf      help      quit
  import <goodreads_library_export.csv>              bring in your Goodreads ratings
  export <file.csv>    your ratings as CSV           profile <name>   switch reader
  map   ·   map tsne                                 all books on a map, yours marked (F2)
Just type a title to search. Slash forms (/recs) work too."""
KEYS_HELP = (  # one paragraph: it wraps to the width it is shown in
    "Keys: Tab moves between the input and the lists. On a highlighted book: 1-5 rate it, "
    "r read it (no opinion), x not interested, m more like this, w why, Enter details. In "
    "the input, ↑/↓ pick a suggestion and Enter uses it. F1 help, F2 the book map, Ctrl+R "
    "recommendations, Ctrl+Z undo, Ctrl+P the command palette, Ctrl+Q quits."
)

#: What the reader is shown saying when they act on a listed book with a key (details,
#: Enter, says nothing: the book's details are the answer).
KEY_SAID: dict[Action, str] = {
    Action.RATE: "{title} {stars}",
    Action.MORE: "more like {title}",
    Action.WHY: "why {title}",
    Action.READ: "read {title}",
    Action.HIDE: "not interested in {title}",
}


def which_book(action: Action, stars: int | None = None) -> str:
    """Asked when a line does not say which book: an example of the line that would."""
    example = {
        Action.RATE: f"dune {stars}" if stars else "loved dune",
        Action.MORE: "more like dune",
        Action.HIDE: "not interested dune",
        Action.ORDER: "in order dune",
    }.get(action, f"{action} dune")
    return f"Which book? e.g. `{example}`."


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 rating', '3 ratings'."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def stars(n: int) -> str:
    """A whole-star rating as the shelf shows it: '★★★☆☆'."""
    return f"{'★' * n}{'☆' * (5 - n)}"


def predicted(stars_guess: float) -> str:
    """The stars the model guesses: '4.3★'."""
    return f"{stars_guess:.1f}★"


def book_line(catalogue: Catalogue, book_id: int) -> str:
    """'Dune — Frank Herbert, 1965': a book as lists and questions name it."""
    year = catalogue.year_label(book_id)
    return (
        f"{catalogue.title(book_id)} — {catalogue.author_line(book_id)}"
        f"{', ' + year if year else ''}"
    )


def suggestion_line(catalogue: Catalogue, book_id: int) -> str:
    """A book as the input's suggestions show it: title and author, no year."""
    return f"{catalogue.title(book_id)} — {catalogue.author_line(book_id)}"


def reason(r: Recommendation, ratings: Mapping[int, int], catalogue: Catalogue) -> str:
    """Why a book is listed: its place in a series, and the rated book that drives it (named
    only when one does: see Recommender.drivers). A driver by another author and shelved in
    none of the book's genres drives it through the readers both share, and is named so:
    "To Kill a Mockingbird, because you loved Harry Potter" reads as a claim about the
    books."""
    if r.because is not None and catalogue.alike(r.book_id, r.because) is False:
        why = f"loved by readers of {catalogue.short_title(r.because)}"
    elif r.because is not None:
        why = (
            f"because you {STAR_WORDS[ratings.get(r.because, 5)]} "
            f"{catalogue.short_title(r.because)}"
        )
    elif ratings:
        why = "readers with similar taste loved it"
    else:
        why = "popular and well loved"
    return f"{r.note}, {why}" if r.note else why


def recommendation_line(r: Recommendation, ratings: Mapping[int, int], catalogue: Catalogue) -> str:
    """'Dune — Frank Herbert, 1965  ~4.3★ — because you loved The Hobbit': one listed book,
    in the chat's lists and the CLI's."""
    return (
        f"{book_line(catalogue, r.book_id)}  ~{predicted(r.predicted_rating)} — "
        f"{reason(r, ratings, catalogue)}"
    )


def shelf_order(ratings: Mapping[int, int], title: Callable[[int], str]) -> list[tuple[int, int]]:
    """(book, stars) as a shelf lists them: best loved first, then by title."""
    return sorted(ratings.items(), key=lambda kv: (-kv[1], title(kv[0])))


def import_counts(plan: ImportPlan) -> str:
    """What an export holds, counted the same way wherever an import is previewed."""
    rated_rows = sum(plan.by_rule.values()) + len(plan.unmatched)
    merged = sum(plan.by_rule.values()) - len(plan.ratings)
    same_book = (
        f"; {merged} more are other editions or copies of books already counted, "
        "and their last rating is used"
        if merged
        else ""
    )
    return (
        f"{rated_rows} rated books: {len(plan.ratings)} found in the catalogue, "
        f"{len(plan.unmatched)} not in it{same_book}. Also {len(plan.read)} read without a "
        f"rating and {len(plan.shelved)} to-read books found."
    )


def import_nothing(plan: ImportPlan) -> str:
    """Why an export brings nothing in: none of its books (rated, read or to read) is in
    the catalogue."""
    return (
        f"none of its {plural(len(plan.entries), 'book')} is in the catalogue; nothing to "
        "import, your profile is unchanged."
    )


#: Said after an import that brought books but no ratings (an export of read and to-read
#: shelves): they are kept, but the lists are made from ratings.
RATINGS_HELP = (
    "None of them came with a rating, and ratings are what your recommendations are made "
    "from: rate a few of the books you have read (1 to 5 stars) to make them your own."
)


def import_done(plan: ImportPlan, written: Mapping[int, int], skipped: int) -> str:
    """What an import wrote; ``skipped``: books rated since the preview, which keep the rating
    given then."""
    kept = (
        f" {plural(skipped, 'book')} you rated since the preview kept your new rating."
        if skipped
        else ""
    )
    help_ = f" {RATINGS_HELP}" if not plan.ratings else ""
    return (
        f"Imported {len(written) - skipped} ratings, {len(plan.read)} read books and "
        f"{len(plan.shelved)} to-read books.{kept}{help_}"
    )
