"""The onboarding questions as a dialogue: "Have you read X?", one book at a time, each
answer (stars, read with no opinion, not read, skip) shaping the next question
(:mod:`bookrec_tui.core.onboarding` picks the book)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bookrec_tui.chat.replies import Reply, ReplyKind
from bookrec_tui.chat.wording import plural
from bookrec_tui.core.onboarding import READ_NO_OPINION, known_answers

if TYPE_CHECKING:
    from bookrec_tui.chat.session import ReaderSession

ONBOARDING_QUESTIONS = 30  # questions one onboarding asks at most
#: Answers: stars, "read it, no opinion", "haven't read it", "skip".
READ_NO_OPINION_KEYS = ("0", "r")
NOT_READ_KEYS = ("n", "no")
SKIP_KEYS = ("s", "skip")
ONBOARDING_KEYS = frozenset(
    ("1", "2", "3", "4", "5", *READ_NO_OPINION_KEYS, *NOT_READ_KEYS, *SKIP_KEYS)
)


class Questions:
    """Which book is asked about now, and what the reader has answered so far."""

    def __init__(self, session: ReaderSession) -> None:
        self.session = session
        # book -> stars, 0 read with no opinion, None not read or skipped: the next question
        # adapts to it.
        self.answers: dict[int, int | None] = {}
        self.asked = 0
        self.book: int | None = None  # the book asked about now; None: no question open

    def start(self) -> Reply:
        """Ask about books this reader has likely read, starting from what the profile
        already tells."""
        s, p = self.session, self.session.profile
        known = known_answers(s.ratings, p.read, p.not_read, p.to_read)
        self.answers = {**known, **self.answers}
        self.asked = 0
        return self.ask_next(intro=True)

    def ask_next(self, intro: bool = False) -> Reply:
        s = self.session
        book = s.rec.next_question(self.answers) if self.asked < ONBOARDING_QUESTIONS else None
        self.book = book
        if book is None:
            return Reply("That's all my questions. Type `recs` any time, or search for a book.")
        s.focus = book
        self.asked += 1
        head = (
            "Let's find your taste. Have you read these? 1-5 stars, 0 if you read it but "
            "have no opinion, n if you haven't read it, s to skip, or just type to search "
            "instead.\n"
            if intro
            else ""
        )
        left = s.ratings_needed
        tail = f"  ({plural(left, 'more rating')} for recommendations)" if left else ""
        return Reply(
            f"{head}Have you read {s.book_line(book)}?{tail}", [book], kind=ReplyKind.ONBOARDING
        )

    def stop(self) -> None:
        self.book = None

    def answer(self, text: str) -> Reply | None:
        """``text`` as an answer to the open question, then the next question; None when it
        is no answer (the line means something else)."""
        s, book = self.session, self.book
        low = text.strip().lower()
        if book is None or low not in ONBOARDING_KEYS:
            return None
        if low in SKIP_KEYS:
            self.answers[book] = None  # not asked again; nothing saved
            return self.ask_next()
        if low in NOT_READ_KEYS:
            self.answers[book] = None
            s.profile.mark_not_read(book)
            return self.ask_next()
        if low in READ_NO_OPINION_KEYS:
            self.answers[book] = READ_NO_OPINION
            s.profile.mark_read(book)
            said = f"Noted: you read {s.title(book)}."
        else:
            self.answers[book] = int(low)
            said = s.rate(book, int(low)).text
        follow = self.ask_next()
        follow.text = f"{said}\n{follow.text}"
        follow.changed = True
        return follow
