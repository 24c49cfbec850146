"""Exact against approximate top-k over book vectors shaped like learned embeddings.

    python benchmarks/bench_vector_index.py [--books 1000000] [--dim 64] [--readers 300]
                                            [--probes 8,16,32,48,64,96]

On a synthetic catalogue (bookrec_tui/store/synthetic.py) with structured book vectors
(``synthetic.book_vectors``: genre + author + noise, unit length; bias from popularity),
readers are the generator's synthetic readers, each folded in as the star-weighted sum of
the vectors of the books they rated (5 to 50 of them), as in the embedding model. Per
reader it times and compares, against exact float32 scoring of every book:

* exact float32: ``vectors @ q + bias`` over all books, then ``np.argpartition``;
* the same with the vectors stored as float16, or as int8 with a per-row scale, converted
  to float32 in chunks (numpy has no fast float16/int8 product): the storage question;
* the inverted file of bookrec_tui/core/vector_index.py at several ``n_probe``.

Quality is recall@k: the share of the exact top k (k = 20 and the 1,000 candidates the
recommender asks for) that the method also returns in its top k. Times are per reader, in
milliseconds, process CPU time and wall time. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
from stats import percentiles, run_header  # benchmarks/stats.py (beside this script)

from bookrec_tui.core.vector_index import IVFIndex
from bookrec_tui.store.synthetic import SyntheticConfig, book_vectors, make_dataset

KS = (20, 1000)
CHUNK = 65_536


def readers(ds, n: int, seed: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    r = ds.ratings
    order = np.argsort(r.user_ids, kind="stable")
    _, starts, counts = np.unique(r.user_ids[order], return_index=True, return_counts=True)
    ok = np.flatnonzero(counts >= 5)
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(ok, min(n, len(ok)), replace=False):
        rows = order[starts[i] : starts[i] + min(counts[i], 50)]
        out.append((r.book_ids[rows].astype(np.int64) - 1, r.stars[rows].astype(np.float32)))
    return out


def top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-scores, k - 1)[:k]


def chunked(table: np.ndarray, scale: np.ndarray | None, q: np.ndarray, bias) -> np.ndarray:
    """Scores from a low-precision table: float32 products, chunk by chunk."""
    out = np.empty(len(table), np.float32)
    for lo in range(0, len(table), CHUNK):
        part = table[lo : lo + CHUNK].astype(np.float32) @ q
        out[lo : lo + CHUNK] = part if scale is None else part * scale[lo : lo + CHUNK]
    return out + bias


def faiss_indexes(vectors, bias, queries, truth, probes: str) -> dict:
    """The same inverted file in faiss (inner product; the bias as one more dimension),
    with full float32 vectors and with 8-bit scalar-quantised ones, one thread."""
    import faiss

    faiss.omp_set_num_threads(1)
    x = np.hstack([vectors, bias[:, None]]).astype(np.float32)
    n_lists = max(1, int(2 * np.sqrt(len(x))))
    out: dict = {"faiss_version": faiss.__version__}
    for name, make in (
        ("flat", lambda q: faiss.IndexIVFFlat(q, x.shape[1], n_lists, faiss.METRIC_INNER_PRODUCT)),
        (
            "sq8",
            lambda q: faiss.IndexIVFScalarQuantizer(
                q, x.shape[1], n_lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            ),
        ),
    ):
        quantiser = faiss.IndexFlatIP(x.shape[1])  # clusters probed by inner product
        index = make(quantiser)
        sample = x[np.random.default_rng(0).choice(len(x), min(100_000, len(x)), replace=False)]
        _, c, w = timed(lambda index=index, sample=sample: (index.train(sample), index.add(x)))
        out[f"faiss_{name}_build_s"] = {"cpu": round(c, 1), "wall": round(w, 1)}
        for n_probe in (int(p) for p in probes.split(",")):
            index.nprobe = n_probe
            cpu, wall, shares = [], [], {k: [] for k in KS}
            for q, want in zip(queries, truth, strict=True):
                qq = np.append(q, np.float32(1.0))[None, :].astype(np.float32)
                (_, ids), c, w = timed(lambda qq=qq, index=index: index.search(qq, max(KS)))
                cpu.append(c)
                wall.append(w)
                for k in KS:
                    shares[k].append(len(want[k] & set(ids[0][:k].tolist())) / k)
            out[f"faiss_{name}_probe_{n_probe}"] = {
                "cpu_ms": percentiles(cpu),
                "wall_ms": percentiles(wall),
                **{f"recall@{k}": round(float(np.mean(v)), 4) for k, v in shares.items()},
            }
    return out


def timed(call):
    t, c = time.perf_counter(), time.process_time()
    result = call()
    return result, time.process_time() - c, time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--probes", default="8,16,32,48,64,96")
    parser.add_argument("--storage", action="store_true", help="also float16/int8 exact scans")
    parser.add_argument(
        "--faiss", action="store_true", help="also faiss IVF (flat and 8-bit), if installed"
    )
    parser.add_argument("--skip-numpy-ivf", action="store_true")
    args = parser.parse_args()
    print(
        json.dumps(
            {
                **run_header(),
                "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            }
        ),
        flush=True,
    )
    t = time.perf_counter()
    ds = make_dataset(SyntheticConfig(args.books))
    vectors, bias = book_vectors(ds.catalogue, args.dim)
    people = readers(ds, args.readers)
    del ds
    result: dict = {"books": args.books, "dim": args.dim, "readers": len(people)}
    result["generate_s"] = round(time.perf_counter() - t, 1)
    queries = [(v * s[:, None]).sum(axis=0) for v, s in ((vectors[r], s) for r, s in people)]

    exact, cpu, wall = [], [], []
    for q in queries:
        got, c, w = timed(lambda q=q: top(vectors @ q + bias, max(KS)))
        exact.append(got)
        cpu.append(c)
        wall.append(w)
    truth = [
        {k: set(e[np.argsort(-(vectors[e] @ q + bias[e]))][:k].tolist()) for k in KS}
        for e, q in zip(exact, queries, strict=True)
    ]
    result["exact_float32"] = {"cpu_ms": percentiles(cpu), "wall_ms": percentiles(wall)}

    def recall(found: list[np.ndarray], scores_of) -> dict:
        out = {}
        for k in KS:
            shares = []
            for f, q, want in zip(found, queries, truth, strict=True):
                s = scores_of(f, q)
                best = f[np.argsort(-s)][:k]
                shares.append(len(want[k] & set(best.tolist())) / k)
            out[f"recall@{k}"] = round(float(np.mean(shares)), 4)
        return out

    def exact_scores(rows, q):
        return vectors[rows] @ q + bias[rows]

    if args.storage:
        half = vectors.astype(np.float16)
        scale = np.abs(vectors).max(axis=1) / 127.0
        int8 = np.round(vectors / scale[:, None]).astype(np.int8)
        for name, table, sc in (("float16", half, None), ("int8", int8, scale)):
            found, cpu, wall = [], [], []
            for q in queries:
                got, c, w = timed(lambda q=q, t=table, s=sc: top(chunked(t, s, q, bias), max(KS)))
                found.append(got)
                cpu.append(c)
                wall.append(w)
            # Ranked by the low-precision scores, as that method would rank them.
            low = {
                "float16": lambda rows, q: half[rows].astype(np.float32) @ q + bias[rows],
                "int8": lambda rows, q: (
                    (int8[rows].astype(np.float32) @ q) * scale[rows] + bias[rows]
                ),
            }[name]
            result[f"exact_{name}"] = {
                "cpu_ms": percentiles(cpu),
                "wall_ms": percentiles(wall),
                "table_mb": round(table.nbytes / 2**20, 1),
                **recall(found, low),
            }
        del half, int8

    if not args.skip_numpy_ivf:
        index, c, w = timed(lambda: IVFIndex.build(vectors, bias))
        result["ivf_build_s"] = {
            "cpu": round(c, 1),
            "wall": round(w, 1),
            "lists": len(index.centres),
        }
        sizes = np.diff(index.starts)
        result["ivf_list_sizes"] = {"median": int(np.median(sizes)), "max": int(sizes.max())}
        for n_probe in (int(p) for p in args.probes.split(",")):
            found, cpu, wall = [], [], []
            for q in queries:
                got, c, w = timed(lambda q=q, n_probe=n_probe: index.top(q, max(KS), n_probe))
                found.append(got)
                cpu.append(c)
                wall.append(w)
            result[f"ivf_probe_{n_probe}"] = {
                "cpu_ms": percentiles(cpu),
                "wall_ms": percentiles(wall),
                "scanned_share": round(
                    float(np.sort(sizes)[::-1][:n_probe].sum() / len(vectors)), 4
                ),
                **recall(found, exact_scores),
            }
    if args.faiss:
        result.update(faiss_indexes(vectors, bias, queries, truth, args.probes))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
