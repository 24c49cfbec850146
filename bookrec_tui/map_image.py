"""The book map as a PNG (matplotlib, from the ``viz`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .booksmap import OTHER_COLOUR, PALETTE, VIZ_HINT, BookMap, MapError
from .data import Catalogue
from .fsutil import atomic_writer

MAX_LABELS = 14


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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MapError(f"Drawing a PNG needs the viz extra: {VIZ_HINT}.") from exc
    rated = rated or {}
    recommended = recommended or []
    xy = book_map.xy
    fig, ax = plt.subplots(figsize=(12, 10), dpi=110)
    other = len(book_map.genre_names) - 1
    colours = [PALETTE[i % len(PALETTE)] for i in range(other)] + [OTHER_COLOUR]
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
    for cluster in book_map.clusters[:10]:
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
    labelled = 0
    for marks, style, name in (
        (list(rated), {"marker": "o", "facecolors": "none", "edgecolors": "black"}, "you rated"),
        (recommended, {"marker": "*", "c": "crimson", "edgecolors": "black"}, "recommended"),
    ):
        rows = catalogue.rows(np.array(marks, dtype=np.int64))
        rows = rows[rows >= 0]
        if not len(rows):
            continue
        ax.scatter(xy[rows, 0], xy[rows, 1], s=70, linewidths=1.0, label=name, zorder=3, **style)
        for r in rows[: max(0, MAX_LABELS - labelled) // 2 + 1]:
            ax.annotate(
                catalogue.short_title(int(catalogue.book_ids[r]))[:32],
                (xy[r, 0], xy[r, 1]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
                zorder=4,
            )
            labelled += 1
    ax.set_title(
        title
        or f"{len(xy):,} books, {book_map.method.upper()} of the model's book links "
        "(colour: strongest shelf)"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="lower left", fontsize=7, markerscale=1.0, ncol=2, framealpha=0.85)
    fig.tight_layout()
    out = Path(out)
    with atomic_writer(out) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return out
