"""Small file-system helpers: atomic writes and cached file checksums."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bookrec_tui.errors import BookrecError

_TEMP_SUFFIX = ".tmp"


class OutputError(BookrecError):
    """A file cannot be written where asked (a folder, a device, a missing folder...)."""


def _existing_mode(target: Path) -> int | None:
    """Permission bits of the regular file at ``target``; None when there is none. Refuses
    anything else (a folder, a device node, a FIFO): replacing it would destroy it."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{target} is a folder; give a file name to write to.")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(
            f"{target} is not a regular file (a device or pipe); refusing to replace it."
        )
    return stat.S_IMODE(st.st_mode)


def check_output_file(path: Path) -> None:
    """Raise :class:`OutputError` unless a file can be written at ``path``: its folder exists
    and is writable, and nothing but a regular file (or a symlink to one) is there. Checked
    before slow work so a typo in ``--out`` does not cost a training run."""
    target = Path(os.path.realpath(path))
    _existing_mode(target)
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"The folder {Path(path).parent} does not exist; create it first.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write into {folder}: permission denied.")


def check_output_folder(path: Path) -> None:
    """Like :func:`check_output_file` for a folder that will hold several files: it may be
    created, but only inside a folder that exists."""
    target = Path(os.path.realpath(path))
    if target.exists():
        if not target.is_dir():
            raise OutputError(f"{path} is not a folder.")
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputError(f"Cannot write into {path}: permission denied.")
        return
    if not target.parent.is_dir():
        raise OutputError(f"The folder {Path(path).parent} does not exist; create it first.")


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb", private: bool = False) -> Iterator[IO]:
    """Write to a temporary file beside ``path``, fsync it, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never a torn one. A
    symlink at ``path`` stays a symlink: its target is written. An existing file keeps its
    permissions; a new one is readable by others (0644) like any file a program writes,
    unless ``private`` (0600: a reader's profile). Anything but a regular file at ``path``
    (a folder, a device) is refused with :class:`OutputError`.
    """
    target = Path(os.path.realpath(path))
    perms = _existing_mode(target)
    if perms is None:
        perms = 0o600 if private else 0o644
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent)
    try:
        os.fchmod(fd, perms)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
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
        except (OSError, ValueError, RecursionError):
            memo = {}
        if not isinstance(memo, dict):
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
