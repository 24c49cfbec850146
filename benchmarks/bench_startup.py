"""Start-up as a reader sees it: `bookrec-tui` launched in a real terminal (tmux), timed
until the first onboarding question is on screen.

Each run starts a detached tmux session of the given size running the installed
`bookrec-tui` with a fresh BOOKREC_HOME (a new reader, so the app asks its first question),
then polls `tmux capture-pane -p` every 10 ms until the question text appears. The first
(cold) run is reported apart; the others are warm-cache runs. Also reports the app's own
CPU time up to that moment (from /proc), which a busy machine inflates less than the wall
time, and the load average. Prints one JSON object.

    python benchmarks/bench_startup.py --runs 5
    python benchmarks/bench_startup.py --runs 5 --data-dir /path/to/goodbooks-10k
    python benchmarks/bench_startup.py --runs 5 --model-dir DIR --home HOME --timeout 600

``--model-dir`` starts the app on another bundle and its packed catalogue (e.g. a
million-book one from bench_scale.py --keep); ``--home`` keeps the caches folder between
runs and invocations (the first start on a new catalogue builds its derived tables there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from stats import percentiles

QUESTION = "Have you read"
READY = "Your shelf ("  # the side panel's count: the model is loaded, the session is up


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch_and_wait(
    command: str, size: tuple[int, int], timeout: float
) -> tuple[float, float, float]:
    """(wall seconds, app CPU seconds) from launching ``command`` in tmux to the first
    question on screen, and the wall seconds until the model is loaded behind it. The CPU
    figure is what the app itself spent, so it moves less with the machine's load than the
    wall time does."""
    session = "startup"
    # A private tmux server per launch: no one else's sessions, no race with the last one's exit.
    tmux = ["tmux", "-L", f"bookrec-startup-{os.getpid()}-{time.monotonic_ns()}"]
    started = time.perf_counter()
    subprocess.run(
        [*tmux, "new", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command],
        check=True,
    )
    pid = int(
        subprocess.run(
            [*tmux, "list-panes", "-t", session, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
        ).stdout.split()[0]
    )
    asked = None
    try:
        while time.perf_counter() - started < timeout:
            pane = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if QUESTION in pane and asked is None:
                asked = time.perf_counter() - started, cpu_seconds(pid)
            if asked is not None and READY in pane:
                return (*asked, time.perf_counter() - started)
            time.sleep(0.01)
        raise TimeoutError(f"no question after {timeout} s:\n{pane}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="launches (the first is cold)")
    parser.add_argument("--data-dir", help="use this goodbooks-10k folder (default: packed)")
    parser.add_argument("--size", default="120x40", help="terminal size (default 120x40)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--model-dir", help="a bundle folder (default: the shipped model)")
    parser.add_argument("--home", help="BOOKREC_HOME to use (default: a new temporary one)")
    args = parser.parse_args()
    exe = shutil.which("bookrec-tui")
    if exe is None:
        raise SystemExit("bookrec-tui is not on PATH: pip install . first")
    width, height = (int(x) for x in args.size.split("x"))
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bookrec-startup-"))
    model = f" --model-dir {args.model_dir}" if args.model_dir else ""
    times = []
    for _ in range(args.runs):
        data = f"BOOKREC_DATA_DIR={args.data_dir}" if args.data_dir else "-u BOOKREC_DATA_DIR"
        # No data dir: the packed catalogue.
        command = f"env {data} BOOKREC_HOME={home} {exe}{model}"
        (home / "profiles").mkdir(parents=True, exist_ok=True)
        for profile in (home / "profiles").glob("*.json"):
            profile.unlink()  # a new reader every run: the first question is asked
        times.append(launch_and_wait(command, (width, height), args.timeout))
    cpu = [c for _, c, _ in times]
    ready = [r for _, _, r in times]
    times = [t for t, _, _ in times]
    warm = times[1:] or times
    print(
        json.dumps(
            {
                "benchmark": "startup_to_first_question",
                "terminal": f"tmux {args.size}",
                "catalogue": args.data_dir or "packed",
                "model_dir": args.model_dir or "shipped",
                "cold_s": round(times[0], 3),
                "warm_s": [round(t, 3) for t in warm],
                "warm": percentiles(warm),
                "app_cpu_s": [round(c, 3) for c in cpu[1:] or cpu],
                "model_ready_s": [round(r, 3) for r in ready[1:] or ready],
                "machine": f"{platform.node()} {os.cpu_count()} cpus",
                "load_average": os.getloadavg()[0],
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            }
        )
    )


if __name__ == "__main__":
    main()
