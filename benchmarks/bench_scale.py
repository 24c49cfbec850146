"""Scale benchmarks on synthetic catalogues (bookrec_tui/store/synthetic.py): 10k, 100k, 1M books.

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--train-readers N]
                                     [--repeat N] [--app] [--keep DIR]
                                     [--embeddings [--only-embeddings] [--dim D] [--batch B]
                                      [--strategy none|mirrored] [--cpus N] [--max-steps S]]

Each size runs in fresh processes, so memory is freed between sizes and every figure is
one process's own:

* build: generate the catalogue and readers, train the model that is on main (on at most
  --train-readers readers, all books; seconds per epoch are then extrapolated linearly in
  readers and marked so), or say why it cannot; write the bundle and the catalogue.
  Where training cannot run, the bundle gets random weights in the shapes the shipped
  bundle has per book, its vectors SHAPED_DIM (64) wide, so the runtime figures still
  describe a bundle of that size.
* serve (twice): open the bundle and catalogue as the app does, then time recommend
  (readers' real synthetic profiles, 5-50 ratings; and a reader with none), similar and
  search (typo'd titles).
  The first run builds the search index cache; the second is the warm start that counts.
* app (--app): a headless Textual start from process launch until the recommender is
  loaded and the first question is on screen.
* embeddings (--embeddings): the book-embedding model (training/embeddings.py) trained by
  training/distribute.py, fed by the tf.data pipeline from sparse reader rows, under
  --strategy (mirrored over --cpus logical CPUs). One process writes the readers' rows
  (CSR), a fresh one trains, so its peak RSS is training's own: the rows, the model, the
  optimizer and the step's (batch, books) tensors. With --max-steps an epoch is cut short
  and its seconds extrapolated from the steady-state step time (marked so). Links, the
  link blend and the rating head (single-device, numpy/Keras) are not in this figure.
* links (--links; skips build and serve): the readers' rows as above, then in a
  fresh process the book-to-book links (training/links.py link_table) on all readers, and
  in another one epoch of the rating head (training/rating_head.py) on --head-readers
  readers, extrapolated to all from its median step.
* full (--full; skips the rest): the whole `train --model embeddings` in one process (see
  train_full), its peak RSS and each phase's (sampled every 0.25 s), wall and CPU time;
  --epochs, --head-epochs and --max-steps cut it short for a loaded machine.

Prints one JSON object per line: first the machine, then one per size. Milliseconds unless
the name says otherwise; RSS is the process's peak resident memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stats import percentiles  # benchmarks/stats.py (scripts run from this folder)

HERE = Path(__file__).resolve().parent
CLOSED_FORM_LIMIT_BYTES = 4e9  # beyond this an n x n float64 solve is not attempted here


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return round(int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _rss_split_mb() -> dict:
    """Resident memory now, split into private (anonymous) pages and pages of mapped files
    (the bundle, catalogue and index: clean, shared with the page cache, reclaimable)."""
    fields = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"anon_mb": fields.get("RssAnon"), "file_mb": fields.get("RssFile")}


def model_needs_closed_form() -> bool:
    """Whether the model on main solves a dense books x books system while training."""
    import inspect

    import bookrec_tui.training.model as model

    return "gram_matrix" in inspect.getsource(model)


#: Width of the vectors of an untrained bundle (``shaped_bundle``): the link bundle's, which
#: the figures in docs/scale.md were measured with; the shipped embedding bundle's is 1,024.
SHAPED_DIM = 64


def shaped_bundle(catalogue, seed: int = 0, structured: bool = False, dim: int = SHAPED_DIM):
    """A bundle of ``catalogue``'s size with random weights, in the shapes the shipped
    bundle has per book (per-book tables scaled to n rows, vectors ``dim`` wide, everything
    else copied).
    ``structured``: the ranking vectors (and the fold-in's input vectors) are
    ``synthetic.book_vectors`` instead, clustered by genre and author like learned
    embeddings, so a vector index meets the structure it would meet in a trained model."""
    import dataclasses

    from bookrec_tui.core.bundle import ARRAYS, SHAPES, Bundle
    from bookrec_tui.core.recommender import shipped_bundle_path

    rng = np.random.default_rng(seed)
    ref = Bundle.load(shipped_bundle_path())
    n = len(catalogue)
    sizes = {"N": n, "N+1": n + 1, "d": dim}
    arrays = {}
    for name in ARRAYS:
        a = np.asarray(getattr(ref, name))
        if name == "book_ids":
            arrays[name] = np.asarray(catalogue.book_ids, dtype=a.dtype)
            continue
        shape = tuple(sizes.get(sym, size) for sym, size in zip(SHAPES[name], a.shape, strict=True))
        if np.issubdtype(a.dtype, np.integer):
            arrays[name] = rng.integers(0, n + 1, shape).astype(a.dtype)
        elif a.shape == shape:
            arrays[name] = a.copy()  # not per book: keep the trained values
        else:
            scale = float(np.std(a)) or 0.05
            arrays[name] = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(a.dtype)
    if structured:
        from bookrec_tui.store.synthetic import book_vectors

        vectors, bias = book_vectors(catalogue, arrays["out_emb"].shape[1], seed)
        arrays["in_emb"][1:] = arrays["out_emb"][1:] = vectors
        arrays["out_bias"][1:] = bias
    rest = {
        f.name: getattr(ref, f.name) for f in dataclasses.fields(Bundle) if f.name not in ARRAYS
    }
    rest["meta"] = {"books_sha256": catalogue.sha256, "random_weights": True}
    return Bundle(**arrays, **rest)


def build(n: int, out: Path, train_readers: int, vectors: str = "random") -> dict:
    from bookrec_tui.store.synthetic import SyntheticConfig, make_dataset

    t = time.perf_counter()
    ds = make_dataset(SyntheticConfig(n))
    result: dict = {
        "books": n,
        "readers": ds.ratings.n_users,
        "ratings": len(ds.ratings),
        "generate_s": round(time.perf_counter() - t, 1),
        "generate_peak_rss_mb": _rss_mb(),
        "closed_form_gb": round(n * n * 8 / 1e9, 2),
    }
    bundle = None
    if model_needs_closed_form() and n * n * 8 > CLOSED_FORM_LIMIT_BYTES:
        result["train"] = {
            "skipped": f"the model on main solves a dense {n:,} x {n:,} closed form "
            f"({n * n * 8 / 1e9:,.0f} GB in float64)"
        }
    else:
        bundle = _train(ds, train_readers, result)
    if bundle is None:
        bundle = shaped_bundle(ds.catalogue, structured=vectors == "structured")
        result["bundle_weights"] = f"{vectors}, in the shipped bundle's per-book shapes"
    else:
        result["bundle_weights"] = "trained"
    from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
    from bookrec_tui.store.packed_catalogue import PACKED_NAME, pack_catalogue

    out.mkdir(parents=True, exist_ok=True)
    bundle.save(out / BUNDLE_NAME)
    pack_catalogue(ds.catalogue, out / PACKED_NAME, source="synthetic")
    from bookrec_tui.chat.opening import OPENING_NAME, write_opening
    from bookrec_tui.core.recommender import Recommender

    # As `train` does: the first question, shown while the app loads the model.
    write_opening(Recommender(Bundle.load(out / BUNDLE_NAME), ds.catalogue), out / OPENING_NAME)
    result["bundle_mb"] = round((out / BUNDLE_NAME).stat().st_size / 2**20, 1)
    result["catalogue_mb"] = round((out / PACKED_NAME).stat().st_size / 2**20, 1)
    _save_profiles(ds, out / "profiles.json")
    result["build_peak_rss_mb"] = _rss_mb()
    return result


def _train(ds, train_readers: int, result: dict):
    from bookrec_tui.core.catalogue import Dataset
    from bookrec_tui.training.model import TrainConfig
    from bookrec_tui.training.run import train_bundle

    users = np.unique(ds.ratings.user_ids)
    share = 1.0
    if train_readers and train_readers < len(users):
        chosen = np.random.default_rng(1).choice(users, train_readers, replace=False)
        ratings = ds.ratings.subset(np.isin(ds.ratings.user_ids, chosen))
        ds = Dataset(ds.catalogue, ratings, ds.ratings_path)
        share = train_readers / len(users)
    cfg = TrainConfig()
    cfg.epochs = 1
    if hasattr(cfg, "rating_epochs"):
        cfg.rating_epochs = 0
    if hasattr(cfg, "validation_readers"):
        cfg.validation_readers = 0
    rss_before = _current_rss_mb()
    t = time.perf_counter()
    try:
        bundle, _model = train_bundle(ds, cfg)
    except MemoryError as exc:
        result["train"] = {"failed": f"MemoryError: {exc}"}
        return None
    seconds = time.perf_counter() - t
    result["train"] = {
        "readers_used": int(len(np.unique(ds.ratings.user_ids))),
        "ratings_used": len(ds.ratings),
        "epochs": cfg.epochs,
        "seconds_total": round(seconds, 1),
        "seconds_per_epoch_measured": round(seconds / cfg.epochs, 1),
        "seconds_per_epoch_all_readers": round(seconds / cfg.epochs / share, 1),
        "extrapolated": share < 1.0,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
        "note": "one joint epoch, no rating-head or validation epochs; total includes "
        "building the model's link table",
    }
    return bundle


def _save_profiles(ds, path: Path, n: int = 300) -> None:
    """Up to ``n`` synthetic readers' ratings (5 to 50 of them) for the serve stage."""
    r = ds.ratings
    order = np.argsort(r.user_ids, kind="stable")
    users, starts, counts = np.unique(r.user_ids[order], return_index=True, return_counts=True)
    ok = np.flatnonzero(counts >= 5)
    rng = np.random.default_rng(2)
    profiles = []
    for i in rng.choice(ok, min(n, len(ok)), replace=False):
        rows = order[starts[i] : starts[i] + min(counts[i], 50)]
        profiles.append(
            {int(b): int(s) for b, s in zip(r.book_ids[rows], r.stars[rows], strict=True)}
        )
    path.write_text(json.dumps(profiles))


def _timed(call, items) -> dict:
    """Wall-clock and process CPU time per call. On a shared machine the CPU time is the
    closer estimate of what the call costs on an idle core (it leaves out waiting for a
    core; it still carries cache and memory-bandwidth contention)."""
    wall, cpu = [], []
    for item in items:
        t, c = time.perf_counter(), time.process_time()
        call(item)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return {"wall": percentiles(wall), "cpu": percentiles(cpu)}


def _against_exact(rec, profiles: list[dict]) -> dict | None:
    """Where recommend scores candidates from the vector index (large catalogues): how
    its top 20 compares with scoring every book, on these readers."""
    if rec.vector_index is None:
        return None
    from bookrec_tui.core.recommender import Recommender

    exact = Recommender(rec.bundle, rec.catalogue)
    exact.__dict__["vector_index"] = None  # every book scored
    shares, same = [], 0
    for p in profiles:
        fast = [r.book_id for r in rec.recommend(p, n=20)]
        full = [r.book_id for r in exact.recommend(p, n=20)]
        shares.append(len(set(fast) & set(full)) / max(len(full), 1))
        same += fast == full
    return {
        "readers": len(profiles),
        "top20_overlap_mean": round(float(np.mean(shares)), 4),
        "top20_overlap_min": round(float(np.min(shares)), 4),
        "identical_lists": same,
    }


def _similar_against_exact(rec, book_ids) -> dict | None:
    """Where "more like this" scores candidates (large catalogues): how its top 10 compares
    with scoring every book, for these seeds, and how often it scored every book itself
    because the candidates could not vouch for the list."""
    if rec.similar_index is None:
        return None
    from bookrec_tui.core.recommender import Recommender

    exact = Recommender(rec.bundle, rec.catalogue)
    exact.__dict__["similar_index"] = None  # every book scored
    fell_back = _count_full_similar_passes(rec)
    shares, same = [], 0
    for b in book_ids:
        fast = [s.book_id for s in rec.similar(int(b), 10)]
        full = [s.book_id for s in exact.similar(int(b), 10)]
        shares.append(len(set(fast) & set(full)) / max(len(full), 1))
        same += fast == full
    del rec.similar_scores  # the counter
    return {
        "seeds": len(book_ids),
        "top10_overlap_mean": round(float(np.mean(shares)), 4),
        "top10_overlap_min": round(float(np.min(shares)), 4),
        "identical_lists": same,
        "scored_every_book": len(fell_back),
    }


def _similar_bestsellers(rec, seeds: int = 20, extra=(10_000, 50_000)) -> dict | None:
    """ "More like this" of the ``seeds`` most-rated books, each given ``extra`` more incoming
    links in memory (from random books, with weights drawn from the bundle's incoming
    links), as a bestseller of a trained bundle has tens of thousands: CPU time per call,
    and the top 10 against scoring every book (with the same links)."""
    if rec.similar_index is None:
        return None
    from bookrec_tui.core.recommender import Recommender

    c = rec.catalogue
    rows = np.argsort(-c.ratings_counts, kind="stable")[:seeds]
    weights = rec._links_in[2]
    rng = np.random.default_rng(5)
    added: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    incoming = Recommender._incoming

    def more_incoming(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        source, weight = incoming(self, row)
        if row not in added:
            return source, weight
        return np.concatenate([source, added[row][0]]), np.concatenate([weight, added[row][1]])

    exact = Recommender(rec.bundle, c)
    exact.__dict__["similar_index"] = None  # every book scored
    out = {}
    Recommender._incoming = more_incoming
    try:
        for size in extra:
            for row in rows:
                others = rng.choice(len(c) - 1, size, replace=False)
                others = others + (others >= row)  # never the seed itself
                added[int(row)] = (
                    others.astype(np.int32),
                    weights[rng.integers(0, len(weights), size)],
                )
            fell_back = _count_full_similar_passes(rec)
            result = _timed(lambda r: rec.similar(int(c.book_ids[r]), 10), rows)
            del rec.similar_scores  # the counter
            same = sum(
                [s.book_id for s in rec.similar(int(c.book_ids[r]), 10)]
                == [s.book_id for s in exact.similar(int(c.book_ids[r]), 10)]
                for r in rows
            )
            out[f"{size}_more_links"] = {
                **result,
                "identical_lists": same,
                "scored_every_book": len(fell_back),
            }
    finally:
        Recommender._incoming = incoming
    out["seeds"] = len(rows)
    out["every_book_cpu"] = _timed(lambda r: exact.similar(int(c.book_ids[r]), 10), rows)["cpu"]
    return out


def _count_full_similar_passes(rec) -> list[int]:
    """A list that grows by one each time ``rec`` scores every book for "more like this"."""
    passes: list[int] = []
    scores = rec.similar_scores

    def counted(row, rows=None, *link):
        if rows is None:
            passes.append(row)
        return scores(row, rows, *link)

    rec.similar_scores = counted
    return passes


def _typo(text: str, rng) -> str:
    words = text.lower().split(" (")[0]
    if len(words) > 4:
        i = int(rng.integers(1, len(words) - 1))
        words = words[:i] + words[i + 1 :]  # drop a letter
    return words


def serve(out: Path, repeat: int) -> dict:
    t = time.perf_counter()
    from bookrec_tui.core.recommender import Recommender

    import_s = time.perf_counter() - t
    t = time.perf_counter()
    rec = Recommender.load(model_dir=out)
    load_s = time.perf_counter() - t
    rss_loaded = _rss_split_mb()
    t = time.perf_counter()
    rec.search("warm up")
    index_s = time.perf_counter() - t
    result = {
        "import_s": round(import_s, 3),
        "load_s": round(load_s, 3),
        "rss_after_load": rss_loaded,
        "search_index_s": round(index_s, 3),
    }
    profiles = [
        {int(k): v for k, v in p.items()} for p in json.loads((out / "profiles.json").read_text())
    ]
    result["recommend"] = _timed(
        lambda p: rec.recommend(p, n=20), [profiles[i % len(profiles)] for i in range(repeat)]
    )
    result["recommend_no_ratings"] = _timed(lambda p: rec.recommend(p, n=20), [{}] * repeat)
    result["recommend_vs_exact"] = _against_exact(rec, profiles[:50])
    rng = np.random.default_rng(3)
    ids = rec.catalogue.book_ids
    t, c = time.perf_counter(), time.process_time()
    rec.similar(int(ids[0]), 10)  # the first builds or opens what "more like this" needs
    result["similar_first"] = {
        "wall": round((time.perf_counter() - t) * 1e3, 1),
        "cpu": round((time.process_time() - c) * 1e3, 1),
    }
    seeds = rng.choice(ids, repeat)
    fell_back = _count_full_similar_passes(rec) if rec.similar_index is not None else []
    result["similar"] = _timed(lambda b: rec.similar(int(b), 10), seeds)
    result["similar_scored_every_book"] = len(fell_back)
    rec.__dict__.pop("similar_scores", None)
    result["similar_vs_exact"] = _similar_against_exact(rec, seeds[:200])
    result["similar_bestsellers"] = _similar_bestsellers(rec)
    titles = [str(rec.catalogue.titles[i]) for i in rng.integers(0, len(ids), repeat)]
    queries = [_typo(title, rng) for title in titles]
    found = []
    result["search"] = _timed(lambda q: found.append(rec.search(q, 10)), queries)
    hits = sum(any(h.title == t for h in f) for f, t in zip(found, titles, strict=True))
    result["search_typo_title_in_top10"] = round(hits / len(queries), 3)
    result["rss_at_end"] = _rss_split_mb()
    result["peak_rss_mb"] = _rss_mb()
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    return result


APP_CHILD = r"""
import time, sys, asyncio, resource, tempfile, pathlib
t0 = float(sys.argv[1])
from bookrec_tui.tui.app import BookrecApp
app = BookrecApp(model_dir=sys.argv[2], profile_dir=pathlib.Path(tempfile.mkdtemp()))
async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        first_frame = time.time() - t0
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.session is None:  # say what the app said instead
            said = [str(w.render()) for w in app.query("#transcript > *")]
            sys.exit("no session; the app said: " + " | ".join(said))
        ready = time.time() - t0
        print(first_frame, ready, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
asyncio.run(main())
"""


def app_start(out: Path, runs: int = 3) -> dict:
    firsts, readies, rss = [], [], []
    for _ in range(runs):
        res = subprocess.run(
            [sys.executable, "-c", APP_CHILD, str(time.time()), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0:
            return {"failed": res.stderr[-500:]}
        first, ready, peak = (float(x) for x in res.stdout.split()[-3:])
        firsts.append(first)
        readies.append(ready)
        rss.append(peak)
    return {
        "first_frame": percentiles(firsts),
        "interactive": percentiles(readies),
        "peak_rss_mb": max(rss),
    }


def write_reader_rows(n: int, out: Path) -> dict:
    """The synthetic catalogue's readers as CSR rows, for the training stage."""
    from bookrec_tui.store.synthetic import SyntheticConfig, make_dataset
    from bookrec_tui.training.interactions import UserItems

    t = time.perf_counter()
    ds = make_dataset(SyntheticConfig(n))
    items = UserItems.build(ds.ratings, ds.catalogue)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "readers.npz", indptr=items.indptr, rows=items.rows, stars=items.stars)
    return {"readers": items.n_users, "ratings": len(items.rows), "generate_s": _since(t)}


class StepTimer:
    """Times a Keras run through its per-step progress callback: the run's seconds, each
    step's, and the steady-state step (the median after the first, which compiles)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ends: list[float] = []

    def progress(self, done, total, logs) -> None:
        self.ends.append(time.perf_counter())

    def stop(self) -> tuple[float, np.ndarray, float]:
        seconds = time.perf_counter() - self.started
        steps = np.diff([self.started, *self.ends])
        steady = float(np.median(steps[1:])) if len(steps) > 1 else float(steps[0])
        return seconds, steps, steady


def train_embeddings(n: int, out: Path, args) -> dict:
    """Train the embedding model on the rows :func:`write_reader_rows` wrote (see --embeddings)."""
    load_before = os.getloadavg()
    with np.load(out / "readers.npz") as z:
        from bookrec_tui.training.interactions import UserItems

        items = UserItems(z["indptr"], z["rows"], z["stars"], np.arange(len(z["indptr"]) - 1))
    rss_rows = _current_rss_mb()
    from bookrec_tui.training.distribute import (
        embedding_spec,
        fit,
        loss_form,
        make_strategy,
        split_cpu,
    )
    from bookrec_tui.training.embeddings import EmbeddingConfig

    if args.cpus > 1:
        split_cpu(args.cpus)
    strategy = make_strategy(args.strategy)
    cfg = EmbeddingConfig(dim=args.dim, batch_size=args.batch, epochs=1)
    readers = np.arange(items.n_users)
    if args.max_steps:
        readers = readers[np.random.default_rng(0).permutation(len(readers))]
        readers = readers[: args.max_steps * args.batch]
    timer = StepTimer()
    fitted = fit(
        items,
        readers,
        n,
        embedding_spec(cfg, args.loss),
        cfg.batch_size,
        1,
        strategy,
        cfg.seed,
        progress=timer.progress,
    )
    seconds, steps, steady = timer.stop()
    full_steps = -(-items.n_users // (fitted.per_replica_batch * fitted.replicas))
    return {
        "strategy": args.strategy,
        "loss": loss_form(args.loss, n, cfg.dim, fitted.per_replica_batch),
        "replicas": fitted.replicas,
        "dim": cfg.dim,
        "batch_readers": fitted.per_replica_batch * fitted.replicas,
        "matmul_dtype": cfg.matmul_dtype
        if loss_form(args.loss, n, cfg.dim, fitted.per_replica_batch) == "dense"
        else "float32",
        "readers_trained": len(readers),
        "steps": len(steps),
        "first_step_s": round(float(steps[0]), 2),
        "step_s_median": round(steady, 3),
        "seconds_measured": round(seconds, 1),
        "steps_per_epoch_all_readers": full_steps,
        "seconds_per_epoch_all_readers": round(
            seconds if len(readers) == items.n_users else steps[0] + steady * (full_steps - 1), 1
        ),
        "extrapolated": len(readers) < items.n_users,
        "final_loss": round(fitted.history[-1]["loss"], 4),
        "rss_rows_loaded_mb": rss_rows,
        "peak_rss_mb": _rss_mb(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def _reader_rows(out: Path):
    from bookrec_tui.training.interactions import UserItems

    with np.load(out / "readers.npz") as z:
        return UserItems(z["indptr"], z["rows"], z["stars"], np.arange(len(z["indptr"]) - 1))


def train_links(n: int, out: Path, co_counts_too: bool = False) -> dict:
    """Time the book-to-book links of `train --model embeddings` (training/links.py
    `link_table`, with the embedding model's default links per book, ridge and star
    weights and candidates) on all the rows :func:`write_reader_rows` wrote; with
    ``co_counts_too`` then the whole sparse X^T X alone (its size), which the table's
    chunked build never holds."""
    from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig
    from bookrec_tui.training.links import co_counts, link_table

    load_before = os.getloadavg()
    items = _reader_rows(out)
    cfg = EmbeddingModelConfig()
    t, c = time.perf_counter(), time.process_time()
    ids, _ = link_table(
        items,
        n,
        cfg.neighbors,
        cfg.link_lambda,
        cfg.star_link_weight,
        candidates=cfg.link_candidates,
    )
    result = {
        "neighbors": cfg.neighbors,
        "candidates": cfg.link_candidates,
        "link_table_s": _since(t),
        "link_table_cpu_s": round(time.process_time() - c, 1),
        "links_kept": int((ids > 0).sum()),
        "peak_rss_mb": _rss_mb(),  # before the whole X^T X below, which link_table never holds
    }
    if co_counts_too:
        t, c = time.perf_counter(), time.process_time()
        gram = co_counts(items, n, cfg.star_link_weight)
        result["co_counts_s"] = _since(t)
        result["co_counts_cpu_s"] = round(time.process_time() - c, 1)
        result["co_counts_nonzeros"] = int(gram.nnz)
        result["peak_rss_with_co_counts_mb"] = _rss_mb()
    result["load_average_before"] = load_before
    result["load_average_after"] = os.getloadavg()
    return result


def train_head(n: int, out: Path, readers: int) -> dict:
    """Time one epoch of the rating head (training/rating_head.py, default config) on
    ``readers`` of the rows' readers (0: all), with random unit book vectors and the links'
    shape standing in for trained ones; a cut epoch is extrapolated from its median step."""
    from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig
    from bookrec_tui.training.rating_head import train_rating_head

    load_before = os.getloadavg()
    items = _reader_rows(out)
    cfg = EmbeddingModelConfig()
    cfg.rating.epochs = 1
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, cfg.embeddings.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    link_ids = rng.integers(0, n + 1, (n + 1, cfg.neighbors)).astype(np.int32)
    users = np.arange(items.n_users)
    if readers:
        users = np.sort(rng.choice(users, min(readers, len(users)), replace=False))
    timer = StepTimer()
    _, history = train_rating_head(
        items,
        users,
        vectors,
        np.asarray(cfg.embeddings.input_star_weight),
        link_ids,
        cfg.rating,
        progress=timer.progress,
    )
    seconds, steps, steady = timer.stop()
    usable = int((items.counts >= 2).sum())
    full_steps = -(-usable // cfg.rating.batch_size)
    return {
        "dim": cfg.rating.dim,
        "batch_readers": cfg.rating.batch_size,
        "readers_trained": len(users),
        "steps": len(steps),
        "first_step_s": round(float(steps[0]), 2),
        "step_s_median": round(steady, 3),
        "seconds_measured": round(seconds, 1),
        "steps_per_epoch_all_readers": full_steps,
        "seconds_per_epoch_all_readers": round(seconds + steady * (full_steps - len(steps)), 1),
        "extrapolated": len(steps) < full_steps,
        "mse": round(history[-1]["mse"], 4),
        "peak_rss_mb": _rss_mb(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


class RssTimeline:
    """The process's resident memory sampled every ``every`` seconds in a thread, and the
    moments a Keras progress callback reports each phase's steps: each phase's peak RSS
    and its step times come from the two (a phase without steps, such as the links, is
    what lies between the phases that have them)."""

    def __init__(self, every: float = 0.25) -> None:
        import threading

        self.samples: list[tuple[float, float]] = []
        self.steps: dict[str, list[float]] = {}
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append((time.perf_counter(), _current_rss_mb()))

    def progress(self, done, total, logs) -> None:
        self.steps.setdefault(logs["phase"], []).append(time.perf_counter())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def dump(self, t0: float, every: float = 2.0) -> dict:
        """The samples from ``t0`` on, one per ``every`` seconds (the highest in each), and
        each phase's first and last step and its epoch ends, as seconds since ``t0``."""
        kept: dict[int, float] = {}
        for t, rss in self.samples:
            if t >= t0:
                slot = int((t - t0) // every)
                kept[slot] = max(kept.get(slot, 0.0), rss)
        marks = {
            phase: [round(times[0] - t0, 1), round(times[-1] - t0, 1)]
            for phase, times in self.steps.items()
        }
        return {"every_s": every, "rss_mb": [kept[k] for k in sorted(kept)], "steps": marks}

    def peak_between(self, t0: float, t1: float) -> float:
        inside = [rss for t, rss in self.samples if t0 <= t <= t1]
        return max(inside, default=0.0)


def train_full(n: int, out: Path, args) -> dict:
    """The whole of `train --model embeddings` (run.train_embedding_bundle: the links from the
    training readers, the embedding epochs with their validation, the link blend, the links
    from every reader, the rating head; then the bundle, the Keras models, the packed
    catalogue and the opening question written as `train` writes them) on the synthetic
    catalogue of ``n`` books, generated in this process (reading CSV files is the only part
    of `train` left out). ``--epochs`` / ``--head-epochs`` override the defaults; with
    ``--max-steps`` each embedding epoch sees that many batches of its readers (a share of
    them, reshuffled), and its time for all readers is extrapolated from the median step."""
    from functools import partial

    from bookrec_tui.chat.opening import OPENING_NAME, write_opening
    from bookrec_tui.core.recommender import Recommender
    from bookrec_tui.store.synthetic import SyntheticConfig, make_dataset
    from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig
    from bookrec_tui.training.embeddings import train_embeddings
    from bookrec_tui.training.run import save_outputs, train_embedding_bundle

    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    ds = make_dataset(SyntheticConfig(n))
    generated = {"generate_s": _since(wall), "rss_after_generate_mb": _current_rss_mb()}
    cfg = EmbeddingModelConfig()
    if args.epochs:
        cfg.embeddings.epochs = args.epochs
    if args.head_epochs:
        cfg.rating.epochs = args.head_epochs
    trainer = train_embeddings
    if args.max_steps:

        def cut(items, users, *rest, **kw):
            rng = np.random.default_rng(cfg.seed)
            kept = users[rng.permutation(len(users))[: args.max_steps * cfg.embeddings.batch_size]]
            cut.readers = (len(kept), len(users))
            return train_embeddings(items, np.sort(kept), *rest, **kw)

        trainer = cut
    timeline = RssTimeline()
    t_train = time.perf_counter()
    bundle, models = train_embedding_bundle(ds, cfg, timeline.progress, partial(trainer))
    t_trained = time.perf_counter()
    save_outputs(bundle, models, out, ds.catalogue, "synthetic")
    write_opening(Recommender(bundle, ds.catalogue), out / OPENING_NAME)
    t_end = time.perf_counter()
    timeline.stop()
    history = bundle.meta["training"]["history"]
    emb, head = timeline.steps.get("embeddings", []), timeline.steps.get("rating head", [])
    # Consecutive spans of the run, from its step times (the links may run beside the
    # embedding steps, in a thread: see the history rows): each span's first Keras step
    # (tracing) falls in the span before it.
    phases = {
        "before_embedding_steps": (t_train, emb[0]) if emb else None,
        "embedding_steps_and_validation": (emb[0], emb[-1]) if emb else None,
        "blend_links_and_head_first_step": (emb[-1], head[0]) if emb and head else None,
        "rating_head": (head[0], t_trained) if head else None,
        "export": (t_trained, t_end),
    }
    result = {
        "books": n,
        "readers": ds.ratings.n_users,
        "ratings": len(ds.ratings),
        **generated,
        "dim": cfg.embeddings.dim,
        "embedding_epochs": cfg.embeddings.epochs,
        "head_epochs": cfg.rating.epochs,
        "history": history,
        "phase_peak_rss_mb": {
            k: timeline.peak_between(*v) for k, v in phases.items() if v is not None
        },
        "phase_wall_s": {k: round(v[1] - v[0], 1) for k, v in phases.items() if v is not None},
        "train_wall_s": round(t_trained - t_train, 1),
        "total_wall_s": _since(wall),
        "total_cpu_s": round(time.process_time() - cpu, 1),
        "peak_rss_mb": _rss_mb(),
        "bundle_mb": round((out / "bookrec-bundle.npz").stat().st_size / 2**20, 1),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    for name, ends in (("embeddings", emb), ("rating head", head)):
        if len(ends) > 2:
            result[f"{name.replace(' ', '_')}_step_s_median"] = round(
                float(np.median(np.diff(ends))), 3
            )
            result[f"{name.replace(' ', '_')}_steps_measured"] = len(ends)
    if emb:  # the embedding phase's peak so far at each of its steps: flat = step-independent
        result["embedding_peak_rss_by_step_mb"] = [
            timeline.peak_between(t_train, end) for end in emb
        ]
    if args.timeline:  # current (not peak) RSS through the run, for reading where it sits
        args.timeline.write_text(json.dumps(timeline.dump(t_train)))
    if args.max_steps:
        result["embedding_readers_per_epoch"] = {"trained": cut.readers[0], "all": cut.readers[1]}
        result["embedding_steps_per_epoch_all_readers"] = -(
            -cut.readers[1] // cfg.embeddings.batch_size
        )
    return result


def _since(t: float) -> float:
    return round(time.perf_counter() - t, 1)


def _embeddings(n: int, out: Path, args) -> dict:
    data = _child("--stage", "rows", "--n", str(n), "--out", str(out))
    if "failed" in data:
        return data
    options = ["--dim", str(args.dim), "--batch", str(args.batch), "--strategy", args.strategy]
    options += ["--cpus", str(args.cpus), "--max-steps", str(args.max_steps), "--loss", args.loss]
    return {**data, **_child("--stage", "train", "--n", str(n), "--out", str(out), *options)}


def _links_and_head(n: int, out: Path, head_readers: int, co_counts: bool) -> dict:
    if not (out / "readers.npz").exists():
        data = _child("--stage", "rows", "--n", str(n), "--out", str(out))
        if "failed" in data:
            return data
    common = ("--n", str(n), "--out", str(out))
    return {
        "links": _child("--stage", "links", *common, *(["--co-counts"] if co_counts else [])),
        "head": _child("--stage", "head", *common, "--head-readers", str(head_readers)),
    }


def _child(*args: str) -> dict:
    res = subprocess.run(
        [sys.executable, str(Path(__file__)), *args], capture_output=True, text=True
    )
    if res.returncode != 0:
        return {"failed": res.stderr[-1500:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--train-readers", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--app", action="store_true", help="also time a headless app start")
    parser.add_argument("--keep", type=Path, help="keep each size's bundle under DIR/N")
    parser.add_argument(
        "--vectors",
        choices=("random", "structured"),
        default="structured",
        help="untrained bundles' ranking vectors: random, or clustered like embeddings",
    )
    parser.add_argument(
        "--embeddings", action="store_true", help="also train the embedding model (tf.data)"
    )
    parser.add_argument(
        "--only-embeddings", action="store_true", help="only the embedding training stage"
    )
    parser.add_argument("--dim", type=int, default=64, help="embedding width (default 64)")
    parser.add_argument("--batch", type=int, default=256, help="readers per step (default 256)")
    parser.add_argument("--strategy", default="none", choices=("none", "mirrored"))
    parser.add_argument(
        "--loss",
        default="auto",
        choices=("auto", "gramian", "dense"),
        help="the loss's form (training/embeddings.py; default: auto, as training picks)",
    )
    parser.add_argument("--cpus", type=int, default=1, help="logical CPUs for --strategy mirrored")
    parser.add_argument(
        "--max-steps", type=int, default=0, help="cut the epoch to this many steps (0: all)"
    )
    parser.add_argument(
        "--stage",
        choices=("build", "serve", "rows", "train", "links", "head", "full"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--links",
        action="store_true",
        help="only time the links and the rating head on the readers' rows (see train_links)",
    )
    parser.add_argument(
        "--co-counts",
        action="store_true",
        help="with --links, also make the whole sparse X^T X after the table (its size)",
    )
    parser.add_argument(
        "--head-readers", type=int, default=0, help="readers for the rating head's epoch (0: all)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="only run the whole `train --model embeddings` with its defaults (see train_full; "
        "--epochs, --head-epochs and --max-steps cut it)",
    )
    parser.add_argument("--epochs", type=int, default=0, help="with --full: embedding epochs")
    parser.add_argument("--head-epochs", type=int, default=0, help="with --full: head epochs")
    parser.add_argument(
        "--timeline", type=Path, help="with --stage full: write the current RSS through it here"
    )
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "build":
        print(json.dumps(build(args.n, args.out, args.train_readers, args.vectors)))
        return 0
    if args.stage == "serve":
        print(json.dumps(serve(args.out, args.repeat)))
        return 0
    if args.stage == "rows":
        print(json.dumps(write_reader_rows(args.n, args.out)))
        return 0
    if args.stage == "train":
        print(json.dumps(train_embeddings(args.n, args.out, args)))
        return 0
    if args.stage == "links":
        print(json.dumps(train_links(args.n, args.out, args.co_counts)))
        return 0
    if args.stage == "head":
        print(json.dumps(train_head(args.n, args.out, args.head_readers)))
        return 0
    if args.stage == "full":
        print(json.dumps(train_full(args.n, args.out, args)))
        return 0
    print(
        json.dumps(
            {
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(),
                },
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "command": " ".join(sys.argv),
            }
        ),
        flush=True,
    )
    for n in (int(s) for s in args.sizes.split(",")):
        base = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
        out = base / str(n)
        result: dict = {"books": n}
        if not (args.only_embeddings or args.links or args.full):
            result["build"] = _child(
                "--stage",
                "build",
                "--n",
                str(n),
                "--out",
                str(out),
                "--train-readers",
                str(args.train_readers),
                "--vectors",
                args.vectors,
            )
            if "failed" not in result["build"]:
                result["serve_first"] = _child(
                    "--stage", "serve", "--out", str(out), "--repeat", "20"
                )
                result["serve"] = _child(
                    "--stage", "serve", "--out", str(out), "--repeat", str(args.repeat)
                )
                if args.app:
                    result["app"] = app_start(out)
        if args.embeddings or args.only_embeddings:
            result["embeddings"] = _embeddings(n, out, args)
        if args.links:
            result["links"] = _links_and_head(n, out, args.head_readers, args.co_counts)
        if args.full:
            cuts = ["--epochs", str(args.epochs), "--head-epochs", str(args.head_epochs)]
            cuts += ["--max-steps", str(args.max_steps)]
            result["full"] = _child("--stage", "full", "--n", str(n), "--out", str(out), *cuts)
        print(json.dumps(result), flush=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
