"""What every benchmark script reports for a list of timings (seconds)."""

from __future__ import annotations

import numpy as np


def percentiles(samples: list[float]) -> dict:
    """p50, p95 and max in milliseconds, and how many samples."""
    a = np.array(samples) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "max_ms": round(float(a.max()), 3),
        "n": len(samples),
    }
