"""Widgets of the app: a chat message and a list of books a reader can act on with keys."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from bookrec_tui.chat.grammar import Action


class ChatMessage(Static):
    """One turn of the conversation. Text is never parsed as markup (titles have brackets)."""

    def __init__(self, text: str, who: str) -> None:
        prefix = "you › " if who == "user" else ""
        super().__init__(Text(prefix + text), classes=f"msg {who}")


class BookList(OptionList):
    """A list of books. Keys act on the highlighted book; messages go up."""

    BINDINGS = [
        Binding("1", "rate(1)", "rate", key_display="1-5"),
        *(Binding(str(s), f"rate({s})", "rate", show=False) for s in range(2, 6)),
        Binding("m", "more", "more like this"),
        Binding("w", "why", "why?"),
        Binding("r", "read", "read it"),
        Binding("x", "hide", "not interested"),
        Binding("enter", "select", "details", show=True),
    ]

    class BookAction(Message):
        def __init__(
            self, source: BookList, action: Action, book_id: int, stars: int | None = None
        ) -> None:
            super().__init__()
            self.source, self.action, self.book_id, self.stars = source, action, book_id, stars

    _rows: list[tuple[int, str]] = []

    def set_books(self, rows: list[tuple[int, str]]) -> None:
        """Replace the list, keeping the highlighted book if it is still there.

        Options carry no ids (the book ids live in ``_rows``): rebuilding an OptionList with
        new option ids costs Textual ~100 ms of layout; rewriting prompts in place does not.
        """
        keep = self.current_book()
        old = len(self._rows)
        self._rows = list(rows)
        width = max(self.scrollable_content_region.width - 1, 12)
        # One screen line per label line, cut to fit: a narrow side panel stays tidy.
        prompts = [
            Text("\n".join(_fit(line, width) for line in label.split("\n"))) for _, label in rows
        ]
        if old == len(rows):
            for index, prompt in enumerate(prompts):
                self.replace_option_prompt_at_index(index, prompt)
        else:
            self.clear_options()
            self.add_options([Option(p) for p in prompts])
        ids = [b for b, _ in rows]
        if keep in ids:
            self.highlighted = ids.index(keep)

    def on_focus(self) -> None:
        """Tabbing into the list lands on its first book, so a key acts at once."""
        if self.highlighted is None and self._rows:
            self.highlighted = 0

    def on_resize(self) -> None:
        if self._rows:
            self.set_books(self._rows)

    def show_book(self, book_id: int) -> None:
        """Highlight ``book_id`` (when listed) and scroll it into view."""
        ids = [b for b, _ in self._rows]
        if book_id in ids:
            self.highlighted = ids.index(book_id)

    def book_at(self, index: int) -> int:
        return self._rows[index][0]

    def current_book(self) -> int | None:
        index = self.highlighted
        return self._rows[index][0] if index is not None and index < len(self._rows) else None

    def _post(self, action: Action, stars: int | None = None) -> None:
        book_id = self.current_book()
        if book_id is not None:
            self.post_message(self.BookAction(self, action, book_id, stars))

    def action_rate(self, stars: int) -> None:
        self._post(Action.RATE, stars)

    def action_more(self) -> None:
        self._post(Action.MORE)

    def action_why(self) -> None:
        self._post(Action.WHY)

    def action_read(self) -> None:
        self._post(Action.READ)

    def action_hide(self) -> None:
        self._post(Action.HIDE)

    def action_select(self) -> None:
        self._post(Action.DETAILS)


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
