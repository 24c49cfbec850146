"""Fuzzy title/author search over the catalogue (rapidfuzz), typo-tolerant.

"hary poter" must find Harry Potter #1 before a box set or a companion book, and "wicked"
Maguire's Wicked (500k ratings) before a namesake with a hundredth of its readers, so the
string similarity is blended with a popularity prior worth up to ``POPULARITY_POINTS`` (it
decides near ties, never a clearly better match) and a penalty for omnibus editions. Titles
are matched as shown, without their subtitle ("Sapiens: A Brief History..." is an exact
"sapiens"), and by their original title ("Cien años de soledad"); accents and case are
ignored. A query that names an author ("stephen king") lists that author's best-known books.
A query first shortlists candidates by shared character trigrams (an inverted index in numpy,
well under a millisecond), then scores only those with rapidfuzz.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from rapidfuzz import fuzz, process

from bookrec_tui.core.catalogue import SERIES_NOTE, Catalogue
from bookrec_tui.core.npz import cached_arrays
from bookrec_tui.paths import cache_dir

_NON_WORD = re.compile(r"[^\w\s]+")
_OMNIBUS = re.compile(
    r"box(ed)? ?set|collection|complete|omnibus|#\d+\s*-\s*\d+|books? \d+-\d+", re.IGNORECASE
)


MIN_COVERAGE = 0.35  # share of the query's character trigrams a match must contain
#: Bump when what the index folder holds changes (normalise, the documents, the row texts).
INDEX_VERSION = 2
OMNIBUS_PENALTY = 4.0  # points off a box set or collection, so the single book comes first
POPULARITY_POINTS = 8.0  # the most-rated book gets this many points, a 1-rating book none
EXACT_BONUS = 10.0  # a (nearly) exact title beats any looser token match
AUTHOR_MATCH = 90  # fuzz.ratio of the query to an author's name to list their books
#: A search hit is a plausible reading of what the reader typed from this similarity (0..100)
#: up: the one threshold the chat, the app's suggestions and the CLI share.
MATCH_THRESHOLD = 60.0
#: Another hit rivals the best one (so a title does not "clearly win") when its similarity is
#: within RIVAL_MARGIN and it has at least RIVAL_POPULARITY of the best one's ratings:
#: "harry potter" is ambiguous between the books, "twilight" is the Meyer novel, not a
#: namesake with a hundredth of its readers.
RIVAL_MARGIN = 3.0
RIVAL_POPULARITY = 0.2

_STOPWORDS = frozenset(
    (
        "the",
        "a",
        "an",
        "of",
        "and",
        "to",
        "in",
        "on",
        "for",
        "at",
        "by",
        "with",
        "from",
        "or",
        "is",
        "as",
    )
)


def normalise(text: str) -> str:
    """Lower-case, strip accents, punctuation and little words, squeeze spaces.

    Little words go because fuzzy token matching otherwise pairs "lord of the rngs" with any
    title that has "of the" in it.
    """
    if not text.isascii():  # (ASCII has no accents: most titles skip this)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = _NON_WORD.sub(" ", text.lower()).split()
    kept = [w for w in words if w not in _STOPWORDS]
    return " ".join(kept or words)


class TitleIndex:
    """Search over a catalogue's titles and authors.

    Opening it is cheap at any size: what it needs is built once per catalogue and kept in
    the cache folder as memory-mapped arrays (:func:`_index_arrays`): the trigram index
    (:class:`TrigramIndex`) and the strings the scorer compares (:class:`RowTexts`), so a
    query decodes a few hundred rows' strings instead of normalising titles.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        counts = np.log10(np.maximum(catalogue.ratings_counts.astype(np.float64), 1.0))
        self.prior = POPULARITY_POINTS * counts / max(counts.max(), 1.0)
        arrays = _index_arrays(catalogue)
        self.trigrams = TrigramIndex(*(arrays[name] for name in TrigramIndex.FILES))
        self.texts = RowTexts(*(arrays[name] for name in RowTexts.FILES))

    def shortlist(self, query: str, k: int = 300) -> np.ndarray:
        """Rows sharing the most character trigrams with ``query`` (cosine), best first,
        among those holding at least MIN_COVERAGE of the query's trigrams.

        The coverage floor keeps junk from matching: WRatio gives "[2J ü [2J ü" 86 against
        "American Sniper ... U.S. Military History" through the lone "u", yet the title
        holds 1 of its 6 trigrams. Real typos keep half or more ("the martain": 0.5).
        """
        return self.trigrams.shortlist(_trigrams(query), MIN_COVERAGE, k)

    @staticmethod
    def _similarity(query: str, choices: list[str]) -> np.ndarray:
        """WRatio, discounted when the choice is much shorter than the query: otherwise a
        title like "It" or "Son" matches inside "hitchikers guide" or "percy jackson"."""
        sims = process.cdist(
            [query], choices, scorer=fuzz.WRatio, processor=None, score_cutoff=40, workers=1
        )[0].astype(np.float64)
        lengths = np.fromiter(map(len, choices), dtype=np.float64, count=len(choices))
        return sims * np.minimum(1.0, (lengths + 3.0) / len(query)) ** 0.5

    def search(self, query: str, n: int = 10) -> list[tuple[int, float]]:
        """(row, score 0..100) best first."""
        q = normalise(query)
        if not q:
            return []
        rows = self.shortlist(q)
        if len(rows) == 0:
            return []
        text = self.texts.at(rows)
        # "full" keeps the series note ("percy jackson"), "plain" drops it ("the hunger
        # games"), "core" drops the subtitle too ("sapiens").
        sims = np.maximum.reduce(
            [
                self._similarity(q, text["full"]),
                self._similarity(q, text["with_author"]) - 1.0,
                self._similarity(q, text["original"]),
            ]
        )
        # A (nearly) exact title beats any looser token match: "the two towers" is
        # The Two Towers, not "Two by Two"; "sapiens" is Sapiens, not "Simon vs. the Homo
        # Sapiens Agenda".
        # The title as shown may be off by a typo; a title cut at its subtitle or in its
        # original language must match closely ("twilight meyer" is not "Twilight Eyes").
        exact = np.maximum.reduce(
            [
                self._exact(q, text["plain"], 88),
                self._exact(q, text["core"], 95),
                self._exact(q, text["original"], 95),
            ]
        )
        sims = np.where(exact > 0, np.maximum(sims, exact) + EXACT_BONUS, sims)
        # A series is searched by its name through its first book: "harry potter" is
        # Harry Potter #1 (before "Harry Potter: Film Wizardry", which only has the name);
        # it ranks its first book first but is not reported as an exact match of it:
        # "harry potter" still names seven books as well as one.
        series = self._exact(q, text["series"], 88)
        ranking = np.where(series > 0, np.maximum(sims, series + EXACT_BONUS), sims)
        # "stephen king": the author's books (those the trigrams shortlisted, which for a
        # name are the author's) match as well as an exact title; popularity orders them.
        # The surname is the name without initials: "tolkien" for "J.R.R. Tolkien".
        by_author = np.maximum(
            self._exact(q, text["first_author"], AUTHOR_MATCH),
            self._exact(q, text["author_surname"], AUTHOR_MATCH),
        )
        sims = np.where(by_author > 0, np.maximum(sims, 100.0), sims)
        ranking = np.maximum(ranking, sims)
        penalty = np.where(self.texts.omnibus[rows], OMNIBUS_PENALTY, 0.0)
        score = ranking + self.prior[rows] - penalty
        order = np.argsort(-score, kind="stable")[:n]
        return [(int(rows[i]), float(min(sims[i], 100.0))) for i in order if ranking[i] > 0]

    @staticmethod
    def _exact(query: str, names: list[str], cutoff: float) -> np.ndarray:
        """fuzz.ratio of ``query`` to each name where it is ``cutoff`` or more, else 0."""
        return process.cdist(
            [query], names, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff, workers=1
        )[0]


def _index_arrays(catalogue: Catalogue) -> dict[str, np.ndarray]:
    """The trigram index and the row texts of ``catalogue``: from the cache folder (mapped),
    built and saved there the first time (one pass of Python over the titles: minutes at a
    million books). Catalogues without a fingerprint are built each time."""

    def build() -> dict[str, np.ndarray]:
        c = catalogue
        texts, docs = RowTexts.build(c.titles, c.authors, c.original_titles)
        return {**vars(texts), **vars(TrigramIndex.build(docs))}

    if not catalogue.sha256:
        return build()
    folder = cache_dir() / f"title-index-v{INDEX_VERSION}-{catalogue.sha256[:20]}"
    arrays = cached_arrays(folder, build)
    names = (*TrigramIndex.FILES, *RowTexts.FILES)
    if any(name not in arrays for name in names) or len(arrays["omnibus"]) != len(catalogue):
        return build()  # a stale or damaged folder
    return arrays


_FIRST_OF_SERIES = re.compile(r"\(([^()#]+?),?\s*#1\)\s*$")


def _first_of_series_name(title: str) -> str:
    """'harry potter' for 'Harry Potter and the Sorcerer's Stone (Harry Potter, #1)'; ''
    for any other book."""
    match = _FIRST_OF_SERIES.search(title)
    return normalise(match.group(1)) if match else ""


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


#: The strings the scorer compares for each row, in the order :class:`RowTexts` keeps them.
TEXT_FIELDS = (
    "full",  # normalised title with its series note
    "plain",  # without the series note
    "core",  # without the subtitle either
    "original",  # original title
    "series",  # the series name, for a series' first book only
    "first_author",
    "author_surname",  # the first author without initials
    "with_author",  # plain title and all authors
)


def _row_texts(title: str, authors: str, original_title: str) -> tuple[list[str], str]:
    """A row's :data:`TEXT_FIELDS` and its document for the trigram index (normalised title
    with its series note and author, and the original title where it differs)."""
    full = normalise(title)
    untagged = SERIES_NOTE.sub("", title) if "#" in title else title
    plain = full if untagged is title else normalise(untagged)
    core = normalise(untagged.split(":")[0]) if ":" in untagged else plain
    original = normalise(original_title)
    author = normalise(authors)
    first_author = normalise(authors.split(",")[0].strip())
    surname = " ".join(w for w in first_author.split() if len(w) > 1)
    series = _first_of_series_name(title) if "#" in title else ""
    fields = [full, plain, core, original, series, first_author, surname, f"{plain} {author}"]
    doc = f"{full} {author} {original}" if original != plain else f"{full} {author}"
    return fields, doc


class RowTexts:
    """What the scorer compares for each row (:data:`TEXT_FIELDS`) as one UTF-8 blob:
    row r's fields, each followed by a NUL (normalised text has none), are
    ``texts[starts[r]:starts[r + 1]]``; ``omnibus`` marks box sets and collections.

    Made once per catalogue with the trigram index and mapped from the cache folder, so a
    query gathers and decodes its shortlist's bytes in one go instead of building Python
    strings per title.
    """

    FILES = ("texts", "text_starts", "omnibus")

    def __init__(self, texts, text_starts, omnibus) -> None:
        self.texts, self.text_starts, self.omnibus = texts, text_starts, omnibus

    @classmethod
    def build(cls, titles, authors, original_titles) -> tuple[RowTexts, list[str]]:
        """The row texts and every row's trigram-index document."""
        n = len(titles)
        records, docs = [], []
        omnibus = np.zeros(n, dtype=bool)
        for r, (t, a, o) in enumerate(zip(titles, authors, original_titles, strict=True)):
            title = str(t)
            fields, doc = _row_texts(title, str(a), str(o))
            records.append("\0".join(fields).encode() + b"\0")
            docs.append(doc)
            omnibus[r] = _OMNIBUS.search(title) is not None
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, records), dtype=np.int64, count=n), out=starts[1:])
        texts = np.frombuffer(b"".join(records), dtype=np.uint8)
        return cls(texts, starts, omnibus), docs

    def at(self, rows: np.ndarray) -> dict[str, list[str]]:
        """Each of :data:`TEXT_FIELDS` for ``rows``, in their order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.text_starts[rows]
        lengths = self.text_starts[rows + 1] - starts
        # Byte positions of every row's record, one after the other.
        shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        data = self.texts[np.arange(int(lengths.sum())) + shift].tobytes()
        parts = data.decode("utf-8").split("\0")[:-1]
        k = len(TEXT_FIELDS)
        return {name: parts[i::k] for i, name in enumerate(TEXT_FIELDS)}


def _gram_codes(grams) -> np.ndarray:
    """Each 3-character gram as one int64 (21 bits per code point)."""
    cps = np.array([[ord(c) for c in g] for g in grams], dtype=np.int64).reshape(-1, 3)
    return (cps[:, 0] << 42) | (cps[:, 1] << 21) | cps[:, 2]


class TrigramIndex:
    """An inverted index from character trigrams to documents, in flat numpy arrays.

    ``codes`` (sorted gram codes), ``starts`` (where each gram's documents begin in
    ``postings``), ``postings`` (document rows) and ``doc_norm`` (sqrt of each document's
    distinct gram count). Built vectorised, stored as ``.npy`` files in the cache folder and
    opened memory-mapped, so a warm start reads almost nothing.
    """

    FILES = ("codes", "starts", "postings", "doc_norm")

    def __init__(self, codes, starts, postings, doc_norm) -> None:
        self.codes, self.starts, self.postings, self.doc_norm = codes, starts, postings, doc_norm

    @classmethod
    def build(cls, docs: list[str]) -> TrigramIndex:
        padded = [f"  {d} " for d in docs]
        lengths = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
        text = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32)
        text = text.astype(np.int64)
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        ends = np.cumsum(lengths)
        # Gram i spans positions i..i+2: it belongs to one document when i + 2 < its end.
        valid = np.arange(len(text)) + 2 < ends[doc] if len(text) else np.zeros(0, bool)
        valid = np.flatnonzero(valid)
        code = (text[valid] << 42) | (text[valid + 1] << 21) | text[valid + 2]
        del text
        codes, gram = np.unique(code, return_inverse=True)
        del code
        n_docs = max(len(docs), 1)
        key = np.sort(gram.astype(np.int64) * n_docs + doc[valid])
        del gram, doc, valid
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        postings = (key % n_docs).astype(np.int32)
        starts = np.searchsorted(key // n_docs, np.arange(len(codes) + 1)).astype(np.int64)
        sizes = np.bincount(postings, minlength=len(docs)).astype(np.float64)
        return cls(codes, starts, postings, np.sqrt(np.maximum(sizes, 1.0)))

    def shortlist(self, grams: set[str], min_coverage: float, k: int) -> np.ndarray:
        """Up to ``k`` documents holding at least ``min_coverage`` of ``grams``, scored by
        shared grams over the document's norm (cosine), best first."""
        if not grams:
            return np.array([], dtype=np.int64)
        wanted = _gram_codes(grams)
        pos = np.minimum(np.searchsorted(self.codes, wanted), len(self.codes) - 1)
        ids = pos[self.codes[pos] == wanted]
        if len(ids) == 0:
            return np.array([], dtype=np.int64)
        hits = np.concatenate([self.postings[self.starts[i] : self.starts[i + 1]] for i in ids])
        shared = np.bincount(hits, minlength=len(self.doc_norm))
        rows = np.flatnonzero(shared >= min_coverage * len(grams))
        if len(rows) == 0:
            return np.array([], dtype=np.int64)
        score = shared[rows] / self.doc_norm[rows]
        k = min(k, len(rows))
        top = np.argpartition(-score, k - 1)[:k]
        return rows[top[np.argsort(-score[top], kind="stable")]].astype(np.int64)
