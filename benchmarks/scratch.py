"""A throwaway app home for a benchmark run (profiles, caches), removed when the run ends."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def scratch_home(prefix: str) -> str:
    """Point ``BOOKREC_HOME`` at a new temporary folder, deleted at exit; returns it."""
    home = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["BOOKREC_HOME"] = home
    return home
