"""The chat-style Textual app. A thin face over :class:`bookrec_tui.chat.session.ReaderSession`.

Start-up shows the screen at once and loads the recommender in a worker thread; TensorFlow
is never imported here. Every rating is saved by the profile before the screen updates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Static

from bookrec_tui.chat.grammar import parse
from bookrec_tui.chat.session import (
    HELP,
    KEYS_HELP,
    MIN_RATINGS_FOR_RECS,
    ONBOARDING_KEYS,
    ReaderSession,
    Reply,
)
from bookrec_tui.core.search import MATCH_THRESHOLD
from bookrec_tui.errors import BookrecError, DataMissingError
from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.map_screen import MapScreen
from bookrec_tui.tui.widgets import BookList, ChatMessage

T = TypeVar("T")

# What a picked suggestion can do.
BOOK_ACTIONS = ("rate", "more", "why", "details", "forget", "read", "hide")
SUGGEST_FOR = (*BOOK_ACTIONS, "search")  # commands whose text is a title worth suggesting
SUGGEST_DELAY = 0.12  # seconds of no typing before suggestions are searched


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        # Scrolls (arrows, PgUp/PgDn, wheel) when the terminal is too small for all of it.
        with VerticalScroll(id="help-box"):
            yield Static(Text(f"{HELP}\n\n{KEYS_HELP}\n\nEsc closes this."))


class BookrecCommands(Provider):
    """The app's actions in Textual's command palette (Ctrl+P), listed as soon as it opens.
    A command ending in a space is put in the input for the reader to finish (a path, a
    name); the others run at once."""

    COMMANDS = (
        ("Recommendations", "recs", "Show your recommendations (Ctrl+R)"),
        ("My shelf", "shelf", "List the books you rated"),
        ("Book map", "map", "All 10,000 books on a map, yours marked (F2)"),
        ("Import Goodreads library…", "import ", "Bring in a Goodreads export CSV"),
        ("Export my ratings…", "export ", "Write your ratings to a CSV file"),
        ("Undo", "undo", "Undo the last change to your shelf (Ctrl+Z)"),
        ("Switch profile…", "profile ", "Continue as another reader"),
        ("Questions about books you have read", "onboard", "Start the onboarding questions"),
        ("Help", "help", "What you can type, and the keys (F1)"),
        ("Quit", "quit", "Leave (your shelf is saved)"),
    )

    def _run(self, line: str) -> Callable[[], None]:
        app = self.app
        if line.endswith(" "):
            return lambda: app.prefill(line)
        return lambda: app.submit_line(line)

    async def discover(self) -> Hits:
        for name, line, helptext in self.COMMANDS:
            yield DiscoveryHit(name, self._run(line), text=name, help=helptext)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, line, helptext in self.COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._run(line), text=name, help=helptext)


# A key on a listed book: what the chat shows the reader saying, and the session method that
# answers it (rating and details are handled apart).
BOOK_KEY_ACTIONS: dict[str, tuple[str, str]] = {
    "more": ("more like", "more_like"),
    "why": ("why", "why"),
    "read": ("read", "mark_read"),
    "hide": ("not interested in", "hide"),
}


class BookrecApp(App[int]):
    TITLE = "bookrec-tui"
    SUB_TITLE = "books you'll love, from goodbooks-10k"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {BookrecCommands}
    BINDINGS = [
        Binding("f1", "help", "help"),
        Binding("question_mark", "help", "help", show=False),
        Binding("ctrl+r", "recs", "recs"),
        Binding("ctrl+z", "undo", "undo"),
        Binding("f2", "map", "map"),
        Binding("escape", "focus_input", "input", show=False),
        Binding("ctrl+q", "quit", "quit"),
    ]

    def __init__(
        self,
        data_dir: str | None = None,
        model_dir: str | None = None,
        profile: str = "default",
        profile_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.data_dir, self.model_dir = data_dir, model_dir
        self.profile_name, self.profile_dir = profile, profile_dir
        self.session: ReaderSession | None = None
        self._picked_suggestion = False  # the reader moved through suggestions with ↑/↓
        self.missing_data = False
        self._maps: dict = {}  # method -> BookMap, built once per run (and cached on disk)
        self._suggest_timer = None  # debounces the suggestion search while typing
        self._opening_book: int | None = None  # the shipped first question, shown early
        # Lines typed before the session was ready (under that question, or while loading):
        # answered in order as soon as it is.
        self._early_lines: list[str] = []

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield VerticalScroll(id="transcript")
                yield ProgressBar(id="busy", show_eta=False)
                yield BookList(id="suggestions")
                yield Input(
                    placeholder="Type a title, “loved dune”, “recs”, or “help”", id="prompt"
                )
            with Vertical(id="side"):
                yield Label("Your shelf", id="shelf-title")
                yield BookList(id="shelf")
                yield Label("Recommended for you", id="recs-title")
                yield BookList(id="recs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()
        self.load_recommender()
        opening = self._opening()
        if opening is None:
            self.say("Loading the recommender…", "bot")
            return
        # A new reader with the shipped model: the first question is on screen at once,
        # while the model loads; what they type meanwhile is kept and answered after.
        self._opening_book = opening["book_id"]
        self.say(opening["text"], "bot")

    def _opening(self) -> dict | None:
        """The shipped first question, when this run will ask exactly it: the shipped
        model, and a profile that does not exist yet."""
        import os

        from bookrec_tui.chat.opening import OPENING_NAME, read_opening
        from bookrec_tui.paths import profiles_dir, shipped_model_dir

        if self.model_dir or os.environ.get("BOOKREC_MODEL_DIR"):
            return None
        profile = (self.profile_dir or profiles_dir()) / f"{self.profile_name}.json"
        if profile.exists():
            return None
        return read_opening(shipped_model_dir() / OPENING_NAME)

    # ----------------------------------------------------------------- loading
    @work(thread=True, exclusive=True, group="load")
    def load_recommender(self) -> None:
        from bookrec_tui.core.recommender import Recommender

        try:
            rec = Recommender.load(model_dir=self.model_dir, data_dir=self.data_dir)
            profile = Profile.open(self.profile_name, self.profile_dir)
            if not profile.ratings:
                _ = rec.questions  # onboarding's, which a new reader meets first
            self.call_from_thread(self._loaded, ReaderSession(rec, profile))
            # The search index comes after the first question is on screen (half the
            # start-up work); suggestions wait for it, a typed line's search waits at most
            # for the rest of this build.
            _ = rec.index
        except DataMissingError as exc:
            self.call_from_thread(self._no_data, str(exc))
        except BookrecError as exc:
            self.call_from_thread(self._load_failed, str(exc))

    def _load_failed(self, message: str) -> None:
        self._opening_book, self._early_lines = None, []
        self.say(message, "error")

    def _loaded(self, session: ReaderSession) -> None:
        self.session = session
        self.missing_data = False
        early, self._early_lines = self._early_lines, []
        n = len(session.ratings)
        if self._opening_book is not None and n == 0:
            first = session.start_onboarding()
            if first.books != [self._opening_book]:  # a stale opening file: ask this one
                self.show(first)
            self._opening_book = None
            self.refresh_panels()
            for line in early:
                self.submit_line(line, echo=False)
            return
        transcript = self.query_one("#transcript")
        transcript.remove_children()
        for warning in session.warnings:
            self.say(warning, "error")
        if n == 0 and not early:
            self.show(session.start_onboarding())
        elif n:
            self.say(
                f"Welcome back! {n} book{'s' if n != 1 else ''} on your shelf. "
                "Type `recs`, rate more books, or `help`.",
                "bot",
            )
        self.refresh_panels()
        for line in early:  # typed while we loaded, in order (the transcript was cleared)
            self.submit_line(line)

    def _no_data(self, message: str) -> None:
        self.missing_data = True
        self._opening_book, self._early_lines = None, []
        self.query_one("#transcript").remove_children()
        self.say(
            f"{message}\nType `fetch` to download goodbooks-10k now (the public release), or "
            "quit and set BOOKREC_DATA_DIR to a folder that has it.",
            "error",
        )

    @work(thread=True, exclusive=True, group="load")
    def fetch_data(self) -> None:
        from bookrec_tui.paths import resolve_data_dir
        from bookrec_tui.store.fetch import fetch_goodbooks

        ok, _ = self._behind_busy_bar(
            lambda progress: fetch_goodbooks(resolve_data_dir(self.data_dir), progress=progress)
        )
        if not ok:
            return
        self.call_from_thread(self.say, "Downloaded. Loading…", "bot")
        self.call_from_thread(self.load_recommender)

    def _behind_busy_bar(self, job: Callable[[Callable], T]) -> tuple[bool, T | None]:
        """Run ``job(progress)`` in the calling worker thread with the busy bar shown and
        fed by ``progress(done, total, ...)``; a BookrecError is said in the chat. Returns
        (finished, result)."""
        bar = self.query_one("#busy", ProgressBar)
        self.call_from_thread(bar.add_class, "visible")

        def progress(done: int, total: int | None, *_) -> None:
            self.call_from_thread(bar.update, total=total, progress=done)

        try:
            return True, job(progress)
        except BookrecError as exc:
            self.call_from_thread(self.say, str(exc), "error")
            return False, None
        finally:
            self.call_from_thread(bar.remove_class, "visible")

    # ----------------------------------------------------------------- transcript
    def say(self, text: str, who: str) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        transcript.mount(ChatMessage(text, who))
        transcript.scroll_end(animate=False)

    def show(self, reply: Reply) -> None:
        self.say(reply.text, "error" if reply.kind == "error" else "bot")
        if reply.changed:
            self.refresh_panels()
        if reply.quit:
            self.exit(0)

    def refresh_panels(self) -> None:
        s = self.session
        if s is None:
            return
        c = s.rec.catalogue
        shelf = sorted(s.ratings.items(), key=lambda kv: (-kv[1], s.title(kv[0])))
        self.query_one("#shelf", BookList).set_books(
            [(b, f"{'★' * r}{'☆' * (5 - r)} {c.short_title(b)}") for b, r in shelf]
        )
        self.query_one("#shelf-title", Label).update(f"Your shelf ({len(shelf)})")
        recs_list = self.query_one("#recs", BookList)
        title = self.query_one("#recs-title", Label)
        if len(s.ratings) < MIN_RATINGS_FOR_RECS:
            title.update(f"Recommended for you (rate {MIN_RATINGS_FOR_RECS - len(s.ratings)} more)")
            recs_list.set_books([])
            return
        title.update("Recommended for you")
        rows = []
        for r in s.recommendations(20):
            # Two lines per book, each cut to the panel's width: the title gets the whole
            # first line; `w` (why) or `recs` in the chat give the whole reason.
            year = c.year_label(r.book_id)
            by = c.first_author(r.book_id) + (f", {year}" if year else "")
            rows.append(
                (
                    r.book_id,
                    f"{r.predicted_rating:.1f}★ {c.short_title(r.book_id)}\n"
                    f"     {by} · {s.reason(r)}",
                )
            )
        recs_list.set_books(rows)

    # ----------------------------------------------------------------- input
    def submit_line(self, line: str, book_id: int | None = None, echo: bool = True) -> None:
        """Handle one line, as typed (or picked from the palette)."""
        if echo:
            self.say(line, "user")
        if self.session is None and self._opening_book is not None:
            if line.strip().lower().lstrip("/") in ("quit", "exit", "q"):
                self.exit(0)
            else:
                self._early_lines.append(line)  # answered as soon as the session is up
            return
        low = line.strip().lower().lstrip("/")
        if low in ("fetch", "data fetch") and (self.missing_data or self.session is None):
            self.fetch_data()
            return
        if self.session is None:
            if low in ("quit", "exit", "q"):
                self.exit(0)
            elif self.missing_data:
                self.say(
                    "There is no book data yet. Type `fetch` to download goodbooks-10k, "
                    "or `quit` and set BOOKREC_DATA_DIR.",
                    "error",
                )
            else:
                self._early_lines.append(line)
                self.say(
                    "Still loading; I'll do that as soon as I'm ready. (Type `quit` to leave.)",
                    "bot",
                )
            return
        if low in ("onboard", "start", "questions"):
            self.show(self.session.start_onboarding())
            return
        cmd = parse(line)
        if book_id is not None:
            action = cmd.kind if cmd.kind in BOOK_ACTIONS else "details"
            if action == "rate" and not cmd.stars:
                action = "details"
            self.show(self.session.guarded(self.session.act, action, book_id, cmd.stars))
            return
        if cmd.kind == "import" and cmd.text:
            self.run_import(line)  # reading and matching a big export takes a moment
            return
        if cmd.kind == "map":
            self.open_map(cmd.text)
            return
        self.show(self.session.handle(line))

    @work(thread=True, exclusive=True, group="import")
    def run_import(self, line: str) -> None:
        reply = self.session.handle(line) if self.session else None
        if reply is not None:
            self.call_from_thread(self.show, reply)

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        line = event.value
        suggestions = self.query_one("#suggestions", BookList)
        picked = None
        if (
            suggestions.has_class("visible")
            and suggestions.highlighted is not None
            and self._picked_suggestion
        ):
            picked = suggestions.current_book()
        event.input.value = ""
        self._hide_suggestions()
        if line.strip():
            self.submit_line(line, picked)

    def prefill(self, text: str) -> None:
        """Put ``text`` in the input for the reader to finish (palette: import, export...)."""
        prompt = self.query_one("#prompt", Input)
        prompt.value = text
        prompt.cursor_position = len(text)
        prompt.focus()

    @on(Input.Changed, "#prompt")
    def _changed(self, event: Input.Changed) -> None:
        self._picked_suggestion = False
        if self._suggest_timer is not None:
            self._suggest_timer.stop()
            self._suggest_timer = None
        cmd = parse(event.value)
        if (
            self.session is None
            or cmd.kind not in SUGGEST_FOR
            or len(cmd.text) < 3
            or self.session.onboarding_book is not None
            and event.value.strip().lower() in ONBOARDING_KEYS
        ):
            self._hide_suggestions()
            return
        # Search once typing pauses: a pasted or fast-typed line costs one search, not one
        # per key (2,200 keys used to take 11 s to echo).
        self._suggest_timer = self.set_timer(SUGGEST_DELAY, lambda: self.suggest(cmd.text))

    def suggest(self, text: str) -> None:
        """Fill the suggestions for ``text``. Runs on the event loop on purpose: a search is
        ~1.5 ms (trigram shortlist + rapidfuzz), far cheaper than a thread hand-off."""
        self._suggest_timer = None
        if self.session is None or not self.session.rec.index_ready:
            return  # still building the index: suggestions come with the next key
        hits = self.session.rec.search(text, 6)
        c = self.session.rec.catalogue
        rows = [
            (h.book_id, f"{h.title} — {c.author_line(h.book_id)}")
            for h in hits
            if h.score >= MATCH_THRESHOLD
        ]
        self._show_suggestions(rows, text)

    def _show_suggestions(self, rows: list[tuple[int, str]], text: str) -> None:
        if parse(self.query_one("#prompt", Input).value).text != text:
            return  # the reader typed on (or sent the line) since this search started
        suggestions = self.query_one("#suggestions", BookList)
        suggestions.set_books(rows)
        suggestions.set_class(bool(rows), "visible")

    def _hide_suggestions(self) -> None:
        self.query_one("#suggestions", BookList).remove_class("visible")

    def on_key(self, event) -> None:
        """↑/↓ in the input move through the suggestions without leaving the input."""
        prompt = self.query_one("#prompt", Input)
        suggestions = self.query_one("#suggestions", BookList)
        if (
            self.focused is prompt
            and suggestions.has_class("visible")
            and event.key in ("up", "down")
        ):
            event.stop()
            if event.key == "down":
                suggestions.action_cursor_down()
            else:
                suggestions.action_cursor_up()
            self._picked_suggestion = True

    # ----------------------------------------------------------------- map
    def open_map(self, method: str = "pca") -> None:
        if self.session is None:
            return
        if method in self._maps:
            self._push_map(self._maps[method])
            return
        from bookrec_tui.map.projection import TSNE_MISSING, tsne_available

        if method == "tsne" and not tsne_available():
            self.say(TSNE_MISSING + " Type `map` for it.", "error")
            return
        self.say("Drawing the map of all books…", "bot")
        self.build_map(method)

    @work(thread=True, exclusive=True, group="map")
    def build_map(self, method: str) -> None:
        from bookrec_tui.map.regions import build_map

        s = self.session
        ok, book_map = self._behind_busy_bar(
            lambda progress: build_map(s.rec.bundle, s.rec.catalogue, method, progress)
        )
        if not ok:
            return
        self._maps[method] = book_map
        self.call_from_thread(self._push_map, book_map)

    def _push_map(self, book_map) -> None:
        s = self.session
        self.push_screen(MapScreen(book_map, s.rec.catalogue.book_ids, s.map_marks()))

    @on(MapScreen.Picked)
    def _map_picked(self, event: MapScreen.Picked) -> None:
        if self.session is not None and isinstance(self.screen, MapScreen):
            self.screen.show_pick(event.book_id, *self.session.map_pick(event.book_id))

    @on(MapScreen.Rated)
    def _map_rated(self, event: MapScreen.Rated) -> None:
        s = self.session
        if s is None or not isinstance(self.screen, MapScreen):
            return
        self.say(f"{s.title(event.book_id)} {event.stars}", "user")
        reply = s.guarded(s.rate, event.book_id, event.stars)
        self.show(reply)
        self.screen.set_marks(s.map_marks())
        self.notify(
            reply.text.split("\n")[0], severity="error" if reply.kind == "error" else "information"
        )

    def action_map(self) -> None:
        self.submit_line("map")

    # ----------------------------------------------------------------- book keys
    @on(BookList.BookAction)
    def _book_action(self, event: BookList.BookAction) -> None:
        if self.session is None:
            return
        s = self.session
        label = s.title(event.book_id)
        if event.action == "rate":
            self.say(f"{label} {event.stars}", "user")
            reply = s.guarded(s.rate, event.book_id, int(event.stars or 0))
            self.show(reply)
            # A rated recommendation leaves the list for the shelf: the cursor follows it
            # there, so the next key (m, w, another star) still means this book.
            shelf = self.query_one("#shelf", BookList)
            if reply.kind != "error" and event.source is not shelf and event.source.id == "recs":
                shelf.focus()
                shelf.show_book(event.book_id)
        elif event.action in BOOK_KEY_ACTIONS:
            said, method = BOOK_KEY_ACTIONS[event.action]
            self.say(f"{said} {label}", "user")
            self.show(s.guarded(getattr(s, method), event.book_id))
        else:
            self.show(s.guarded(s.details, event.book_id))

    # ----------------------------------------------------------------- actions
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_recs(self) -> None:
        self.submit_line("recs")

    def action_undo(self) -> None:
        self.submit_line("undo")

    def action_focus_input(self) -> None:
        self._hide_suggestions()
        self.query_one("#prompt", Input).focus()


def run_app(
    data_dir: str | None = None, model_dir: str | None = None, profile: str = "default"
) -> int:
    app = BookrecApp(data_dir=data_dir, model_dir=model_dir, profile=profile)
    result = app.run()
    return app.return_code or int(result or 0)  # a crash sets return_code: never exit 0
