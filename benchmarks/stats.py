"""What every benchmark script reports: the machine and run it was measured on, and a list of
timings (seconds) as percentiles."""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np


def run_header() -> dict:
    """Machine, load, date and command line: what docs/benchmarks.md records with a figure."""
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(sys.argv),
    }


def percentiles(samples: list[float]) -> dict:
    """p50, p95 and max in milliseconds, and how many samples."""
    a = np.array(samples) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "max_ms": round(float(a.max()), 3),
        "n": len(samples),
    }
