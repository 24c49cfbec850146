"""A tiny, real-looking book world for fast tests: 56 books with their real titles, series
and authors, a few hundred synthetic readers with genre tastes, and a model bundle built in
numpy from their ratings (no TensorFlow, no training), all written in well under a second.

Tests that need *a* recommender (the conversation, the app, the CLI's plumbing) run on it
in seconds; the checks of what the real model recommends stay on the real data
(``realdata`` tests). Its answers are plausible, not good: ranking is an item-to-item
closed form (EASE) on the synthetic ratings plus a low-rank taste part.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
from bookrec_tui.core.catalogue import Catalogue

HP = "Harry Potter"
# title, author, year, genre, (series name, number) or None
BOOKS: list[tuple[str, str, int, str, tuple[str, int] | None]] = [
    ("The Hobbit", "J.R.R. Tolkien", 1937, "fantasy", None),
    ("The Fellowship of the Ring", "J.R.R. Tolkien", 1954, "fantasy", ("The Lord of the Rings", 1)),
    ("The Two Towers", "J.R.R. Tolkien", 1954, "fantasy", ("The Lord of the Rings", 2)),
    ("The Return of the King", "J.R.R. Tolkien", 1955, "fantasy", ("The Lord of the Rings", 3)),
    ("Harry Potter and the Sorcerer's Stone", "J.K. Rowling", 1997, "fantasy", ("Harry Potter", 1)),
    ("Harry Potter and the Chamber of Secrets", "J.K. Rowling", 1998, "fantasy", (HP, 2)),
    ("Harry Potter and the Prisoner of Azkaban", "J.K. Rowling", 1999, "fantasy", (HP, 3)),
    ("Harry Potter and the Goblet of Fire", "J.K. Rowling", 2000, "fantasy", ("Harry Potter", 4)),
    ("A Game of Thrones", "George R.R. Martin", 1996, "fantasy", ("A Song of Ice and Fire", 1)),
    ("A Clash of Kings", "George R.R. Martin", 1998, "fantasy", ("A Song of Ice and Fire", 2)),
    ("The Name of the Wind", "Patrick Rothfuss", 2007, "fantasy", ("The Kingkiller Chronicle", 1)),
    ("The Final Empire", "Brandon Sanderson", 2006, "fantasy", ("Mistborn", 1)),
    ("Dune", "Frank Herbert", 1965, "science-fiction", ("Dune", 1)),
    ("Dune Messiah", "Frank Herbert", 1969, "science-fiction", ("Dune", 2)),
    ("Children of Dune", "Frank Herbert", 1976, "science-fiction", ("Dune", 3)),
    ("Ender's Game", "Orson Scott Card", 1985, "science-fiction", ("Ender's Saga", 1)),
    ("Foundation", "Isaac Asimov", 1951, "science-fiction", ("Foundation", 1)),
    ("The Hitchhiker's Guide to the Galaxy", "Douglas Adams", 1979, "science-fiction", None),
    ("Fahrenheit 451", "Ray Bradbury", 1953, "science-fiction", None),
    ("Brave New World", "Aldous Huxley", 1932, "science-fiction", None),
    ("1984", "George Orwell", 1949, "classics", None),
    ("Animal Farm", "George Orwell", 1945, "classics", None),
    ("Pride and Prejudice", "Jane Austen", 1813, "classics", None),
    ("Emma", "Jane Austen", 1815, "classics", None),
    ("Jane Eyre", "Charlotte Brontë", 1847, "classics", None),
    ("Wuthering Heights", "Emily Brontë", 1847, "classics", None),
    ("To Kill a Mockingbird", "Harper Lee", 1960, "classics", None),
    ("The Great Gatsby", "F. Scott Fitzgerald", 1925, "classics", None),
    ("The Hunger Games", "Suzanne Collins", 2008, "young-adult", ("The Hunger Games", 1)),
    ("Catching Fire", "Suzanne Collins", 2009, "young-adult", ("The Hunger Games", 2)),
    ("Mockingjay", "Suzanne Collins", 2010, "young-adult", ("The Hunger Games", 3)),
    ("Twilight", "Stephenie Meyer", 2005, "young-adult", ("Twilight", 1)),
    ("New Moon", "Stephenie Meyer", 2006, "young-adult", ("Twilight", 2)),
    ("Divergent", "Veronica Roth", 2011, "young-adult", ("Divergent", 1)),
    ("The Fault in Our Stars", "John Green", 2012, "young-adult", None),
    ("Gone Girl", "Gillian Flynn", 2012, "mystery", None),
    ("The Girl on the Train", "Paula Hawkins", 2015, "mystery", None),
    ("The Girl with the Dragon Tattoo", "Stieg Larsson", 2005, "mystery", ("Millennium", 1)),
    ("The Da Vinci Code", "Dan Brown", 2003, "mystery", ("Robert Langdon", 2)),
    ("Angels & Demons", "Dan Brown", 2000, "mystery", ("Robert Langdon", 1)),
    ("The Secret History", "Donna Tartt", 1992, "mystery", None),
    ("And Then There Were None", "Agatha Christie", 1939, "mystery", None),
    ("The Notebook", "Nicholas Sparks", 1996, "romance", None),
    ("Me Before You", "Jojo Moyes", 2012, "romance", ("Me Before You", 1)),
    ("Outlander", "Diana Gabaldon", 1991, "romance", ("Outlander", 1)),
    ("The Time Traveler's Wife", "Audrey Niffenegger", 2003, "romance", None),
    ("Love in the Time of Cholera", "Gabriel García Márquez", 1985, "romance", None),
    ("Like Water for Chocolate", "Laura Esquivel", 1989, "romance", None),
    ("The Shining", "Stephen King", 1977, "horror", None),
    ("It", "Stephen King", 1986, "horror", None),
    ("Dracula", "Bram Stoker", 1897, "horror", None),
    ("Frankenstein", "Mary Shelley", 1818, "horror", None),
    ("Sapiens: A Brief History of Humankind", "Yuval Noah Harari", 2011, "non-fiction", None),
    ("Educated", "Tara Westover", 2018, "non-fiction", None),
    ("Becoming", "Michelle Obama", 2018, "non-fiction", None),
    ("A Short History of Nearly Everything", "Bill Bryson", 2003, "non-fiction", None),
]
GENRES = sorted({genre for _, _, _, genre, _ in BOOKS})
# Shelves each genre's books carry besides the genre itself (goodbooks tag names).
EXTRA_SHELVES = {
    "fantasy": ["fiction", "young-adult"],
    "science-fiction": ["fiction", "classics"],
    "classics": ["fiction", "literature"],
    "young-adult": ["fiction", "dystopian"],
    "mystery": ["fiction", "thriller"],
    "romance": ["fiction", "chick-lit"],
    "horror": ["fiction", "classics"],
    "non-fiction": ["history", "biography"],
}
TAGS = ["to-read", "favorites", *GENRES, *sorted({s for v in EXTRA_SHELVES.values() for s in v})]
TAGS = list(dict.fromkeys(TAGS))


def full_title(title: str, series: tuple[str, int] | None) -> str:
    return f"{title} ({series[0]}, #{series[1]})" if series else title


@dataclass(frozen=True)
class TinyWorld:
    data_dir: Path  # goodbooks-shaped CSV files (books, ratings, tags, book_tags)
    model_dir: Path  # bookrec-bundle.npz built from those ratings

    def catalogue(self) -> Catalogue:
        from bookrec_tui.store.goodbooks import load_catalogue

        return load_catalogue(self.data_dir, use_cache=False)

    def bundle(self) -> Bundle:
        return Bundle.load(self.model_dir / BUNDLE_NAME)


def make_ratings(
    n_readers: int = 400,
    seed: int = 7,
    tastes: tuple[int, int] = (1, 2),
    reads: tuple[int, int] = (6, 15),
    others: int = 3,
) -> np.ndarray:
    """(user_id, book_id, stars) rows: each reader loves ``tastes`` (fewest, most) genres,
    picks ``reads`` (fewest, most) books in them, reads a series from its start, and
    dislikes ``others`` books outside their taste.
    Popular books (earlier in each genre's list) are read more."""
    rng = np.random.default_rng(seed)
    genre = np.array([g for _, _, _, g, _ in BOOKS])
    series = [s for *_, s in BOOKS]
    rows = []
    for user in range(1, n_readers + 1):
        liked_genres = rng.choice(
            GENRES, size=rng.integers(tastes[0], tastes[1] + 1), replace=False
        )
        liked = np.flatnonzero(np.isin(genre, liked_genres))
        weights = 1.0 / (1.0 + np.arange(len(liked)) % 8)
        n = min(len(liked), int(rng.integers(reads[0], reads[1] + 1)))
        picked = set(rng.choice(liked, size=n, replace=False, p=weights / weights.sum()).tolist())
        for b in list(picked):  # a series is read from its first book
            if series[b]:
                picked |= {
                    i
                    for i, s in enumerate(series)
                    if s and s[0] == series[b][0] and s[1] < series[b][1]
                }
        for b in sorted(picked):
            rows.append((user, b + 1, int(rng.choice([3, 4, 4, 5, 5]))))
        outside = np.flatnonzero(~np.isin(genre, liked_genres))
        for b in rng.choice(outside, size=others, replace=False):
            rows.append((user, int(b) + 1, int(rng.choice([1, 2, 2, 3]))))
    return np.array(rows, dtype=np.int64)


def write_data(folder: Path, ratings: np.ndarray) -> None:
    """goodbooks-10k's four files: books.csv (v2 columns), ratings.csv (v1: book_id first),
    tags.csv and book_tags.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.bincount(ratings[:, 1], minlength=len(BOOKS) + 1)
    sums = np.bincount(ratings[:, 1], weights=ratings[:, 2], minlength=len(BOOKS) + 1)
    with open(folder / "books.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "book_id", "goodreads_book_id", "best_book_id", "work_id", "books_count",
                "isbn", "isbn13", "authors", "original_publication_year", "original_title",
                "title", "language_code", "average_rating", "ratings_count",
            ]
        )  # fmt: skip
        for i, (title, author, year, _, series) in enumerate(BOOKS, start=1):
            mean = sums[i] / max(counts[i], 1)
            w.writerow(
                [
                    i, 1000 + i, 1000 + i, 5000 + i, 10, 100000000 + i, "", author,
                    f"{year}.0", title, full_title(title, series), "eng",
                    f"{mean:.2f}", 50_000 * int(counts[i] + 1),
                ]
            )  # fmt: skip
    (folder / "ratings.csv").write_text(
        "book_id,user_id,rating\n" + "".join(f"{b},{u},{s}\n" for u, b, s in ratings)
    )
    tag_id = {name: i for i, name in enumerate(TAGS)}
    (folder / "tags.csv").write_text(
        "tag_id,tag_name\n" + "".join(f"{i},{name}\n" for name, i in tag_id.items())
    )
    lines = ["goodreads_book_id,tag_id,count"]
    for i, (_, _, _, genre, _) in enumerate(BOOKS, start=1):
        shelves = [("to-read", 9000), (genre, 3000), ("favorites", 800)]
        shelves += [(s, 900 - 300 * k) for k, s in enumerate(EXTRA_SHELVES[genre])]
        lines += [f"{1000 + i},{tag_id[name]},{count}" for name, count in shelves]
    (folder / "book_tags.csv").write_text("\n".join(lines) + "\n")


def build_bundle(ratings: np.ndarray, catalogue: Catalogue, dim: int = 8) -> Bundle:
    """A bundle in the trained model's format, from the ratings in closed form: the
    item-to-item links are EASE's weights (Steck 2019) on "rated it", the embeddings a
    low-rank factorisation of the same matrix, the star head each book's shrunk mean."""
    n = len(catalogue)
    rows = catalogue.rows(ratings[:, 1])
    users = np.unique(ratings[:, 0], return_inverse=True)[1]
    x = np.zeros((users.max() + 1, n))
    x[users, rows] = 1.0
    stars = ratings[:, 2].astype(np.float64)
    mu = float(stars.mean())
    gram = x.T @ x
    p = np.linalg.inv(gram + 30.0 * np.eye(n))
    ease = -p / np.diag(p)[None, :]
    np.fill_diagonal(ease, 0.0)
    m = 6
    nbr = np.argsort(-ease, axis=1)[:, :m]
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    emb = (vt[:dim].T * np.sqrt(s[:dim]) / np.sqrt(len(x))).astype(np.float32)
    counts = np.bincount(rows, minlength=n)
    sums = np.bincount(rows, weights=stars, minlength=n)
    item_bias = (sums + 5 * mu) / (counts + 5) - mu

    def padded(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((1, *a.shape[1:]), a.dtype), a]).astype(a.dtype)

    return Bundle(
        book_ids=catalogue.book_ids.astype(np.int64),
        in_emb=padded(emb),
        star_mod=np.tile(np.linspace(-0.6, 0.2, 6)[:, None], (1, dim)).astype(np.float32),
        out_emb=padded(emb),
        out_bias=padded(0.05 * np.log1p(counts).astype(np.float32)),
        rate_proj=np.zeros((dim, dim), np.float32),
        rate_emb=padded(np.zeros((n, dim), np.float32)),
        rate_in=padded(np.zeros((n, dim), np.float32)),
        item_bias=padded(item_bias.astype(np.float32)),
        nbr_ids=padded((nbr + 1).astype(np.int32)),
        nbr_w=padded(np.take_along_axis(ease, nbr, axis=1).astype(np.float32) * 4.0),
        star_nbr=np.array([0.0, -0.5, 0.0, 0.6, 1.0, 1.2], np.float32),
        nbr_rate=padded(np.full((n, m), 0.1, np.float32)),
        mu=mu,
        alpha=0.5,
        user_bias_reg=5.0,
        meta={"books_sha256": catalogue.sha256, "built_by": "tests/tiny_world.py"},
    )


def build(root: Path, ratings: np.ndarray | None = None) -> TinyWorld:
    """Write the tiny world under ``root`` (``root/data``, ``root/model``)."""
    from bookrec_tui.store.goodbooks import load_catalogue

    world = TinyWorld(root / "data", root / "model")
    ratings = make_ratings() if ratings is None else ratings
    write_data(world.data_dir, ratings)
    catalogue = load_catalogue(world.data_dir, use_cache=False)
    world.model_dir.mkdir(parents=True, exist_ok=True)
    build_bundle(ratings, catalogue).save(world.model_dir / BUNDLE_NAME)
    return world
