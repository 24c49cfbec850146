"""The book map drawn in a terminal: a braille canvas with a viewport and a cursor.

No Textual here: :class:`MapView` turns a :class:`~bookrec_tui.map.regions.BookMap` and a
viewport into rows of (text, style) runs that any face can paint. Each terminal cell holds
a 2 x 4 braille dot grid, so a 100 x 30 canvas shows 200 x 120 dots; a cell takes the colour
of the shelf most of its books share. Marked books (the reader's, recommendations, the
picked book and its neighbours) are drawn as symbols over the dots.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bookrec_tui.map.regions import BookMap

if TYPE_CHECKING:
    from bookrec_tui.core.catalogue import Catalogue

# Braille dot bits by (row 0..3, column 0..1) inside a cell.
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
# Marks, drawn in this order (a later one covers an earlier one in the same cell): the
# picked book's neighbours cover the reader's books, so picking always shows them.
MARKS = (
    ("recommended", "★"),
    ("rated", "●"),
    ("neighbour", "◆"),
    ("picked", "◉"),
)
MAX_ZOOM = 64.0
MAX_LABELS = 8  # region names on screen at once

Run = tuple[str, str]  # (text, style name): "genre:N", "label", a mark name, "cursor", ""


@dataclass
class MapView:
    book_map: BookMap
    cx: float = 0.0  # viewport centre, map units
    cy: float = 0.0
    zoom: float = 1.0
    cursor: tuple[float, float] = (0.0, 0.0)
    marks: dict[str, np.ndarray] = field(default_factory=dict)  # mark name -> catalogue rows

    # ------------------------------------------------------------ geometry
    def _scale(self, cols: int, rows: int) -> tuple[float, float]:
        """Dots per map unit along x and y: at zoom 1 the [-1, 1] square fills the canvas
        (stretched to its shape: the axes of a projection have no units to keep)."""
        return cols * self.zoom * 0.98, 2 * rows * self.zoom * 0.98

    def to_dots(self, xy: np.ndarray, cols: int, rows: int) -> np.ndarray:
        sx, sy = self._scale(cols, rows)
        px = (xy[:, 0] - self.cx) * sx + cols  # 2*cols dots wide, centre at cols
        py = (self.cy - xy[:, 1]) * sy + 2 * rows  # 4*rows dots tall, y grows upwards
        return np.stack([px, py], axis=1)

    def cell_of(self, x: float, y: float, cols: int, rows: int) -> tuple[int, int]:
        (px, py) = self.to_dots(np.array([[x, y]]), cols, rows)[0]
        return int(np.floor(px / 2)), int(np.floor(py / 4))

    def point_at(self, col: int, row: int, cols: int, rows: int) -> tuple[float, float]:
        """Map coordinates of the centre of a cell."""
        sx, sy = self._scale(cols, rows)
        return (col * 2 + 1 - cols) / sx + self.cx, self.cy - (row * 4 + 2 - 2 * rows) / sy

    # ------------------------------------------------------------ moves
    def move_cursor(self, dcol: int, drow: int, cols: int, rows: int) -> None:
        """Move the cursor by cells; the viewport follows when it leaves the canvas."""
        sx, sy = self._scale(cols, rows)
        x = float(np.clip(self.cursor[0] + dcol * 2 / sx, -1.0, 1.0))
        y = float(np.clip(self.cursor[1] - drow * 4 / sy, -1.0, 1.0))
        self._place_cursor(x, y, cols, rows)

    def _place_cursor(self, x: float, y: float, cols: int, rows: int) -> None:
        """Put the cursor at (x, y), panning there if it is off the canvas."""
        self.cursor = (x, y)
        col, row = self.cell_of(x, y, cols, rows)
        if not (0 <= col < cols and 0 <= row < rows):
            self.cx, self.cy = x, y

    def zoom_by(self, factor: float) -> None:
        """Zoom around the cursor."""
        self.zoom = float(np.clip(self.zoom * factor, 1.0, MAX_ZOOM))
        if self.zoom == 1.0:
            self.cx = self.cy = 0.0
        else:
            self.cx, self.cy = self.cursor

    def reset(self) -> None:
        self.cx = self.cy = 0.0
        self.zoom = 1.0

    def jump_to(self, row: int, cols: int, rows: int) -> None:
        """Put the cursor on a book, panning to it if it is off screen."""
        x, y = (float(v) for v in self.book_map.xy[row])
        self._place_cursor(x, y, cols, rows)

    def nearest_to_cursor(self) -> int:
        return self.book_map.nearest(*self.cursor)

    # ------------------------------------------------------------ drawing
    def render(self, cols: int, rows: int) -> list[list[Run]]:
        """``rows`` lines of runs, each line ``cols`` cells wide."""
        m = self.book_map
        n_genres = len(m.genre_names)
        dots = np.floor(self.to_dots(m.xy, cols, rows)).astype(np.int64)
        inside = (
            (dots[:, 0] >= 0)
            & (dots[:, 0] < 2 * cols)
            & (dots[:, 1] >= 0)
            & (dots[:, 1] < 4 * rows)
        )
        px, py = dots[inside, 0], dots[inside, 1]
        cell_r, cell_c = py // 4, px // 2
        bits = np.zeros((rows, cols), dtype=np.uint8)
        np.bitwise_or.at(bits, (cell_r, cell_c), _DOT_BITS[py % 4, px % 2])
        counts = np.zeros((rows, cols, n_genres), dtype=np.int32)
        np.add.at(counts, (cell_r, cell_c, m.genre[inside].astype(np.int64)), 1)
        # "other" only wins a cell that holds nothing else
        counts[:, :, -1] = np.where(counts[:, :, :-1].sum(axis=2) > 0, 0, counts[:, :, -1])
        colour = counts.argmax(axis=2)

        grid_text = [[chr(0x2800 + int(b)) if b else " " for b in line] for line in bits]
        grid_style = [
            [f"genre:{int(g)}" if b else "" for g, b in zip(cl, bl, strict=True)]
            for cl, bl in zip(colour, bits, strict=True)
        ]

        def put(col: int, row: int, text: str, style: str) -> None:
            if 0 <= row < rows:
                for i, ch in enumerate(text):
                    if 0 <= col + i < cols:
                        grid_text[row][col + i] = ch
                        grid_style[row][col + i] = style

        # Marks first, so region names can keep clear of them; names never overlap.
        mark_cells = []
        for name, symbol in MARKS:
            for r in self.marks.get(name, ()):
                x, y = (float(v) for v in m.xy[int(r)])
                col, row = self.cell_of(x, y, cols, rows)
                mark_cells.append((col, row, symbol, name))
        taken = np.zeros((rows + 2, cols), dtype=bool)
        for col, row, _, _ in mark_cells:
            if 0 <= row < rows and 0 <= col < cols:
                taken[row + 1, col] = True  # rows shifted by one: row -1 and rows are guards
        shown, seen = 0, set()
        for cluster in m.clusters:  # biggest first
            col, row = self.cell_of(cluster.x, cluster.y, cols, rows)
            label = f" {cluster.label} "
            if cluster.label in seen or not (0 <= row < rows and 0 <= col < cols):
                continue
            if len(label) >= cols:
                continue
            start = max(0, min(col - len(label) // 2, cols - len(label)))
            for r in (row, row - 1, row + 1):
                if 0 <= r < rows and not taken[r : r + 3, start : start + len(label)].any():
                    put(start, r, label, "label")
                    taken[r + 1, start : start + len(label)] = True
                    seen.add(cluster.label)
                    shown += 1
                    break
            if shown == MAX_LABELS:
                break
        for col, row, symbol, name in mark_cells:
            put(col, row, symbol, name)
        col, row = self.cell_of(*self.cursor, cols, rows)
        if 0 <= row < rows and 0 <= col < cols:
            grid_style[row][col] = "cursor"
            if grid_text[row][col] == " ":
                grid_text[row][col] = "+"

        lines = []
        for text_row, style_row in zip(grid_text, grid_style, strict=True):
            runs: list[Run] = []
            for ch, st in zip(text_row, style_row, strict=True):
                if runs and runs[-1][1] == st:
                    runs[-1] = (runs[-1][0] + ch, st)
                else:
                    runs.append((ch, st))
            lines.append(runs)
        return lines


def reader_marks(
    catalogue: Catalogue, rated: Iterable[int], recommended: Iterable[int]
) -> dict[str, np.ndarray]:
    """Catalogue rows to mark: the reader's books and their recommendations."""
    return {
        "rated": _rows(catalogue, rated),
        "recommended": _rows(catalogue, recommended),
    }


def pick_marks(
    catalogue: Catalogue, book_id: int, neighbours: Iterable[int]
) -> dict[str, np.ndarray]:
    """Catalogue rows to mark for a picked book and its nearest books."""
    return {"picked": _rows(catalogue, [book_id]), "neighbour": _rows(catalogue, neighbours)}


def _rows(catalogue: Catalogue, book_ids: Iterable[int]) -> np.ndarray:
    return catalogue.rows(np.fromiter(book_ids, np.int64)).astype(np.int64)
