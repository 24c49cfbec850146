"""The book map as a PNG (matplotlib, from the ``viz`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bookrec_tui.core.catalogue import Catalogue
from bookrec_tui.fsutil import atomic_writer
from bookrec_tui.map.projection import VIZ_HINT, MapError
from bookrec_tui.map.regions import BookMap, genre_colours

MAX_REGION_NAMES = 10
MAX_CALLOUTS = 24


def require_matplotlib() -> None:
    """Fail at once, before any slow work, when the PNG cannot be drawn."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise MapError(f"Drawing a PNG needs the viz extra: {VIZ_HINT}.")


def render_png(
    book_map: BookMap,
    catalogue: Catalogue,
    out: Path,
    rated: dict[int, int] | None = None,
    recommended: list[int] | None = None,
    title: str | None = None,
) -> Path:
    """Scatter of every book coloured by dominant shelf; the reader's rated books and
    recommendations marked and labelled; the biggest regions named."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rated = rated or {}
    recommended = recommended or []
    xy = book_map.xy
    fig, ax = plt.subplots(figsize=(12, 10), dpi=110)
    other = len(book_map.genre_names) - 1
    colours = genre_colours(book_map.genre_names)
    order = np.argsort(book_map.genre == other)[::-1]  # "other" underneath
    ax.scatter(
        xy[order, 0],
        xy[order, 1],
        s=3,
        c=[colours[g] for g in book_map.genre[order]],
        alpha=0.7,
        linewidths=0,
    )
    for i, name in enumerate(book_map.genre_names):
        ax.scatter([], [], s=30, c=colours[i], label=name)
    placed: list[tuple[float, float]] = []
    for cluster in book_map.clusters:  # biggest first; never two names on top of each other
        if len(placed) == MAX_REGION_NAMES:
            break
        if any(abs(cluster.x - x) < 0.35 and abs(cluster.y - y) < 0.07 for x, y in placed):
            continue
        placed.append((cluster.x, cluster.y))
        ax.text(
            cluster.x,
            cluster.y,
            cluster.label,
            fontsize=9,
            weight="bold",
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    callouts_right = _mark_books(ax, book_map, catalogue, rated, recommended)
    ax.set_title(
        title
        or f"{len(xy):,} books, {book_map.method.upper()} of the model's book neighbours "
        "(colour: strongest shelf)"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(
        loc="lower left" if callouts_right else "lower right",
        fontsize=7,
        markerscale=1.0,
        ncol=2,
        framealpha=0.85,
    )
    fig.tight_layout()
    out = Path(out)
    with atomic_writer(out) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return out


def _mark_books(
    ax, book_map: BookMap, catalogue: Catalogue, rated: dict, recommended: list
) -> bool:
    """Circle the reader's books, star the recommendations, and name them in a column of
    callouts beside them: marked books crowd into the popular middle of the map, where
    labels written in place would overprint each other. Returns whether the callouts went
    to the right of the marks."""
    marked = []
    for ids, style, name in (
        (list(rated), {"marker": "o", "facecolors": "none", "edgecolors": "black"}, "you rated"),
        (recommended, {"marker": "*", "c": "crimson", "edgecolors": "black"}, "recommended"),
    ):
        rows = catalogue.rows(np.array(ids, dtype=np.int64))
        rows = rows[rows >= 0]
        if len(rows):
            xy = book_map.xy[rows]
            ax.scatter(xy[:, 0], xy[:, 1], s=70, linewidths=1.0, label=name, zorder=3, **style)
            for r in rows:
                book_id = int(catalogue.book_ids[r])
                stars = f" ({rated[book_id]}★)" if book_id in rated else ""
                marked.append((int(r), catalogue.short_title(book_id)[:34] + stars))
    if not marked:
        return True
    marked = marked[:MAX_CALLOUTS]
    pts = book_map.xy[[r for r, _ in marked]]
    right = pts[:, 0].mean() < 0  # write on the emptier side
    x_text = (pts[:, 0].max() + 0.25) if right else (pts[:, 0].min() - 0.25)
    order = np.argsort(-pts[:, 1])
    gap = 0.05
    top = gap * (len(marked) - 1) / 2  # a column centred on the plot, whatever the marks
    for k, i in enumerate(order):
        ax.annotate(
            marked[i][1],
            xy=(pts[i, 0], pts[i, 1]),
            xytext=(x_text, top - k * gap),
            fontsize=7.5,
            ha="left" if right else "right",
            va="center",
            zorder=4,
            arrowprops={"arrowstyle": "-", "color": "0.35", "lw": 0.6},
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.8", "alpha": 0.9},
        )
    return right
