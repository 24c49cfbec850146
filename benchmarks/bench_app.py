"""App benchmarks: start-up to the first interactive screen, keystroke -> suggestions,
rating -> refreshed recommendations, and memory. Headless (Textual's test driver).

    python benchmarks/bench_app.py [--data-dir DIR] [--runs N]

Prints one JSON object. Start-up is measured in fresh processes (imports included), from
process launch to the moment the recommender is loaded and the first question is on screen.
"*_on_screen" figures are measured through Textual's test pilot and include its frame
scheduling and its wait for the whole process to go idle (an idle `pilot.pause()` alone
takes ~20 ms here); "*_app_work" is the app's own synchronous work for the same event;
"*_first_frame*" is the time until the app next hands a frame to its terminal driver after
the change (the suggestions filled, the panels refreshed), timed by wrapping
`App._display`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from stats import percentiles  # benchmarks/stats.py (scripts run from this folder)

CHILD = r"""
import time, sys, asyncio, resource, tempfile, pathlib
t0 = float(sys.argv[1])
from bookrec_tui.tui.app import BookrecApp
app = BookrecApp(data_dir=sys.argv[2] or None, profile_dir=pathlib.Path(tempfile.mkdtemp()))
async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        first_frame = time.time() - t0
        await app.workers.wait_for_complete()
        await pilot.pause()
        ready = time.time() - t0
        assert app.session is not None
        print(first_frame, ready, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "tensorflow" in sys.modules)
asyncio.run(main())
"""


async def interaction(data_dir: str | None) -> dict:
    from pathlib import Path

    from bookrec_tui.tui.app import BookrecApp
    from bookrec_tui.tui.widgets import BookList

    app = BookrecApp(data_dir=data_dir, profile_dir=Path(tempfile.mkdtemp()))
    out: dict = {}
    # Timestamps of every frame the app hands to its (headless) driver, and of each time
    # the suggestions list is filled.
    frames: list[float] = []
    shown: list[float] = []
    display, suggest = app._display, app.suggest

    def timed_display(screen, renderable):
        frames.append(time.perf_counter())
        return display(screen, renderable)

    def timed_suggest(text):
        suggest(text)
        shown.append(time.perf_counter())

    app._display = timed_display
    app.suggest = timed_suggest  # the typing timer looks it up when it fires

    def first_frame_after(t: float) -> float:
        later = [f for f in frames if f >= t]
        return later[0] if later else float("nan")

    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        prompt = app.query_one("#prompt")
        prompt.focus()
        keys, work, key_frames = [], [], []
        for query in ("hary poter", "lord of the rngs", "hitchikers guide", "the hobit"):
            prompt.value = ""
            for ch in query:
                await pilot.pause()
                shown.clear()
                t = time.perf_counter()
                prompt.insert_text_at_cursor(ch)
                await pilot.pause()
                await app.workers.wait_for_complete()
                keys.append(time.perf_counter() - t)
                await asyncio.sleep(0.1)
                frame = first_frame_after(shown[-1]) if shown else float("nan")
                if frame == frame:  # a search that changed nothing draws no frame
                    key_frames.append(frame - t)
            # The app's own work for the last keystroke: search + filling the list.
            suggestions = app.query_one("#suggestions", BookList)
            for _ in range(10):
                t = time.perf_counter()
                suggestions.set_books(app.session.suggestions(query) or [])
                work.append(time.perf_counter() - t)
        out["keystroke_to_suggestions_on_screen"] = percentiles(keys)
        out["keystroke_to_first_frame_with_suggestions"] = percentiles(key_frames)
        out["keystroke_app_work"] = percentiles(work)
        prompt.value = ""
        rng = np.random.default_rng(0)
        ids = app.session.rec.catalogue.book_ids
        rates, handler, rate_frames = [], [], []
        for book in rng.choice(ids, 60, replace=False):
            await pilot.pause()
            t = time.perf_counter()
            app.session.rate(int(book), int(rng.integers(1, 6)))  # saved to disk (fsync)
            app.refresh_panels()
            handler.append(time.perf_counter() - t)
            await pilot.pause()
            rates.append(time.perf_counter() - t)
            rate_frames.append(first_frame_after(t + handler[-1]) - t)
        assert app.query_one("#recs", BookList).option_count == 20
        out["rating_to_refreshed_recommendations_on_screen"] = percentiles(rates)
        out["rating_app_work"] = percentiles(handler)
        out["rating_to_first_frame_after_refresh"] = percentiles(rate_frames)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("BOOKREC_DATA_DIR", ""))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    starts, readies, rss, tf = [], [], [], []
    for _ in range(args.runs):
        t0 = time.time()
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(t0), args.data_dir],
            capture_output=True,
            text=True,
            check=True,
        )
        first, ready, mem, tf_loaded = res.stdout.split()
        starts.append(float(first))
        readies.append(float(ready))
        rss.append(float(mem))
        tf.append(tf_loaded == "True")
    out = {
        "startup_first_frame": percentiles(starts),
        "startup_interactive": percentiles(readies),
        "max_rss_mb": round(max(rss), 1),
        "tensorflow_imported": any(tf),
    }
    out.update(asyncio.run(interaction(args.data_dir or None)))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
