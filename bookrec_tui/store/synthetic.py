"""Synthetic catalogues for measuring at scale (10k to 1M books): no real data needed.

Shaped like Goodreads where it matters for speed and memory: power-law popularity (a few
books are read by many, most by few), genre clusters, authors who write in one genre,
series whose later books are read by readers of the first, readers with one to three
tastes, and a long tail of short reading histories. Everything is vectorised numpy with
int32 ids, so a million books and tens of millions of ratings build in about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bookrec_tui.core.catalogue import SHELVES_PER_BOOK, Catalogue, Dataset, Ratings
from bookrec_tui.core.genres import GENRE_NAMES, tag_genre_columns


def _words(text: str) -> list[str]:
    return text.split()


GENRES = (
    "fantasy",
    "science-fiction",
    "mystery",
    "thriller",
    "romance",
    "historical-fiction",
    "horror",
    "young-adult",
    "classics",
    "biography",
    "history",
    "poetry",
    "philosophy",
    "science",
    "self-help",
    "graphic-novels",
    "childrens",
    "travel",
    "cookbooks",
    "humor",
)
_WORDS = _words(
    "shadow night river crown stone garden winter house city dream fire glass iron silver "
    "storm tide wolf raven star moon sun empire secret letter daughter king queen island "
    "forest road song war heart ghost mirror ocean sky mountain circle thread book voice "
    "hunter thief witch dragon machine clock bridge harbor lantern orchard valley tower "
    "kingdom promise memory silence summer autumn spring ember ash salt bone feather "
    "paper ink compass atlas cipher echo harvest legacy oracle pilgrim quarry relic "
    "sanctuary tempest umbra vessel wander zenith"
)
_ADJ = _words(
    "lost hidden last first broken golden dark bright silent wild burning frozen secret "
    "little quiet endless distant forgotten hollow crimson scarlet pale ancient northern "
    "sunken stolen gentle strange"
)
_FIRST = _words(
    "Ann Ben Clara David Elena Farid Grace Hiro Ines Jonas Kofi Lena Mateo Nadia Omar "
    "Priya Quinn Rosa Samir Tove Uma Victor Wen Ximena Yusuf Zoe Alma Bruno Chloe Dmitri"
)
_LAST = _words(
    "Abbott Brennan Castillo Dahl Eriksen Fontaine Garcia Haddad Ivanova Jensen Kowalski "
    "Lindqvist Moreau Nakamura Okafor Petrov Quintero Rossi Sato Tanaka Ueda Varga Weber "
    "Xu Yilmaz Zielinski Archer Blackwood Crane Dunmore"
)


@dataclass(frozen=True)
class SyntheticConfig:
    n_books: int
    readers_per_book: float = 2.0  # readers = n_books * this (capped by max_readers)
    max_readers: int = 400_000
    mean_ratings: float = 40.0  # per reader (log-normal, at least 3)
    popularity_exponent: float = 0.9  # Zipf exponent of book popularity within a genre
    series_share: float = 0.3  # share of books that belong to a series
    seed: int = 0

    @property
    def n_readers(self) -> int:
        return int(min(self.n_books * self.readers_per_book, self.max_readers))


_SYLLABLES = _words(
    "ka lo ri ven mar tel sa bor an el dor fen gil har is jor kel lun mor nar os pel quin "
    "ros sil tor ul vel wyn yr zan ber cor dal eth far gor hal ith kor lor mir nor pra rin "
    "sar thal ur vor wel ash bel cam dun est fal"
)


def _vocabulary(rng: np.random.Generator, size: int = 20_000) -> np.ndarray:
    """English words first, then invented ones of one to three syllables: title words are
    Zipf-distributed over this list, so some trigrams are everywhere and most are rare,
    as in real titles."""
    syl = np.array(_SYLLABLES)[rng.integers(0, len(_SYLLABLES), (size, 3))]
    n_syl = rng.integers(1, 4, size)
    word = syl[:, 0]
    for k in (1, 2):
        word = np.where(n_syl > k, np.char.add(word, syl[:, k]), word)
    return np.concatenate([np.array(_WORDS), np.char.capitalize(word).astype(str)])


def _titles(rng: np.random.Generator, n: int, series_name, series_pos) -> np.ndarray:
    vocab = np.char.capitalize(_vocabulary(rng))
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    pick = rng.choice(len(vocab), size=(n, 2), p=zipf / zipf.sum())
    a, b = vocab[pick[:, 0]], vocab[pick[:, 1]]
    adj = np.char.capitalize(np.array(_ADJ)[rng.integers(0, len(_ADJ), n)])
    form = rng.integers(0, 4, n)
    base = np.where(
        form == 0,
        np.char.add(np.char.add("The ", adj), np.char.add(" ", a)),
        np.where(
            form == 1,
            np.char.add(np.char.add(a, " of the "), np.char.add(adj, " " + b)),
            np.where(form == 2, np.char.add(np.char.add(a, " and "), b), np.char.add(a, " " + b)),
        ),
    )
    note = np.char.add(np.char.add(" (", series_name), np.char.add(", #", series_pos.astype(str)))
    note = np.char.add(note, ")")
    return np.where(series_pos > 0, np.char.add(base, note), base)


def make_catalogue(cfg: SyntheticConfig) -> tuple[Catalogue, np.ndarray, np.ndarray, np.ndarray]:
    """The books, and per book its genre, popularity weight and series head (row of the
    series' first book, or -1)."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_books
    genre_share = 1.0 / np.arange(1, len(GENRES) + 1) ** 0.7
    genre = rng.choice(len(GENRES), size=n, p=genre_share / genre_share.sum()).astype(np.int32)
    # Popularity: Zipf over a random order of the books.
    rank = rng.permutation(n).astype(np.float64)
    popularity = (rank + 1.0) ** -cfg.popularity_exponent
    # Series: runs of 2..7 consecutive rows share genre, author and a series name.
    in_series = rng.random(n) < cfg.series_share
    series_pos = np.zeros(n, np.int32)
    head = np.full(n, -1, np.int32)
    starts = np.flatnonzero(in_series & (rng.random(n) < 0.25))
    lengths = rng.integers(2, 8, len(starts))
    for_run = np.repeat(np.arange(len(starts)), lengths)
    offset = np.arange(len(for_run)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = starts[for_run] + offset
    ok = rows < n
    rows, for_run, offset = rows[ok], for_run[ok], offset[ok]
    series_pos[rows] = offset + 1
    head[rows] = starts[for_run]
    genre[rows] = genre[starts[for_run]]
    # Later books of a series are read less than the first.
    popularity[rows] = popularity[starts[for_run]] * 0.7**offset
    # Authors: each writes in one genre; a series keeps its author.
    n_authors = max(n // 6, 1)
    author = rng.integers(0, n_authors, n).astype(np.int32)
    author[rows] = author[starts[for_run]]
    first = np.array(_FIRST)[author % len(_FIRST)]
    last = np.array(_LAST)[(author // len(_FIRST)) % len(_LAST)]
    author_names = np.char.add(
        np.char.add(first, " "), np.char.add(last, " " + (author // 900).astype(str))
    )
    series_name = np.array([w.title() for w in _WORDS])[(head % len(_WORDS)).clip(0)]
    series_name = np.char.add(series_name, " Saga")
    titles = _titles(rng, n, series_name, series_pos)
    quality = np.clip(rng.normal(3.9, 0.3, n), 2.5, 4.8).astype(np.float32)
    counts = np.maximum((popularity / popularity.max() * 2_000_000).astype(np.int64), 1)
    genre_names = np.array(GENRES)
    second_genre = (genre + 1 + rng.integers(0, 3, n)) % len(GENRES)
    shelves = np.char.add(np.char.add(genre_names[genre], "|"), genre_names[second_genre])
    # Shelvings: the book's genre by about a tenth of its readers, the second by a third of that.
    first_count = np.maximum(counts // 10, 1).astype(np.int32)
    shelf_counts = np.zeros((n, SHELVES_PER_BOOK), np.int32)
    shelf_counts[:, 0], shelf_counts[:, 1] = first_count, np.maximum(first_count // 3, 1)
    genre_counts = np.zeros((n, len(GENRE_NAMES)), np.int32)
    column = tag_genre_columns(list(GENRES))
    for shelf, weight in ((genre, shelf_counts[:, 0]), (second_genre, shelf_counts[:, 1])):
        ok = column[shelf] >= 0
        np.add.at(genre_counts, (np.flatnonzero(ok), column[shelf][ok]), weight[ok])
    catalogue = Catalogue(
        book_ids=np.arange(1, n + 1, dtype=np.int32),
        goodreads_ids=np.arange(1, n + 1, dtype=np.int64) + 10_000_000,
        best_book_ids=np.arange(1, n + 1, dtype=np.int64) + 10_000_000,
        titles=titles,
        authors=author_names,
        years=rng.integers(1800, 2024, n).astype(np.int16),
        average_ratings=quality,
        ratings_counts=counts,
        isbns=np.char.zfill((np.arange(n) + 1).astype(str), 10),
        shelves=shelves,
        rating_stds=np.full(n, 0.9, np.float32),
        original_titles=np.char.partition(titles, " (")[:, 0],
        languages=np.full(n, "eng"),
        shelf_counts=shelf_counts,
        genre_counts=genre_counts,
        sha256=f"synthetic-{n}-{cfg.seed}",
    )
    return catalogue, genre, popularity, head


def make_ratings(
    cfg: SyntheticConfig, genre: np.ndarray, popularity: np.ndarray, head: np.ndarray, quality
) -> Ratings:
    """Readers with 1-3 tastes; each rating picks a taste, then a book of that genre by
    popularity; reading a later series book brings in the first; stars follow the book's
    quality, the reader's bias and whether the book is to their taste."""
    rng = np.random.default_rng(cfg.seed + 1)
    n_genres = len(GENRES)
    n_readers = cfg.n_readers
    lengths = np.clip(
        rng.lognormal(np.log(cfg.mean_ratings) - 0.5, 1.0, n_readers), 3, 2000
    ).astype(np.int64)
    tastes = rng.integers(0, n_genres, (n_readers, 3)).astype(np.int32)
    n_tastes = rng.integers(1, 4, n_readers)
    owner = np.repeat(np.arange(n_readers, dtype=np.int32), lengths)
    which = (rng.random(len(owner)) * n_tastes[owner]).astype(np.int64)
    slot_genre = tastes[owner, which]
    off_taste = rng.random(len(owner)) < 0.1  # a tenth of reading is outside one's tastes
    slot_genre[off_taste] = rng.integers(0, n_genres, int(off_taste.sum()))
    # Sample a book per slot: books grouped by genre, cumulative popularity per group.
    order = np.argsort(genre, kind="stable")
    cum = np.cumsum(popularity[order])
    bounds = np.searchsorted(genre[order], np.arange(n_genres + 1))
    lo = np.where(bounds[:-1] > 0, cum[np.maximum(bounds[:-1] - 1, 0)], 0.0)
    hi = cum[np.maximum(bounds[1:] - 1, 0)]
    empty = bounds[1:] == bounds[:-1]
    slot_genre = np.where(empty[slot_genre], genre[order[0]], slot_genre)
    u = lo[slot_genre] + rng.random(len(owner)) * (hi[slot_genre] - lo[slot_genre])
    book = order[np.minimum(np.searchsorted(cum, u), len(order) - 1)].astype(np.int32)
    del u, which
    # A later series book read: its first book was read too.
    later = head[book] >= 0
    later &= head[book] != book
    owner = np.concatenate([owner, owner[later]])
    book = np.concatenate([book, head[book[later]]])
    key = np.sort(owner.astype(np.int64) * (cfg.n_books + 1) + book)
    key = key[np.r_[True, key[1:] != key[:-1]]]  # unique (sorting beats hashing here)
    owner = (key // (cfg.n_books + 1)).astype(np.int32)
    book = (key % (cfg.n_books + 1)).astype(np.int32)
    del key
    bias = rng.normal(0.0, 0.4, n_readers).astype(np.float32)
    match = (tastes[owner] == genre[book][:, None]).any(axis=1)
    stars = quality[book] + bias[owner] + np.where(match, 0.4, -0.6)
    stars += rng.normal(0.0, 0.8, len(owner)).astype(np.float32)
    stars = np.clip(np.rint(stars), 1, 5).astype(np.int8)
    return Ratings(
        user_ids=owner + 1,
        book_ids=book + 1,
        stars=stars,
        schema="synthetic",
        sha256=f"synthetic-{cfg.n_books}-{cfg.seed}",
    )


def make_dataset(cfg: SyntheticConfig) -> Dataset:
    catalogue, genre, popularity, head = make_catalogue(cfg)
    ratings = make_ratings(cfg, genre, popularity, head, catalogue.average_ratings)
    return Dataset(catalogue, ratings, ratings_path=None)  # type: ignore[arg-type]


def genres_of(catalogue: Catalogue) -> np.ndarray:
    """Each synthetic book's genre index (its first shelf)."""
    first = np.char.partition(catalogue.shelves.astype(str), "|")[:, 0]
    lookup = {g: i for i, g in enumerate(GENRES)}
    return np.array([lookup[str(g)] for g in first], dtype=np.int32)


def book_vectors(catalogue: Catalogue, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (n, dim) float32, bias (n,) float32) shaped like learned book embeddings
    for measuring a vector index: a book's vector is its genre's direction plus its
    author's plus noise (unit length), its bias the standardised log of its ratings count.
    A reader is then a star-weighted sum of rows, as in the embedding model. Not trained:
    the structure is what the generator put there (genres and authors cluster)."""
    rng = np.random.default_rng(seed)
    genre = genres_of(catalogue)
    author = np.asarray(catalogue.first_author_codes)
    vectors = rng.standard_normal((len(GENRES), dim), dtype=np.float32)[genre]
    vectors += 0.7 * rng.standard_normal((int(author.max()) + 1, dim), dtype=np.float32)[author]
    vectors += 0.7 * rng.standard_normal((len(catalogue), dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    log_counts = np.log10(np.maximum(catalogue.ratings_counts, 1).astype(np.float64))
    bias = 0.3 * (log_counts - log_counts.mean()) / max(float(log_counts.std()), 1e-9)
    return vectors, bias.astype(np.float32)
