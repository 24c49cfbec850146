"""A 2-D map of all the books: where the model puts each one relative to the others.

Which vectors: the model's learned book vectors when it has them (the embedding model's
unit-length ranking vectors, ``Recommender.book_vectors()``), else its book-to-book links
(the link model's ranking embeddings stay at zero, and the rating head's embeddings encode
star offsets, not what is read together: a series scatters across them). Either way the map
embeds a sparse graph of the books: each book's :data:`NEIGHBOURS` nearest books by the
cosine of the learned vectors (found by blocks of products, or an inverted file past 20,000
books: never an n × n matrix) joined by the links (see :data:`LINK_SHARE`), or the links
alone. The leading eigenvectors of the graph's
symmetric normalised adjacency (a spectral embedding, numpy and scipy) then go down to two
dimensions by PCA (numpy) or t-SNE (openTSNE, the ``viz`` extra). Books the model puts
together land close together. PCA of the learned vectors themselves is no map: a few
directions of 1,024 carry almost nothing of genre or series (docs/benchmarks.md).

Projections are cached per model bundle (keyed by a hash of its link tables, and of its
learned vectors when it has them) in the cache directory, so only the first map of a bundle
pays for t-SNE; the shipped model carries its projections beside it (``bookrec-maps.npz``,
written by ``bookrec-tui data pack-maps``), so even the first map of a fresh install reads
them instead of computing them (under a second on 2 cores, against minutes for a first
t-SNE). A shipped file whose key or recipe version does not match the bundle is ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from bookrec_tui.core.bundle import Bundle
from bookrec_tui.errors import BookrecError
from bookrec_tui.fsutil import atomic_writer
from bookrec_tui.paths import cache_dir

METHODS = ("pca", "tsne")
SPECTRAL_DIM = 64
MAP_VERSION = 2  # bump when the projection recipe changes: old caches are then ignored
TSNE_ITERATIONS = (250, 500)  # early exaggeration, then the normal phase
VIZ_HINT = (
    "pip install openTSNE matplotlib (the viz extra: pip install '.[viz]' in the bookrec-tui "
    "source folder)"
)

TSNE_MISSING = f"t-SNE needs the viz extra: {VIZ_HINT}. The PCA map needs nothing more."


def tsne_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openTSNE") is not None


Progress = Callable[[int, int | None, str], None]  # (done, total or None: unknown, info)


class MapError(BookrecError):
    pass


# ---------------------------------------------------------------------------- vectors
#: Nearest books per book in the graph of the learned vectors, and the links' share of that
#: graph (0: the vectors' neighbours alone; 1: those and the links, each scaled to the same
#: mean degree). Chosen on goodbooks-10k (docs/benchmarks.md, "Book map"): with the links,
#: a book's 10 nearest books on the PCA map share its strongest shelf 0.28 of the time (the
#: links alone 0.23, the neighbours alone 0.33 but regions no longer named by genres) and
#: 0.57 on t-SNE (the neighbours alone 0.54, the links alone 0.58).
NEIGHBOURS = 10
LINK_SHARE = 1.0


def link_graph(bundle: Bundle):
    """The model's links as a symmetric sparse matrix over catalogue rows (weights >= 0)."""
    ids = bundle.nbr_ids[1:].astype(np.int64) - 1  # bundle rows are 1-based, 0 = padding
    return _symmetric(ids, bundle.nbr_w[1:])


def neighbour_graph(vectors: np.ndarray, k: int = NEIGHBOURS):
    """Each book joined to its ``k`` nearest books by cosine (weight: the cosine, floored at
    0), made symmetric: a sparse matrix over catalogue rows."""
    from bookrec_tui.core.vector_index import cosine_neighbours

    ids, cosines = cosine_neighbours(vectors, k)
    return _symmetric(ids, cosines)


def _symmetric(ids: np.ndarray, weights: np.ndarray):
    """(A + Aᵀ) / 2 for the sparse A with A[i, ids[i, j]] = max(weights[i, j], 0); ids < 0
    are no edge."""
    from scipy import sparse

    n = ids.shape[0]
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
    src = np.repeat(np.arange(n), ids.shape[1])
    ok = ids.ravel() >= 0
    a = sparse.csr_matrix((w.ravel()[ok], (src[ok], ids.ravel()[ok])), shape=(n, n))
    return ((a + a.T) * 0.5).tocsr()


def book_graph(bundle: Bundle):
    """The graph the map embeds: the learned vectors' neighbours (with the links'
    :data:`LINK_SHARE`) when the bundle has learned vectors, else its links."""
    links = link_graph(bundle)
    vectors = bundle.learned_vectors()
    if vectors is None:
        return links
    graph = neighbour_graph(vectors)
    if LINK_SHARE and links.nnz:
        graph = graph / _mean_degree(graph) + LINK_SHARE * links / _mean_degree(links)
    return graph.tocsr()


def _mean_degree(graph) -> float:
    return max(float(graph.sum()) / graph.shape[0], 1e-12)


def map_vectors(bundle: Bundle, dim: int = SPECTRAL_DIM) -> np.ndarray:
    """Spectral embedding of :func:`book_graph`: what PCA or t-SNE draws."""
    return spectral_vectors(book_graph(bundle), dim)


def spectral_vectors(a, dim: int = SPECTRAL_DIM) -> np.ndarray:
    """Spectral embedding of the symmetric sparse graph ``a``, rows scaled to unit length:
    (n_books, dim), deterministic. Unit rows (cosine geometry) matter for PCA: unscaled, a
    few tiny, nearly separate groups (art books, Arabic novels) take both axes and squash the
    rest into a dot."""
    from scipy import sparse
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = a.shape[0]
    dim = min(dim, n - 2)
    if dim < 2:
        raise MapError("A map needs at least 4 books.")
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
    norm = sparse.diags(inv_sqrt) @ a @ sparse.diags(inv_sqrt)
    # The trivial eigenvector (eigenvalue 1: the square root of the degrees) is projected out
    # explicitly. Dropping "the first" eigenvector instead is wrong when the graph has several
    # components: eigenvalue 1 is then repeated, which vector of that plane comes first is
    # arbitrary, and the components can collapse onto one point.
    trivial = np.sqrt(np.maximum(deg, 0.0))
    trivial /= max(float(np.linalg.norm(trivial)), 1e-12)

    def off_trivial(x: np.ndarray) -> np.ndarray:
        return x - np.multiply.outer(trivial, trivial @ x)

    def deflated(x: np.ndarray) -> np.ndarray:
        return off_trivial(norm @ off_trivial(x))

    op = LinearOperator((n, n), matvec=deflated, matmat=deflated, dtype=np.float64)
    # A fixed start vector makes the solve deterministic (eigsh otherwise starts at random).
    v0 = np.random.default_rng(0).random(n)
    values, vectors = eigsh(op, k=dim, which="LA", v0=v0)
    order = np.argsort(-values)
    vecs = vectors[:, order] * inv_sqrt[:, None] * np.sqrt(np.maximum(values[order], 0.0))
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    signs = np.sign(xy[np.abs(xy).argmax(axis=0), [0, 1]])  # a stable orientation
    return xy * np.where(signs == 0, 1.0, signs)


def tsne_2d(vectors: np.ndarray, progress: Progress | None = None, seed: int = 0) -> np.ndarray:
    """openTSNE (FFT-accelerated) on cosine distances between ``vectors`` (unit rows, as
    :func:`map_vectors` gives), started from their PCA layout. Its progress callback
    drives ``progress``."""
    try:
        from openTSNE import TSNEEmbedding, affinity, initialization
    except ImportError as exc:
        raise MapError(TSNE_MISSING) from exc
    total = 1 + sum(TSNE_ITERATIONS)
    if progress:
        progress(0, total, "nearest neighbours")
    aff = affinity.PerplexityBasedNN(
        vectors, perplexity=30, metric="cosine", n_jobs=-1, random_state=seed, verbose=False
    )
    done = [1]

    def report(iteration, error, embedding):  # openTSNE callback; False = keep going
        done[0] += 25
        if progress:
            progress(min(done[0], total), total, f"KL {error:.2f}")
        return False

    emb = TSNEEmbedding(
        initialization.rescale(pca_2d(vectors)),
        aff,
        n_jobs=-1,
        random_state=seed,
        callbacks=report,
        callbacks_every_iters=25,
    )
    # openTSNE's automatic learning rate is books / exaggeration; floored at 200 (as the
    # t-SNE literature does), which changes nothing from 2,400 books up, and keeps a small
    # catalogue (56 books: 4.7) from collapsing into one point during the exaggeration.
    n = len(vectors)
    emb = emb.optimize(
        TSNE_ITERATIONS[0], exaggeration=12, momentum=0.5, learning_rate=max(n / 12, 200.0)
    )
    emb = emb.optimize(TSNE_ITERATIONS[1], momentum=0.8, learning_rate=max(n, 200.0))
    if progress:
        progress(total, total, "done")
    return np.asarray(emb, dtype=np.float64)


def _scaled(xy: np.ndarray) -> np.ndarray:
    """Centre on the median and scale so 99.5 % of books fit in [-1, 1]; outliers clip."""
    centred = xy - np.median(xy, axis=0)
    scale = np.percentile(np.abs(centred), 99.5, axis=0)
    return np.clip(centred / np.maximum(scale, 1e-12), -1.0, 1.0).astype(np.float32)


def bundle_key(bundle: Bundle) -> str:
    digest = hashlib.sha256()
    vectors = bundle.learned_vectors()
    arrays = (bundle.nbr_ids, bundle.nbr_w) + (() if vectors is None else (vectors,))
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


SHIPPED_MAPS = "bookrec-maps.npz"


def shipped_projection(bundle: Bundle, method: str) -> np.ndarray | None:
    """The projection packed beside the shipped model, when it belongs to ``bundle``."""
    from bookrec_tui.core.recommender import shipped_bundle_path

    path = shipped_bundle_path().parent / SHIPPED_MAPS
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != MAP_VERSION or str(z["key"]) != bundle_key(bundle):
                return None
            xy = z[method] if method in z.files else None
    except (OSError, ValueError, KeyError):
        return None
    return xy if xy is not None and xy.shape == (bundle.nbr_ids.shape[0] - 1, 2) else None


def pack_projections(bundle: Bundle, out_dir, progress: Progress | None = None) -> dict:
    """Compute every available projection of ``bundle`` and write them beside it."""
    from pathlib import Path

    methods = [m for m in METHODS if m != "tsne" or tsne_available()]
    arrays = {m: projection(bundle, m, progress) for m in methods}
    path = Path(out_dir) / SHIPPED_MAPS
    with atomic_writer(path) as handle:
        np.savez_compressed(
            handle, version=np.array(MAP_VERSION), key=np.array(bundle_key(bundle)), **arrays
        )
    return {"path": path, "methods": methods}


def projection(bundle: Bundle, method: str = "pca", progress: Progress | None = None):
    """2-D positions of every book (catalogue row order): shipped, cached, or computed."""
    if method not in METHODS:
        raise MapError(f"Unknown map method {method!r}: use one of {', '.join(METHODS)}.")
    shipped = shipped_projection(bundle, method)
    if shipped is not None:
        return shipped
    path = cache_dir() / f"map-v{MAP_VERSION}-{bundle_key(bundle)}-{method}.npy"
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (bundle.nbr_ids.shape[0] - 1, 2):
                return cached
        except (OSError, ValueError):
            pass  # a damaged cache is recomputed
    if progress:  # seconds (10,000 learned vectors' nearest books: ~10 s), no steps to count
        progress(0, None, "graph of the books")
    vectors = map_vectors(bundle)
    xy = _scaled(pca_2d(vectors) if method == "pca" else tsne_2d(vectors, progress))
    try:
        with atomic_writer(path) as handle:
            np.save(handle, xy, allow_pickle=False)
    except OSError:
        pass  # no writable cache: the map still works, just not faster next time
    return xy
