"""Small file-system helpers: atomic writes and cached file checksums."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb", private: bool = False) -> Iterator[IO]:
    """Write to a temporary file beside ``path``, fsync it, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never a torn one. The
    file is readable by others (0644) like any file a program writes, unless ``private``
    (0600: a reader's profile).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(path: Path, older_than_s: float) -> None:
    """Delete the temporary files that :func:`atomic_writer` left beside ``path`` when its
    process was killed mid-write, once older than ``older_than_s`` (a younger one may be a
    write still in flight in another process)."""
    cutoff = time.time() - older_than_s
    for tmp in Path(path).parent.glob(f".{Path(path).name}.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_sha256(path: Path, memo_file: Path | None) -> str:
    """SHA-256 of ``path``, remembered by (size, mtime) so a warm start does not re-hash.

    The memo is an optimisation only: an unreadable memo is ignored and rewritten.
    """
    path = Path(path).resolve()
    stat = path.stat()
    key = str(path)
    stamp = [stat.st_size, stat.st_mtime_ns]
    memo: dict[str, list] = {}
    if memo_file is not None and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            memo = {}
        hit = memo.get(key)
        if isinstance(hit, list) and hit[:2] == stamp and len(hit) == 3:
            return str(hit[2])
    digest = sha256_file(path)
    if memo_file is not None:
        memo[key] = [*stamp, digest]
        with contextlib.suppress(OSError), atomic_writer(memo_file, "w") as handle:
            json.dump(memo, handle)
    return digest
