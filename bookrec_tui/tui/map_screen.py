"""The book map in the app: a braille canvas over :class:`bookrec_tui.map.view.MapView`.

Attributes down, messages up: the app hands the screen a map and the marks; the screen
posts :class:`MapScreen.Picked` and :class:`MapScreen.Rated`, and the app answers with
:meth:`MapScreen.show_pick` and :meth:`MapScreen.set_marks`.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from bookrec_tui.map.regions import BookMap, genre_colours
from bookrec_tui.map.view import MARKS, MapView

MARK_STYLES = {
    "rated": Style(color="#00E676", bold=True),
    "recommended": Style(color="#FF5252", bold=True),
    "neighbour": Style(color="#FFD740", bold=True),
    "picked": Style(color="#FFFFFF", bold=True, bgcolor="#C51162"),
    "label": Style(color="#FFFFFF", bold=True, bgcolor="#303030"),
    "cursor": Style(reverse=True, bold=True),
}


class MapCanvas(Widget, can_focus=True):
    """Paints the view; clicks move the cursor and pick the nearest book."""

    DEFAULT_CSS = "MapCanvas { height: 1fr; width: 1fr; }"

    def __init__(self, view: MapView, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self._genre_styles = {
            f"genre:{i}": Style(color=colour)
            for i, colour in enumerate(genre_colours(view.book_map.genre_names))
        }

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        text = Text(no_wrap=True, overflow="crop")
        for i, runs in enumerate(self.view.render(width, height)):
            if i:
                text.append("\n")
            for chunk, style in runs:
                text.append(chunk, self._genre_styles.get(style) or MARK_STYLES.get(style))
        return text

    def on_click(self, event: events.Click) -> None:
        self.view.cursor = self.view.point_at(event.x, event.y, self.size.width, self.size.height)
        self.refresh()
        if isinstance(self.screen, MapScreen):
            self.screen.action_pick()


class MapScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "back to chat"),
        Binding("enter", "pick", "pick book"),
        Binding("plus,equals_sign", "zoom(2)", "zoom in", key_display="+"),
        Binding("minus", "zoom(0.5)", "zoom out", key_display="-"),
        Binding("0", "reset", "whole map"),
        Binding("tab", "next_mark", "next of yours"),
        Binding("1", "rate(1)", "rate picked", key_display="1-5"),
        *(Binding(str(s), f"rate({s})", "rate", show=False) for s in range(2, 6)),
        Binding("up", "move(0,-1)", show=False),
        Binding("down", "move(0,1)", show=False),
        Binding("left", "move(-1,0)", show=False),
        Binding("right", "move(1,0)", show=False),
        Binding("shift+up", "move(0,-5)", show=False),
        Binding("shift+down", "move(0,5)", show=False),
        Binding("shift+left", "move(-5,0)", show=False),
        Binding("shift+right", "move(5,0)", show=False),
    ]
    DEFAULT_CSS = """
    MapScreen { layout: vertical; }
    #map-title { height: 1; padding: 0 1; background: $primary-darken-3; }
    #map-info { height: auto; max-height: 6; padding: 0 1; border-top: solid $primary-darken-2; }
    """

    class Picked(Message):
        def __init__(self, book_id: int) -> None:
            super().__init__()
            self.book_id = book_id

    class Rated(Message):
        def __init__(self, book_id: int, stars: int) -> None:
            super().__init__()
            self.book_id, self.stars = book_id, stars

    def __init__(self, book_map: BookMap, book_ids: np.ndarray, marks: dict) -> None:
        super().__init__()
        self.view = MapView(book_map, marks=dict(marks))
        self.book_ids = book_ids  # catalogue row -> book_id
        self.picked: int | None = None
        self._mark_cycle = 0

    def compose(self) -> ComposeResult:
        m = self.view.book_map
        legend = Text(f"{m.method.upper()} map of {len(m.xy):,} books   ")
        for name, symbol in MARKS:
            label = {"rated": "yours", "neighbour": "more like the picked book"}.get(name, name)
            legend.append(f"{symbol} {label}  ", MARK_STYLES[name])
        yield Static(legend, id="map-title")
        yield MapCanvas(self.view, id="map-canvas")
        yield Static(self._genre_legend(), id="map-info")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(MapCanvas).focus()

    def _genre_legend(self) -> Text:
        m = self.view.book_map
        text = Text("Colours: ")
        colours = genre_colours(m.genre_names)
        for name, colour in zip(m.genre_names[:-1], colours[:-1], strict=True):  # not "other"
            text.append(f"■ {name}  ", Style(color=colour))
        text.append(
            "\nArrows move (Shift: faster), +/- zoom, Enter or click picks a book, "
            "Tab jumps to your books, 1-5 rates the picked book, Esc goes back."
        )
        return text

    # ------------------------------------------------------------ what the app sets
    def set_marks(self, marks: dict) -> None:
        self.view.marks.update(marks)
        self.query_one(MapCanvas).refresh()

    def show_pick(self, book_id: int, marks: dict, info: str) -> None:
        """``marks``: the picked book's row and its neighbours' (map.view.pick_marks)."""
        self.picked = book_id
        self.view.marks.update(marks)
        self.query_one("#map-info", Static).update(Text(info))
        self.query_one(MapCanvas).refresh()

    # ------------------------------------------------------------ actions
    def _canvas_size(self) -> tuple[int, int]:
        size = self.query_one(MapCanvas).size
        return max(size.width, 1), max(size.height, 1)

    def action_move(self, dcol: int, drow: int) -> None:
        self.view.move_cursor(dcol, drow, *self._canvas_size())
        self.query_one(MapCanvas).refresh()

    def action_zoom(self, factor: float) -> None:
        self.view.zoom_by(factor)
        self.query_one(MapCanvas).refresh()

    def action_reset(self) -> None:
        self.view.reset()
        self.query_one(MapCanvas).refresh()

    def action_pick(self) -> None:
        row = self.view.nearest_to_cursor()
        self.post_message(self.Picked(int(self.book_ids[row])))

    def action_next_mark(self) -> None:
        rows = np.concatenate(
            [
                np.asarray(self.view.marks.get(k, []), dtype=np.int64)
                for k in ("rated", "recommended")
            ]
        )
        if not len(rows):
            self.notify("Rate a few books first: they are marked ● on the map.")
            return
        row = int(rows[self._mark_cycle % len(rows)])
        self._mark_cycle += 1
        self.view.jump_to(row, *self._canvas_size())
        self.action_pick()

    def action_rate(self, stars: int) -> None:
        if self.picked is None:
            self.notify("Pick a book first (Enter or click).")
            return
        self.post_message(self.Rated(self.picked, stars))

    def action_close(self) -> None:
        self.dismiss()
