"""Handing memory the process has freed back to the system between training's phases.

glibc's malloc keeps what a phase freed in its heaps for the next allocation instead of
returning it, and at 100,000 synthetic books the link tables' build left ~2.3 GB resident
after it finished (the tables themselves are 160 MB): TensorFlow's embedding steps then came
on top of it, and the whole training peaked at 7.9-8.3 GB against the 8 GB bar
(docs/benchmarks.md, "The whole training at 100k books"). ``malloc_trim`` returns the free
pages; elsewhere (another C library) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> bool:
    """Return the pages malloc holds free to the system; True where it could (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
