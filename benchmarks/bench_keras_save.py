"""What saving one trained model's ``.keras`` file adds to the process's resident memory.

    python benchmarks/bench_keras_save.py [--books 100000] [--dim 1024]
                                          [--model ranking|rating] [--writer ours|keras]

Builds the ranking model (a books x dim table) or the rating head (the same table frozen,
plus its own tables) with random weights, then saves it once, either as training saves it
(training/keras_files.py: a block of rows at a time) or with Keras's own ``model.save``,
and prints one JSON line: the process's resident memory before the save and its peak during
it (VmHWM, reset just before: /proc/self/clear_refs), in MiB. Linux only. Run one writer
per process: what one save leaves resident would count in the next.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak resident memory (VmHWM) restarts from now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--model", choices=("ranking", "rating"), default="ranking")
    parser.add_argument("--writer", choices=("ours", "keras"), default="ours")
    args = parser.parse_args()

    from bookrec_tui.training.embeddings import model_class
    from bookrec_tui.training.keras_files import save_keras_model
    from bookrec_tui.training.memory import release_freed_memory
    from bookrec_tui.training.rating_head import head_class

    rng = np.random.default_rng(0)
    if args.model == "ranking":
        model = model_class()(args.books, args.dim, 1024)
        model.books.assign(rng.standard_normal((args.books, args.dim), dtype=np.float32))
    else:
        model = head_class()(args.books, args.dim, 64, 100, 5.0, 3.5)
        model.books.assign(rng.standard_normal((args.books + 1, args.dim), dtype=np.float32))
    model.built = True
    gc.collect()
    release_freed_memory()
    with tempfile.TemporaryDirectory(prefix="bench-keras-save-") as scratch:
        path = Path(scratch) / "model.keras"
        before = _status_mib("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        if args.writer == "ours":
            save_keras_model(model, path)
        else:
            model.save(path)
        seconds = time.perf_counter() - started
        peak, after = _status_mib("VmHWM"), _status_mib("VmRSS")
        file_mb = path.stat().st_size / 2**20
    print(
        json.dumps(
            {
                "books": args.books,
                "dim": args.dim,
                "model": args.model,
                "writer": args.writer,
                "rss_before_mib": round(before),
                "peak_during_save_mib": round(peak),
                "added_mib": round(peak - before),
                "rss_after_mib": round(after),
                "file_mib": round(file_mb, 1),
                "seconds": round(seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
