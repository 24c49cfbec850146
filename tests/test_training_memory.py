"""Training hands freed heap memory back between its phases (glibc's malloc_trim)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bookrec_tui.training.memory import release_freed_memory


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(sys.platform != "linux", reason="glibc and /proc: Linux only")
def test_memory_a_phase_freed_on_the_heap_goes_back_to_the_system():
    """Small arrays (below malloc's mmap threshold) freed with a few kept between them stay
    resident, as the link tables' build left 2.3 GB at 100k books; releasing returns them."""
    arrays = [np.ones(12_000) for _ in range(6_000)]  # 6,000 x 96 KB on malloc's heap
    kept = arrays[::100]
    before_free = resident_mb()
    del arrays
    held = resident_mb()
    assert held > before_free - 100  # freed, yet still resident
    assert release_freed_memory()
    assert resident_mb() < held - 300
    assert len(kept) == 60


def test_the_rating_heads_epochs_keep_no_earlier_epochs_reveal_split(monkeypatch):
    """Each epoch draws a new reveal split of every reader (at 100k books ~150 MB); once the
    head has trained, no earlier epoch's split may still be held (a fit per epoch on a new
    batches object left every one resident: TensorFlow keeps each fit's input pipeline)."""
    import gc
    import weakref

    from bookrec_tui.training import rating_head
    from bookrec_tui.training.interactions import UserItems

    drawn = []
    real_split = rating_head.reveal_split

    def recorded_split(*args, **kwargs):
        arrays = real_split(*args, **kwargs)
        drawn.append([weakref.ref(a) for a in arrays])
        return arrays

    monkeypatch.setattr(rating_head, "reveal_split", recorded_split)
    rng = np.random.default_rng(0)
    counts = rng.integers(3, 20, 200)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    items = UserItems(
        indptr,
        rng.integers(0, 50, indptr[-1]).astype(np.int32),
        rng.integers(1, 6, indptr[-1]).astype(np.int8),
        np.arange(200),
    )
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    cfg = rating_head.RatingHeadConfig(dim=4, epochs=3, batch_size=32)
    weights = np.array([0, 0.1, 0.3, 0.6, 1, 1.1], np.float32)
    head, history = rating_head.train_rating_head(
        items, np.arange(200), vectors, weights, np.zeros((51, 0), np.int32), cfg
    )
    gc.collect()
    assert len(drawn) == 3 and len(history) == 3
    assert all(ref() is None for refs in drawn[:-1] for ref in refs)
