"""What lets the runtime open a million-book catalogue: memory-mapped arrays and a trigram
index that is built once, vectorised, and mapped from the cache afterwards."""

from __future__ import annotations

import mmap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookrec_tui.core.npz import MappedNpz
from bookrec_tui.core.search import (
    MIN_COVERAGE,
    TEXT_FIELDS,
    RowTexts,
    TitleIndex,
    TrigramIndex,
    _row_texts,
    _trigrams,
)
from bookrec_tui.store.synthetic import SyntheticConfig, make_catalogue, make_dataset


def _mapped(a: np.ndarray) -> bool:
    """Whether ``a``'s bytes come from a memory-mapped file."""
    return isinstance(a, np.memmap) or isinstance(a.base, (np.memmap, mmap.mmap))


def test_uncompressed_npz_members_are_mapped_not_read(tmp_path):
    path = tmp_path / "a.npz"
    big = np.arange(100_000, dtype=np.float32).reshape(1000, 100)
    strings = np.array(["Dune", "Émile", "北京"])
    np.savez(path, big=big, strings=strings, fortran=np.asfortranarray(big[:, :7]), one=3.5)
    with MappedNpz(path) as z:
        got = {name: z[name] for name in z.files}
        assert z.is_mapped("big")
    assert _mapped(got["big"])  # pages come from the file on demand
    assert not got["big"].flags.writeable
    assert np.array_equal(got["big"], big)
    assert list(got["strings"]) == ["Dune", "Émile", "北京"]
    assert np.array_equal(got["fortran"], big[:, :7])
    assert float(got["one"]) == 3.5


def test_save_npz_puts_every_array_at_an_aligned_offset(tmp_path):
    """Mapped from a file written by save_npz, every array is aligned (numpy multiplies only
    aligned arrays with BLAS), whatever the lengths of the names before it: every padding
    case, including the ones too short for an extra field, comes up."""
    from bookrec_tui.core.npz import ALIGN, save_npz

    dtypes = [np.float32, np.int64, np.int8, np.float64]
    arrays = {
        "n" * length: np.arange(length * 7 + 1, dtype=dtypes[length % 4]).reshape(-1, 1)
        for length in range(1, 70)
    }
    arrays["meta"] = np.array('{"a": 1}')
    path = tmp_path / "aligned.npz"
    with path.open("wb") as handle:
        save_npz(handle, **arrays)
    with np.load(path, allow_pickle=False) as plain:  # still an ordinary .npz
        assert all(np.array_equal(plain[name], a) for name, a in arrays.items())
    with MappedNpz(path) as z:
        for name, a in arrays.items():
            got = z[name]
            assert np.array_equal(got, a) and got.flags.aligned, name
            if a.ndim:  # mapped from a page-aligned base: the address is the file offset's
                assert z.is_mapped(name) and _mapped(got) and got.ctypes.data % ALIGN == 0


def test_compressed_npz_is_read_as_before(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, x=np.arange(10))
    with MappedNpz(path) as z:
        assert not z.is_mapped("x")
        assert np.array_equal(z["x"], np.arange(10))


def test_damaged_npz_files_raise_value_error(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(1000, dtype=np.int64))
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        MappedNpz(cut)["x"]
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError):
        MappedNpz(tmp_path / "text.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        MappedNpz(tmp_path / "obj.npz")["x"]


def test_saved_bundle_opens_memory_mapped(tmp_path):
    from bookrec_tui.core.bundle import ARRAYS, Bundle
    from bookrec_tui.core.recommender import shipped_bundle_path

    shipped = Bundle.load(shipped_bundle_path())
    shipped.save(tmp_path / "b.npz")
    again = Bundle.load(tmp_path / "b.npz")
    for name in ARRAYS:
        a, b = getattr(shipped, name), getattr(again, name)
        assert np.array_equal(a, b), name
        # aligned: the book table's product runs in BLAS (20x faster than unaligned)
        assert a.flags.aligned and b.flags.aligned, name
        if b.size > 1000:
            assert _mapped(a) and _mapped(b), name


def _naive_shortlist(docs: list[str], query: str) -> set[int]:
    grams = _trigrams(query)
    keep = set()
    for row, doc in enumerate(docs):
        if len(grams & _trigrams(doc)) >= MIN_COVERAGE * len(grams):
            keep.add(row)
    return keep


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.text(alphabet="abc é北 ", max_size=12), min_size=1, max_size=30),
    query=st.text(alphabet="abc é北 ", min_size=1, max_size=8),
)
def test_vectorised_index_finds_what_a_plain_scan_finds(docs, query):
    index = TrigramIndex.build(docs)
    got = set(index.shortlist(_trigrams(query), MIN_COVERAGE, k=len(docs)).tolist())
    assert got == _naive_shortlist(docs, query)


def test_shortlist_ranks_by_shared_grams_over_document_size():
    docs = ["dune", "dune messiah", "children of dune", "emma"]
    index = TrigramIndex.build(docs)
    rows = index.shortlist(_trigrams("dune"), MIN_COVERAGE, k=3).tolist()
    assert rows == [0, 1, 2]


def test_title_index_is_built_once_per_catalogue_then_mapped(isolated_home):
    catalogue, *_ = make_catalogue(SyntheticConfig(2000, seed=3))
    first = TitleIndex(catalogue)
    folders = list((isolated_home / "cache").glob("title-index-*"))
    assert len(folders) == 1
    second = TitleIndex(catalogue)
    assert _mapped(second.trigrams.postings) and not _mapped(first.trigrams.postings)
    assert _mapped(second.texts.texts)  # the scorer's strings too: nothing made per title
    title = str(catalogue.titles[1234])
    assert first.search(title, 5) == second.search(title, 5)
    assert second.search(title, 1)[0][0] in np.flatnonzero(catalogue.titles == title)


def test_row_texts_give_back_each_rows_strings_from_one_blob():
    titles = ["Dune (Dune Chronicles, #1)", "Cien años de soledad", "北京: 城市", "", "Box Set"]
    authors = ["Frank Herbert", "Gabriel García Márquez", "老舍", "", "J.K. Rowling, Mary GrandPré"]
    originals = ["Dune", "", "北京", "", ""]
    texts, docs = RowTexts.build(np.array(titles), np.array(authors), np.array(originals))
    rows = np.array([4, 0, 2, 0, 3, 1])  # any order, repeats, an empty row
    got = texts.at(rows)
    for j, r in enumerate(rows):
        fields, doc = _row_texts(titles[r], authors[r], originals[r])
        assert [got[name][j] for name in TEXT_FIELDS] == fields
        assert docs[r] == doc
    assert got["series"][1] == "dune chronicles" and got["plain"][1] == "dune"
    assert got["full"][5] == "cien anos de soledad"
    assert texts.omnibus.tolist() == [False, False, False, False, True]
    assert all(v == [] for v in texts.at(np.array([], dtype=np.int64)).values())


def test_synthetic_catalogue_has_power_law_popularity_series_and_tastes():
    ds = make_dataset(SyntheticConfig(3000, seed=1))
    c, r = ds.catalogue, ds.ratings
    assert len(c) == 3000 and r.user_ids.dtype == np.int32 and r.book_ids.dtype == np.int32
    reads = np.sort(np.bincount(r.book_ids, minlength=len(c) + 1)[1:])[::-1]
    assert reads[:30].sum() > reads[-1500:].sum()  # a few books are read by many
    in_series = [b for b in c.book_ids if c.series_position(int(b))]
    assert 0.1 * len(c) < len(in_series) < 0.5 * len(c)
    # Readers stay mostly within their tastes: a reader's books share genres far more
    # often than books picked at random.
    genre = np.char.partition(c.shelves.astype(str), "|")[:, 0]
    order = np.argsort(r.user_ids, kind="stable")
    g = genre[r.book_ids[order] - 1]
    same_reader = r.user_ids[order][1:] == r.user_ids[order][:-1]
    together = (g[1:] == g[:-1])[same_reader].mean()
    shuffled = np.random.default_rng(0).permutation(g)
    assert together > 2 * (shuffled[1:] == shuffled[:-1]).mean()


def test_incoming_links_are_built_once_per_bundle_file(real_data_dir, isolated_home):
    from bookrec_tui.core.recommender import Recommender

    rec = Recommender.load(data_dir=real_data_dir)
    first = rec.similar(1, 10)  # "more like this" needs the links into each book
    assert len(list((isolated_home / "cache").glob("links-in-*"))) == 1
    again = Recommender.load(data_dir=real_data_dir)
    assert again.similar(1, 10) == first
    assert _mapped(again._links_in[0]) and not _mapped(rec._links_in[0])


def test_a_large_packed_catalogue_is_mapped_and_wins_over_a_data_dir(
    tmp_path, tiny_data, monkeypatch
):
    from bookrec_tui.store import packed_catalogue as packed

    catalogue, *_ = make_catalogue(SyntheticConfig(3000, seed=5))
    monkeypatch.setattr(packed, "MAPPED_FROM_BOOKS", 1000)
    path = packed.pack_catalogue(catalogue, tmp_path / packed.PACKED_NAME, source="synthetic")
    again = packed.load_packed_catalogue(path)
    assert _mapped(again.titles) and list(again.titles) == list(catalogue.titles)
    assert np.array_equal(again.genre_counts, catalogue.genre_counts)
    # Its model fits only these books: a goodbooks data directory does not replace them.
    runtime = packed.load_runtime_catalogue(tmp_path / "bookrec-bundle.npz", tiny_data)
    assert len(runtime) == 3000
    packed.pack_catalogue(catalogue, path)  # the same books said to be goodbooks': data wins
    assert len(packed.load_runtime_catalogue(tmp_path / "bookrec-bundle.npz", tiny_data)) == 20
