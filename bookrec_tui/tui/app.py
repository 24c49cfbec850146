"""The chat-style Textual app. A thin face over :class:`bookrec_tui.chat.session.ReaderSession`.

Start-up shows the screen at once and loads the recommender in a worker thread; TensorFlow
is never imported here. Every rating is saved by the profile before the screen updates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, assert_never, cast

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Static

from bookrec_tui.chat import wording
from bookrec_tui.chat.grammar import Action
from bookrec_tui.chat.loading import DOWNLOADED, LOADING, before_ready, no_data
from bookrec_tui.chat.replies import (
    Effect,
    FetchData,
    InBackground,
    KeepForLater,
    OpenMap,
    Quit,
    Reply,
)
from bookrec_tui.chat.session import ReaderSession
from bookrec_tui.errors import BookrecError, DataMissingError
from bookrec_tui.map.view import pick_marks, reader_marks
from bookrec_tui.store.profile import Profile
from bookrec_tui.tui.map_screen import MapScreen
from bookrec_tui.tui.widgets import BookList, ChatMessage

T = TypeVar("T")

SUGGEST_DELAY = 0.12  # seconds of no typing before suggestions are searched


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        # Scrolls (arrows, PgUp/PgDn, wheel) when the terminal is too small for all of it.
        with VerticalScroll(id="help-box"):
            yield Static(Text(f"{wording.HELP}\n\n{wording.KEYS_HELP}\n\nEsc closes this."))


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
        app = cast("BookrecApp", self.app)
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
        self._suggest_timer: Timer | None = None  # debounces the suggestion search
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
            self.say(LOADING, "bot")
            return
        # A new reader with the shipped model: the first question is on screen at once,
        # while the model loads; what they type meanwhile is kept and answered after.
        self._opening_book = opening["book_id"]
        self.say(opening["text"], "bot")

    def _opening(self) -> dict | None:
        """The first question written beside the model (shipped, or by `train` and `data
        pack-catalogue`) for a profile that does not exist yet; the session checks it
        once loaded and asks its own should they differ."""
        import os

        from bookrec_tui.chat.opening import OPENING_NAME, read_opening
        from bookrec_tui.paths import profiles_dir, shipped_model_dir

        profile = (self.profile_dir or profiles_dir()) / f"{self.profile_name}.json"
        if profile.exists():
            return None
        model_dir = self.model_dir or os.environ.get("BOOKREC_MODEL_DIR")
        return read_opening((Path(model_dir) if model_dir else shipped_model_dir()) / OPENING_NAME)

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
            _ = rec.vector_index  # a large catalogue's (built once, then cached)
            _ = rec.similar_index  # "more like this" in a large catalogue (likewise)
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
        for reply in session.greeting(typed_already=bool(early)):
            self.show(reply)
        self.refresh_panels()
        for line in early:  # typed while we loaded, in order (the transcript was cleared)
            self.submit_line(line)

    def _no_data(self, message: str) -> None:
        self.missing_data = True
        self._opening_book, self._early_lines = None, []
        self.query_one("#transcript").remove_children()
        self.show(no_data(message))

    @work(thread=True, exclusive=True, group="load")
    def fetch_data(self) -> None:
        from bookrec_tui.paths import resolve_data_dir
        from bookrec_tui.store.fetch import fetch_goodbooks

        ok, _ = self._behind_busy_bar(
            lambda progress: fetch_goodbooks(resolve_data_dir(self.data_dir), progress=progress)
        )
        if not ok:
            return
        self.call_from_thread(self.say, DOWNLOADED, "bot")
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

    @property
    def live(self) -> ReaderSession:
        """The session, where code only runs once it is up (the map, the suggestions)."""
        assert self.session is not None
        return self.session

    # ----------------------------------------------------------------- transcript
    def say(self, text: str, who: str) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        transcript.mount(ChatMessage(text, who))
        transcript.scroll_end(animate=False)

    def show(self, reply: Reply) -> None:
        """Show a reply and carry out its effects."""
        if reply.said:
            self.say(reply.said, "user")
        if reply.text:
            self.say(reply.text, "error" if reply.is_error else "bot")
        if reply.changed:
            self.refresh_panels()
        for effect in reply.effects:
            self.carry_out(effect)

    def carry_out(self, effect: Effect) -> None:
        match effect:
            case Quit():
                self.exit(0)
            case OpenMap(method=method):
                self.open_map(method)
            case InBackground(job=job):
                self.run_in_background(job)
            case FetchData():
                self.fetch_data()
            case KeepForLater(line=line):
                self._early_lines.append(line)  # answered as soon as the session is up
            case _:
                assert_never(effect)

    def refresh_panels(self) -> None:
        s = self.session
        if s is None:
            return
        c = s.rec.catalogue
        shelf = s.shelf()
        self.query_one("#shelf", BookList).set_books(
            [(b, f"{wording.stars(r)} {c.short_title(b)}") for b, r in shelf]
        )
        self.query_one("#shelf-title", Label).update(f"Your shelf ({len(shelf)})")
        recs_list = self.query_one("#recs", BookList)
        title = self.query_one("#recs-title", Label)
        if s.ratings_needed:
            title.update(f"Recommended for you (rate {s.ratings_needed} more)")
            recs_list.set_books([])
            return
        title.update("Recommended for you")
        rows = []
        for r in s.listed(20):
            # Two lines per book, each cut to the panel's width: the title gets the whole
            # first line; `w` (why) or `recs` in the chat give the whole reason.
            year = c.year_label(r.book_id)
            by = c.first_author(r.book_id) + (f", {year}" if year else "")
            rows.append(
                (
                    r.book_id,
                    f"{wording.predicted(r.predicted_rating)} {c.short_title(r.book_id)}\n"
                    f"     {by} · {s.reason(r)}",
                )
            )
        recs_list.set_books(rows)

    # ----------------------------------------------------------------- input
    def submit_line(self, line: str, book_id: int | None = None, echo: bool = True) -> None:
        """Handle one line, as typed (or picked from the palette); ``book_id``: the
        suggestion the reader picked, which the line is about."""
        if echo:
            self.say(line, "user")
        if self.session is None:
            self.show(
                before_ready(
                    line,
                    missing_data=self.missing_data,
                    question_shown=self._opening_book is not None,
                )
            )
            return
        self.show(self.session.respond(line, book_id))

    @work(thread=True, exclusive=True, group="slow")
    def run_in_background(self, job: Callable[[], Reply]) -> None:
        self.call_from_thread(self.show, job())

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
        title = self.session.typed_title(event.value) if self.session else None
        if title is None:
            self._hide_suggestions()
            return
        # Search once typing pauses: a pasted or fast-typed line costs one search, not one
        # per key (2,200 keys used to take 11 s to echo).
        self._suggest_timer = self.set_timer(SUGGEST_DELAY, lambda: self.suggest(title))

    def suggest(self, text: str) -> None:
        """Fill the suggestions for ``text``. Runs on the event loop on purpose: a search is
        ~1.5 ms (trigram shortlist + rapidfuzz), far cheaper than a thread hand-off."""
        self._suggest_timer = None
        rows = self.session.suggestions(text) if self.session else None
        if rows is None:
            return  # still building the index: suggestions come with the next key
        if self.live.typed_title(self.query_one("#prompt", Input).value) != text:
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

        s = self.live
        ok, book_map = self._behind_busy_bar(
            lambda progress: build_map(s.rec.bundle, s.rec.catalogue, method, progress)
        )
        if not ok:
            return
        self._maps[method] = book_map
        self.call_from_thread(self._push_map, book_map)

    def _push_map(self, book_map) -> None:
        # Closed, the map hands the keys back to the input, wherever they were when it opened
        # (F2 from a list): the reader's next move is to type.
        self.push_screen(
            MapScreen(book_map, self.live.rec.catalogue.book_ids, self._marks()),
            callback=lambda _: self.action_focus_input(),
        )

    def _marks(self) -> dict:
        s = self.live
        return reader_marks(s.rec.catalogue, s.ratings, [r.book_id for r in s.listed(20)])

    @on(MapScreen.Picked)
    def _map_picked(self, event: MapScreen.Picked) -> None:
        s = self.session
        if s is None or not isinstance(self.screen, MapScreen):
            return
        pick = s.guarded(s.map_pick, event.book_id)
        marks = pick_marks(s.rec.catalogue, event.book_id, pick.books)
        self.screen.show_pick(event.book_id, marks, pick.text)

    @on(MapScreen.Rated)
    def _map_rated(self, event: MapScreen.Rated) -> None:
        s = self.session
        if s is None or not isinstance(self.screen, MapScreen):
            return
        reply = s.act_on_book(Action.RATE, event.book_id, event.stars)
        self.show(reply)
        self.screen.set_marks(self._marks())
        self.notify(
            reply.text.split("\n")[0], severity="error" if reply.is_error else "information"
        )

    def action_map(self) -> None:
        self.submit_line("map")

    # ----------------------------------------------------------------- book keys
    @on(BookList.BookAction)
    def _book_action(self, event: BookList.BookAction) -> None:
        if self.session is None:
            return
        reply = self.session.act_on_book(event.action, event.book_id, event.stars)
        self.show(reply)
        if event.action is Action.RATE and not reply.is_error and event.source.id == "recs":
            # A rated recommendation leaves the list for the shelf: the cursor follows it
            # there, so the next key (m, w, another star) still means this book.
            shelf = self.query_one("#shelf", BookList)
            shelf.focus()
            shelf.show_book(event.book_id)

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
