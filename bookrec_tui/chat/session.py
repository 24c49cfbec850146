"""A reader's conversation with the recommender: lines in, :class:`Reply` objects out.

The session is the one place that understands what a reader types (or does with a key on a
listed book): it answers with a reply to show and the effects a face must carry out
(:mod:`bookrec_tui.chat.replies`). The Textual app shows replies and carries out effects;
tests and the fuzzer drive the session directly with :meth:`ReaderSession.handle`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bookrec_tui.chat import wording
from bookrec_tui.chat.grammar import _NUMBER, Action, Command, Kind, parse
from bookrec_tui.chat.questions import ONBOARDING_KEYS, Questions
from bookrec_tui.chat.replies import InBackground, OpenMap, Quit, Reply, ReplyKind
from bookrec_tui.chat.transfer import GoodreadsImport, export_ratings
from bookrec_tui.chat.wording import STAR_WORDS, plural
from bookrec_tui.core.recommender import Recommendation, Recommender, SimilarBook
from bookrec_tui.core.search import MATCH_THRESHOLD
from bookrec_tui.errors import BookrecError
from bookrec_tui.store.profile import ImportStep, Profile, SetStep, UndoConflict

MIN_RATINGS_FOR_RECS = 3
#: What a line typed with a suggestion picked can do to that book (anything else: details).
PICKED_ACTIONS = frozenset(
    (Action.RATE, Action.MORE, Action.WHY, Action.DETAILS, Action.FORGET, Action.READ, Action.HIDE)
)
#: Commands whose text is a title worth suggesting while it is typed.
SUGGEST_FOR = frozenset((*PICKED_ACTIONS, Kind.SEARCH))
MIN_SUGGEST_CHARS = 3
SUGGESTIONS = 6


@dataclass
class Pending:
    """A numbered list on screen: what a number typed next does to which book."""

    action: Action
    stars: int | None  # for RATE (and ORDER: 1 in order, 0 any order)
    options: list[int]


class ReaderSession:
    def __init__(self, rec: Recommender, profile: Profile) -> None:
        self.rec = rec
        self._begin(profile)

    def _begin(self, profile: Profile) -> None:
        """Start afresh as ``profile``'s reader: no list to pick from, no book discussed, no
        onboarding or import under way, nothing cached of the reader before."""
        self.profile = profile
        self.pending: Pending | None = None
        self.questions = Questions(self)  # onboarding
        self.importing = GoodreadsImport(self)
        self._recs_cache: tuple | None = None
        # The book just discussed (details, a rating, "more like", "why", an onboarding
        # question): what "loved it" or "3 stars" alone is about.
        self.focus: int | None = None
        self._known_ratings: tuple[dict[int, int], dict[int, int]] | None = None

    # ----------------------------------------------------------------- state
    @property
    def ratings(self) -> dict[int, int]:
        """The reader's ratings of books in this catalogue. Ratings of other ids (a changed
        catalogue, a hand-edited file) stay in the profile file but are left out here."""
        raw = self.profile.ratings
        if self._known_ratings is None or self._known_ratings[0] is not raw:
            catalogue = self.rec.catalogue
            known = {b: s for b, s in raw.items() if b in catalogue}
            self._known_ratings = (raw, known if len(known) < len(raw) else raw)
        return self._known_ratings[1]

    @property
    def warnings(self) -> list[str]:
        """What the reader should know about their profile before anything else."""
        found = [self.profile.warning] if self.profile.warning else []
        unknown = sorted(set(self.profile.ratings) - set(self.ratings))
        if unknown:
            shown = ", ".join(str(b) for b in unknown[:5])
            found.append(
                f"{plural(len(unknown), 'rating')} in your profile "
                f"{'are' if len(unknown) != 1 else 'is'} for books not in this catalogue "
                f"(book id {shown}{', …' if len(unknown) > 5 else ''}); "
                "they stay in the file but are left out here."
            )
        return found

    def _reader(self) -> dict:
        """What every list needs to know about the reader besides the ratings."""
        p = self.profile
        return {
            "exclude": p.not_read | p.hidden,
            "read": p.read,
            "series_order": p.series_order,
        }

    def recommendations(self, n: int = 10, shelf: str | None = None) -> list[Recommendation]:
        p = self.profile
        key = (
            tuple(sorted(self.ratings.items())),
            n,
            shelf,
            frozenset(p.not_read),
            frozenset(p.read),
            frozenset(p.hidden),
            tuple(sorted(p.series_order.items())),
        )
        if self._recs_cache is None or self._recs_cache[0] != key:
            recs = self.rec.recommend(self.ratings, n=n, shelf=shelf, **self._reader())
            self._recs_cache = (key, recs)
        return self._recs_cache[1]

    def title(self, book_id: int) -> str:
        return self.rec.catalogue.title(book_id)

    def book_line(self, book_id: int) -> str:
        return wording.book_line(self.rec.catalogue, book_id)

    def reason(self, r: Recommendation) -> str:
        return wording.reason(r, self.ratings, self.rec.catalogue)

    def shelf(self) -> list[tuple[int, int]]:
        """(book, stars) of the reader's ratings, as every shelf lists them."""
        return wording.shelf_order(self.ratings, self.title)

    @property
    def ratings_needed(self) -> int:
        """How many more ratings before the lists are the reader's own."""
        return max(MIN_RATINGS_FOR_RECS - len(self.ratings), 0)

    def listed(self, n: int = 20) -> list[Recommendation]:
        """The reader's recommendations as the side panel and the map show them: none until
        they have rated enough books."""
        return [] if self.ratings_needed else self.recommendations(n)

    def greeting(self, typed_already: bool = False) -> list[Reply]:
        """What the session says once it is up: what the reader should know about their
        profile, then a welcome back, or a new reader's first question (unless they have
        typed something already, which is answered instead)."""
        replies = [Reply(warning, kind=ReplyKind.ERROR) for warning in self.warnings]
        if self.ratings:
            replies.append(
                Reply(
                    f"Welcome back! {plural(len(self.ratings), 'book')} on your shelf. "
                    "Type `recs`, rate more books, or `help`."
                )
            )
        elif not typed_already:
            replies.append(self.start_onboarding())
        return replies

    def start_onboarding(self) -> Reply:
        """Ask about books this reader has likely read, adapting to each answer."""
        return self.questions.start()

    # ----------------------------------------------------------------- actions
    def rate(self, book_id: int, stars: int) -> Reply:
        needed = self.ratings_needed
        self.profile.rate(book_id, stars)
        self.focus = book_id
        note = ""
        if self.ratings_needed:
            note = f" Rate {self.ratings_needed} more and I'll start recommending."
        elif needed:  # this rating made the lists the reader's own (not a re-rating)
            note = " Your recommendations are ready: see the panel, or type `recs`."
        return Reply(
            f"Noted: {wording.stars(stars)} {self.title(book_id)}.{note}",
            [book_id],
            changed=True,
        )

    def _resolve(self, text: str, action: Action, stars: int | None = None) -> int | Reply:
        """A single book for ``text``, or a Reply asking which one (or saying none matched)."""
        text = text.strip()
        if not text:
            return Reply(wording.which_book(action, stars), kind=ReplyKind.ERROR)
        found = self.rec.lookup(text)
        if found.book_id is not None:
            return found.book_id
        if not found.candidates:
            return Reply(
                f"I couldn't find a book matching “{text}”. Try fewer words or the author's name.",
                kind=ReplyKind.ERROR,
            )
        options = [h.book_id for h in found.candidates]
        self.pending = Pending(action, stars, options)
        lines = ["Which one did you mean? Reply with a number:"]
        lines += [f"  {i}. {self.book_line(b)}" for i, b in enumerate(options, 1)]
        return Reply("\n".join(lines), options, kind=ReplyKind.CHOOSE)

    def act(self, action: Action, book_id: int, stars: int | None = None) -> Reply:
        """Do ``action`` on one book (``stars``: the rating, or for ORDER 1 in order)."""
        match action:
            case Action.RATE:
                return self.rate(book_id, int(stars or 0))
            case Action.MORE:
                return self.more_like(book_id)
            case Action.WHY:
                return self.why(book_id)
            case Action.FORGET:
                return self.forget(book_id)
            case Action.READ:
                return self.mark_read(book_id)
            case Action.HIDE:
                return self.hide(book_id)
            case Action.ORDER:
                return self.series_order(book_id, bool(stars))
            case Action.DETAILS:
                return self.details(book_id)

    def act_on_book(self, action: Action, book_id: int, stars: int | None = None) -> Reply:
        """A key on a listed book, or a book rated on the map: the reply, with what the
        reader is shown saying (``said``). Never raises."""
        said = wording.KEY_SAID.get(action, "")
        reply = self.guarded(self.act, action, book_id, stars)
        reply.said = said.format(title=self.title(book_id), stars=stars) if said else ""
        return reply

    def mark_read(self, book_id: int) -> Reply:
        if book_id in self.ratings:
            return Reply(f"You rated {self.title(book_id)} {self.ratings[book_id]}★ already.")
        self.profile.mark_read(book_id)
        return Reply(
            f"Noted: you read {self.title(book_id)} (no rating). I won't recommend it, and it "
            "counts a little towards your taste. `undo` takes it back.",
            [book_id],
            changed=True,
        )

    def hide(self, book_id: int) -> Reply:
        self.profile.hide(book_id)
        return Reply(
            f"Not interested in {self.title(book_id)}: I won't suggest it again. `undo` takes "
            "it back.",
            changed=True,
        )

    def series_order(self, book_id: int, in_order: bool) -> Reply:
        works = self.rec.catalogue.works
        sid = int(works.series[self.rec.catalogue.row(book_id)])
        if sid < 0:
            return Reply(
                f"{self.title(book_id)} is not part of a series I know.", kind=ReplyKind.ERROR
            )
        self.profile.set_series_order(works.series_keys[sid], in_order)
        name = works.series_names[sid]
        if in_order:
            text = f"{name}: read in order. I'll suggest the next book you haven't read."
        else:
            text = f"{name}: read in any order. I'll suggest any of its books."
        return Reply(text, changed=True)

    def more_by(self, text: str, n: int = 10) -> Reply:
        """The reader's next books by one author, in their order (series in order)."""
        author = self._author(text)
        if author is None:
            return Reply(
                f"I couldn't find an author matching “{text}”. Try the surname.",
                kind=ReplyKind.ERROR,
            )
        recs = self.rec.recommend(self.ratings, n=n, author=author, **self._reader())
        if not recs:
            return Reply(f"You have read everything by {author} that I know.")
        return self._book_list(f"More by {author}:", recs, ReplyKind.RECS)

    def _book_list(
        self,
        heading: str,
        books: list[Recommendation] | list[SimilarBook],
        kind: ReplyKind,
        hint: str | None = None,
    ) -> Reply:
        """A numbered list of books with their notes; a number typed next opens one."""
        ids = [b.book_id for b in books]
        lines = [heading]
        lines += [
            f"  {i}. {self.book_line(b.book_id)}{' (' + b.note + ')' if b.note else ''}"
            for i, b in enumerate(books, 1)
        ]
        if hint:
            lines.append(hint)
        self.pending = Pending(Action.DETAILS, None, ids)
        return Reply("\n".join(lines), ids, kind=kind)

    def _author(self, text: str) -> str | None:
        """The first author a reader means: a name (or part of one) as written in the
        catalogue, the most read of several; else the author of the book the text finds."""
        if not text.strip():
            return None
        named = self.rec.catalogue.author_named(text)
        if named is not None:
            return named
        hits = [h for h in self.rec.search(text, 1) if h.match >= MATCH_THRESHOLD]
        return self.rec.catalogue.first_author(hits[0].book_id) if hits else None

    def more_like(self, book_id: int, n: int = 10) -> Reply:
        self.focus = book_id
        reader = self._reader()
        hits: list[SimilarBook] = self.rec.similar(
            book_id,
            n,
            ratings=self.ratings,
            read=reader["read"],
            hidden=reader["exclude"],
            series_order=reader["series_order"],
        )
        return self._book_list(
            f"More like {self.title(book_id)}:",
            hits,
            ReplyKind.SIMILAR,
            "(Reply `3` for details of the third, `3 5` to rate it 5 stars.)",
        )

    def why(self, book_id: int) -> Reply:
        self.focus = book_id
        if not self.ratings:
            return Reply(
                f"{self.title(book_id)} is simply popular and well loved; rate a few "
                "books and I can explain better."
            )
        if book_id in self.ratings:
            return Reply(f"You rated {self.title(book_id)} {self.ratings[book_id]}★ yourself.")
        recs = self.rec.recommend(self.ratings, n=200, **self._reader())
        match = next((r for r in recs if r.book_id == book_id), None)
        predicted = self.rec.predict_ratings(self.ratings, [book_id])[0]
        if match is None:
            return Reply(
                f"{self.title(book_id)} isn't in your top recommendations; I'd guess "
                f"you'd give it {wording.predicted(predicted)}."
            )
        rank = recs.index(match) + 1
        return Reply(
            f"{self.title(book_id)} is #{rank} for you, {self.reason(match)}; "
            f"I'd guess {wording.predicted(predicted)}.",
            [book_id],
        )

    def details(self, book_id: int) -> Reply:
        self.focus = book_id
        c = self.rec.catalogue
        row = c.row(book_id)
        shelves = ", ".join(c.shelf_list(book_id)[:6]) or "—"
        mine = self.ratings.get(book_id)
        lines = [
            self.book_line(book_id),
            f"  Goodreads average {c.average_ratings[row]:.2f} from "
            f"{int(c.ratings_counts[row]):,} ratings",
            f"  Shelves: {shelves}",
            f"  {c.goodreads_url(book_id)}",
        ]
        if mine:
            lines.append(f"  You rated it {mine}★.")
        elif self.ratings:
            guess = self.rec.predict_ratings(self.ratings, [book_id])[0]
            lines.append(f"  I'd guess you'd give it {wording.predicted(guess)}.")
        return Reply("\n".join(lines), [book_id])

    def forget(self, book_id: int) -> Reply:
        if self.profile.forget(book_id):
            return Reply(f"Forgot your rating of {self.title(book_id)}.", changed=True)
        return Reply(f"You haven't rated {self.title(book_id)}.", kind=ReplyKind.ERROR)

    def recs_reply(self, n: int | None, shelf: str | None) -> Reply:
        self.focus = None  # a list: "it" would not say which
        if n is not None and n < 1:
            return Reply(
                "`recs 0` would list nothing: try `recs 10` (up to 100).", kind=ReplyKind.ERROR
            )
        n = n or 10
        recs = self.recommendations(n, shelf)
        head = (
            "Recommended for you"
            if self.ratings
            else "Popular, well-loved books (rate a few to personalise)"
        )
        lines = [f"{head}{' on ' + shelf if shelf else ''}:"]
        for i, r in enumerate(recs, 1):
            lines.append(
                f"  {i}. {wording.recommendation_line(r, self.ratings, self.rec.catalogue)}"
            )
        self.pending = Pending(Action.DETAILS, None, [r.book_id for r in recs])
        return Reply("\n".join(lines), [r.book_id for r in recs], kind=ReplyKind.RECS)

    def shelf_reply(self) -> Reply:
        self.focus = None  # a list: "it" would not say which
        if not self.ratings:
            return Reply("Your shelf is empty. Rate a book: e.g. `loved the hobbit`.")
        items = self.shelf()
        lines = [f"Your shelf ({len(items)} books):"]
        lines += [f"  {wording.stars(s)} {self.title(b)}" for b, s in items]
        return Reply("\n".join(lines), [b for b, _ in items])

    def search_reply(self, text: str) -> Reply:
        self.focus = None  # a list: "it" would not say which
        hits = self.rec.search(text, 8)
        if not hits or hits[0].match < MATCH_THRESHOLD:
            return Reply(
                f"I couldn't find “{text}”. Type `help` to see what I understand.",
                kind=ReplyKind.ERROR,
            )
        self.pending = Pending(Action.DETAILS, None, [h.book_id for h in hits])
        lines = [f"Books matching “{text}” (rate one with e.g. `1 5`, or `loved <title>`):"]
        lines += [f"  {i}. {self.book_line(h.book_id)}" for i, h in enumerate(hits, 1)]
        return Reply("\n".join(lines), [h.book_id for h in hits], kind=ReplyKind.SEARCH)

    def switch_profile(self, name: str) -> Reply:
        """Continue as another reader (profiles live side by side in one folder)."""
        if not name:
            return Reply("Switch to which profile? e.g. `profile alice`.", kind=ReplyKind.ERROR)
        self._begin(Profile.open(name, self.profile.path.parent))
        n = len(self.ratings)
        start = " Rate a few books (or type `onboard` for questions)." if n == 0 else ""
        return Reply(
            f"Now reading as '{name}': {plural(n, 'rating')} on the shelf.{start}",
            changed=True,
        )

    def typed_title(self, typed: str) -> str | None:
        """The title in a line still being typed that is worth suggesting books for; None for
        a command that names no book, a few letters, or an answer to an onboarding question."""
        cmd = parse(typed)
        if cmd.kind not in SUGGEST_FOR or len(cmd.text) < MIN_SUGGEST_CHARS:
            return None
        if self.questions.book is not None and typed.strip().lower() in ONBOARDING_KEYS:
            return None
        return cmd.text

    def suggestions(self, title: str) -> list[tuple[int, str]] | None:
        """(book, line) to offer for a title being typed; None while the search index is
        still being built (a search then would wait for it)."""
        if not self.rec.index_ready:
            return None
        c = self.rec.catalogue
        hits = self.rec.search(title, SUGGESTIONS)
        return [
            (h.book_id, wording.suggestion_line(c, h.book_id))
            for h in hits
            if h.match >= MATCH_THRESHOLD
        ]

    def map_pick(self, book_id: int, n: int = 8) -> Reply:
        """What to say of a book picked on the map; ``books``: its nearest books."""
        c = self.rec.catalogue
        hits = self.rec.similar(book_id, n)
        stars = self.ratings.get(book_id)
        mine = f" · you: {stars}★" if stars else ""
        shelves = ", ".join(c.shelf_list(book_id)[:4])
        info = (
            f"{self.book_line(book_id)}{mine}"
            + (f"\nShelves: {shelves}" if shelves else "")
            + "\nMore like it (◆): "
            + " · ".join(c.short_title(h.book_id) for h in hits)
        )
        return Reply(info, [h.book_id for h in hits])

    def undo(self) -> Reply:
        try:
            undone = self.profile.undo()
        except UndoConflict as exc:
            now = f"{exc.stars_now}★" if exc.stars_now else "unrated"
            return Reply(
                f"Not undone: {self.title(exc.book_id)} was changed in another window since "
                f"({now} now); it stays as it is.",
                kind=ReplyKind.ERROR,
                changed=True,
            )
        if undone is None:
            return Reply("Nothing to undo.", kind=ReplyKind.ERROR)
        if isinstance(undone, ImportStep):
            return Reply(
                f"Undone: the import ({len(undone.ratings_before)} ratings, "
                f"{len(undone.to_read_added)} to-read books) is taken back. You have "
                f"{plural(len(self.ratings), 'rating')}.",
                changed=True,
            )
        if isinstance(undone, SetStep):
            what = "read" if undone.name == "read" else "not interested"
            return Reply(
                f"Undone: {self.title(undone.book_id)} is no longer marked {what}.", changed=True
            )
        book_id, before = undone
        if before is None:
            return Reply(f"Undone: removed your rating of {self.title(book_id)}.", changed=True)
        return Reply(f"Undone: {self.title(book_id)} is back to {before}★.", changed=True)

    # ----------------------------------------------------------------- dispatch
    def respond(self, line: str, book_id: int | None = None) -> Reply:
        """One line from the reader -> a reply and the effects a face carries out; slow work
        comes back as an :class:`InBackground` effect. ``book_id``: the book the reader picked
        among the input's suggestions, which the line is about. Never raises."""
        if book_id is not None:
            return self.guarded(self._about_book, line, book_id)
        return self.guarded(self._handle, line)

    def handle(self, line: str) -> Reply:
        """One line from the reader -> its whole reply, any slow work done here and now (for
        tests, scripts and the fuzzer: a face with workers calls :meth:`respond`)."""
        return finish(self.respond(line))

    def guarded(self, action: Callable[..., Reply], *args: Any) -> Reply:
        """``action(*args)``, with any error turned into an error reply (a failed save says
        plainly that it was not saved). For every path from a face into the session."""
        try:
            return action(*args)
        except BookrecError as exc:  # a failed save changed nothing in memory either
            return Reply(str(exc), kind=ReplyKind.ERROR)
        except Exception as exc:  # noqa: BLE001 - a reply beats a traceback on screen
            return Reply(
                f"Sorry, something went wrong ({type(exc).__name__}). "
                "Type `help` to see what I understand.",
                kind=ReplyKind.ERROR,
            )

    def _about_book(self, line: str, book_id: int) -> Reply:
        """A line sent with a suggested book picked: "loved dune" rates the picked book, a
        line that says no stars (or no action) shows its details."""
        cmd = parse(line)
        action = Action(cmd.kind) if cmd.kind in PICKED_ACTIONS else Action.DETAILS
        if action is Action.RATE and not cmd.stars:
            action = Action.DETAILS
        return self.act(action, book_id, cmd.stars)

    def _handle(self, line: str) -> Reply:
        imported = self.importing.answer(line)
        if imported is not None:
            return imported
        answered = self.questions.answer(line)
        if answered is not None:
            return answered
        cmd = parse(line)
        if cmd.kind is Kind.RATE and cmd.text and self._is_a_title(line, cmd.text):
            cmd = Command(Kind.SEARCH, text=" ".join(line.split()))  # "like water for chocolate"
        if self.questions.book is not None and cmd.kind is Kind.RATE and not cmd.text:
            return self.questions.answer(str(cmd.stars)) or self._dispatch(cmd)
        if cmd.kind is not Kind.EMPTY:
            self.questions.stop()
        if cmd.kind is Kind.CHOOSE and self.pending:
            return self._choose(cmd)
        # "3 5" after a list: rate option 3 with 5 stars.
        if (
            cmd.kind is Kind.RATE
            and self.pending
            and cmd.text.isascii()
            and cmd.text.isdigit()
            and 1 <= int(cmd.text) <= len(self.pending.options)
        ):
            return self.rate(self.pending.options[int(cmd.text) - 1], int(cmd.stars or 0))
        # "hide 3" / "read 3" after a list: that book.
        if (
            cmd.kind in (Kind.HIDE, Kind.READ)
            and self.pending
            and _NUMBER.fullmatch(cmd.text)
            and 1 <= int(cmd.text) <= len(self.pending.options)
        ):
            return self.act(Action(cmd.kind), self.pending.options[int(cmd.text) - 1])
        return self._dispatch(cmd)

    def _is_a_title(self, line: str, rated_text: str) -> bool:
        """Is the whole line, rating words included, a book's title ("Love in the Time of
        Cholera", "Like Water for Chocolate")? Then its first word is not a rating verb."""
        from bookrec_tui.core.search import normalise

        wanted = normalise(line)
        if not wanted or wanted == normalise(rated_text):  # only stars around the title
            return False
        hits = self.rec.search(line, 1)
        return bool(hits) and wanted in (
            normalise(hits[0].title),
            normalise(self.rec.catalogue.short_title(hits[0].book_id)),
        )

    def _choose(self, cmd: Command) -> Reply:
        assert self.pending is not None
        pending = self.pending
        if not 1 <= (cmd.n or 0) <= len(pending.options):
            return Reply(
                f"Pick a number from 1 to {len(pending.options)}.",
                pending.options,
                kind=ReplyKind.ERROR,
            )
        if pending.action is not Action.DETAILS:  # a browsed list stays pickable; a
            self.pending = None  # question is answered
        return self.act(pending.action, pending.options[int(cmd.n or 0) - 1], pending.stars)

    def _dispatch(self, cmd: Command) -> Reply:
        match cmd.kind:
            case Kind.EMPTY:
                return Reply("Type a title to search, or `help`.")
            case Kind.HELP:
                return Reply(f"{wording.HELP}\n{wording.KEYS_HELP}", kind=ReplyKind.HELP)
            case Kind.EXPORT:
                return export_ratings(self, cmd.text)
            case Kind.PROFILE:
                return self.switch_profile(cmd.text)
            case Kind.QUIT:
                return Reply("Goodbye! Your shelf is saved.", effects=(Quit(),))
            case Kind.UNDO:
                return self.undo()
            case Kind.SHELF:
                return self.shelf_reply()
            case Kind.RECS:
                return self.recs_reply(cmd.n, cmd.shelf)
            case Kind.CHOOSE:
                return Reply(
                    "There's no list to choose from. Search for a title first.",
                    kind=ReplyKind.ERROR,
                )
            case Kind.SEARCH:
                return self.search_reply(cmd.text)
            case Kind.ONBOARD:
                return self.start_onboarding()
            case Kind.IMPORT if cmd.text:  # reading and matching a big export takes a moment
                return Reply("", effects=(InBackground(self._import_job(cmd.text)),))
            case Kind.IMPORT:
                return self.importing.preview(cmd.text)
            case Kind.HALF:
                return self.half_stars(cmd)
            case Kind.MORE_BY if not cmd.text:
                return Reply("More by whom? e.g. `more by ursula le guin`.", kind=ReplyKind.ERROR)
            case Kind.MORE_BY:
                return self.more_by(cmd.text)
            case Kind.MAP:
                return Reply("", effects=(OpenMap("tsne" if cmd.text == "tsne" else "pca"),))
        return self._on_one_book(cmd)

    def _import_job(self, path_text: str) -> Callable[[], Reply]:
        return lambda: self.guarded(self.importing.preview, path_text)

    def _on_one_book(self, cmd: Command) -> Reply:
        """rate, more, why, forget, details, read, hide, order: one book, named in the line
        or the one just discussed."""
        action = Action(cmd.kind)
        target = (
            self._resolve(cmd.text, action, cmd.stars)
            if cmd.text
            else self._discussed(action, cmd.stars)
        )
        if isinstance(target, Reply):
            return target
        reply = self.act(action, target, cmd.n if action is Action.ORDER else cmd.stars)
        if cmd.unused and not reply.is_error:
            reply.text += (
                f"\n(I only took that you {STAR_WORDS[int(cmd.stars or 3)]} "
                f"{self.rec.catalogue.short_title(target)}; “{cmd.unused}” I can't act on: "
                "rate other books by name, e.g. `hated <title>`.)"
            )
        return reply

    def _discussed(self, action: Action, stars: int | None) -> int | Reply:
        """The book "it", "this" or stars alone mean: the one just discussed; after a list,
        a question which one; otherwise a question which book."""
        if self.focus is not None:
            return self.focus
        if self.pending and self.pending.options:
            options = self.pending.options
            self.pending = Pending(action, stars, options)
            return Reply(
                f"Which one? Reply with its number in the list above (1-{len(options)}).",
                options,
                kind=ReplyKind.CHOOSE,
            )
        return Reply(wording.which_book(action, stars), kind=ReplyKind.ERROR)

    def half_stars(self, cmd: Command) -> Reply:
        """'dune 4.5': stars are whole (as on Goodreads); say so and offer both neighbours."""
        low, high = max(int(cmd.stars or 0), 1), min(int(cmd.stars or 0) + 1, 5)
        target = (
            self._resolve(cmd.text, Action.RATE, low)
            if cmd.text
            else self._discussed(Action.RATE, low)
        )
        if isinstance(target, Reply):
            target.text = "I keep whole stars only (1-5). " + target.text
            return target
        self.focus = target
        name = self.rec.catalogue.short_title(target)
        return Reply(
            f"I keep whole stars only (1-5), as Goodreads does: is {name} a {low} or a "
            f"{high}? Type `{low} stars` or `{high} stars`.",
            [target],
            kind=ReplyKind.ERROR,
        )


def finish(reply: Reply) -> Reply:
    """``reply`` with its slow work done here and now: what a face without workers shows."""
    for effect in reply.effects:
        if isinstance(effect, InBackground):
            return effect.job()
    return reply
