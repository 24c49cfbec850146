"""`bookrec-tui data fetch`: download the public goodbooks-10k release, verify, unpack.

Downloads go to a temporary file and are renamed only after the SHA-256 matches the pinned
value; the archive is unpacked member by member with guards (no path outside the target,
no links, size limits), and each CSV is moved into place atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from bookrec_tui.errors import FetchError
from bookrec_tui.fsutil import sha256_file
from bookrec_tui.paths import DATA_ENV

DEFAULT_BASE_URL = "https://github.com/zygmuntz/goodbooks-10k/releases/download/v1.0"
ARCHIVE_NAME = "goodbooks-10k.zip"
# SHA-256 of the v1.0 release asset as pinned by Ludwig's goodbooks dataset config; it could not
# be re-checked from this project's build machines, which have no general internet access.
ARCHIVE_SHA256 = "261b97b56db61f3fb2ce5aadbb13704d30179fcc986c17ace665a0af9ed00731"
WANTED = ("books.csv", "ratings.csv", "tags.csv", "book_tags.csv", "to_read.csv")
REQUIRED = ("books.csv", "ratings.csv")
# Known-good checksums of the unpacked files that are identical across releases.
FILE_SHA256 = {
    "books.csv": "4d21d0e0433128657c752e3a3d0405ac0ec11675d6c70c64cb0abf4ab1acb76a",
    "tags.csv": "87f316957564fa21c316a4f50afc87f07906f478f990eec027aaca00c536c449",
    "book_tags.csv": "8ff2f0659be9ddbe10bf47ba33b5b69024f893f017ac665236f15bc97d862950",
}
MAX_ARCHIVE_BYTES = 512 << 20
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 200  # uncompressed / compressed, per member
#: Overall time allowed for a download, all attempts together: a server trickling a byte
#: every few seconds never trips the per-read socket timeout, so this bounds it.
DEFAULT_DEADLINE_S = 900.0

Progress = Callable[[int, int | None], None]


def _offline_hint() -> str:
    return (
        f"If this machine has no internet access, copy the goodbooks-10k CSV files to a "
        f"folder and point ${DATA_ENV} (or --data-dir) at it."
    )


def download(
    url: str,
    dest: Path,
    expected_sha256: str | None,
    retries: int = 3,
    progress: Progress | None = None,
    timeout: float = 30.0,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying the SHA-256; retry on failure, all
    within ``deadline_s`` seconds. The ``.part`` file is removed whatever stops it (an
    error, Ctrl+C, SIGTERM turned into an exception by the CLI)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    give_up_at = time.monotonic() + deadline_s

    def check_deadline() -> None:
        if time.monotonic() > give_up_at:
            raise FetchError(
                f"Downloading {url} took longer than {deadline_s:.0f} s; stopped. Try again "
                "later or from a mirror (--base-url). " + _offline_hint()
            )

    for attempt in range(1, retries + 1):
        check_deadline()
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            digest = hashlib.sha256()
            read_timeout = max(min(timeout, give_up_at - time.monotonic()), 0.1)
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(url, timeout=read_timeout) as resp,
            ):
                total = resp.headers.get("Content-Length")
                total_n = int(total) if total and total.isdigit() else None
                if total_n and total_n > MAX_ARCHIVE_BYTES:
                    raise FetchError(f"{url} is {total_n:,} bytes, more than expected; refusing.")
                got = 0
                while chunk := resp.read1(1 << 16):
                    check_deadline()
                    got += len(chunk)
                    if got > MAX_ARCHIVE_BYTES:
                        raise FetchError(f"{url} is larger than {MAX_ARCHIVE_BYTES:,} bytes.")
                    digest.update(chunk)
                    out.write(chunk)
                    if progress:
                        progress(got, total_n)
                if total_n is not None and got != total_n:
                    raise ConnectionError(f"connection dropped after {got:,} of {total_n:,} bytes")
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if expected_sha256 and actual != expected_sha256:
                raise ValueError(f"checksum mismatch: expected {expected_sha256}, got {actual}")
            os.replace(tmp, dest)
            return dest
        except FetchError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # URLError and ConnectionError are OSErrors; HTTPException covers malformed
            # replies (a garbage status line, a broken chunked body).
            last = exc
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if attempt < retries:
                time.sleep(
                    min(2.0 ** (attempt - 1) * 0.5, 5.0, max(give_up_at - time.monotonic(), 0))
                )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    raise FetchError(
        f"Could not download {url} after {retries} attempt(s): "
        f"{type(last).__name__}: {str(last)[:200]}. " + _offline_hint()
    )


def safe_extract(
    archive: Path,
    dest: Path,
    wanted: tuple[str, ...] = WANTED,
    file_sha256: dict[str, str] | None = None,
) -> list[Path]:
    """Unpack the CSVs named in ``wanted`` (found at any depth) into ``dest``, guarded.

    ``file_sha256`` (default: the known goodbooks checksums) is checked per unpacked file.
    """
    known = FILE_SHA256 if file_sha256 is None else file_sha256
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{archive} is not a valid zip archive ({exc}).") from exc
    with zf:
        total = 0
        for info in zf.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise FetchError(f"{archive}: refusing unsafe path {info.filename!r}.")
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise FetchError(f"{archive}: refusing symbolic link {info.filename!r}.")
            if info.is_dir() or name.name not in wanted:
                continue
            if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_RATIO
            ):
                raise FetchError(f"{archive}: {info.filename!r} is suspiciously large.")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise FetchError(f"{archive}: contents exceed {MAX_TOTAL_BYTES:,} bytes.")
            target = dest / name.name
            fd, tmp = tempfile.mkstemp(prefix=f".{name.name}.", suffix=".part", dir=dest)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    copied = 0
                    while chunk := src.read(1 << 16):
                        copied += len(chunk)
                        if copied > info.file_size:  # lying header
                            raise FetchError(
                                f"{archive}: {info.filename!r} is larger than its header says."
                            )
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                expected = known.get(name.name)
                if expected and sha256_file(Path(tmp)) != expected:
                    raise FetchError(f"{archive}: {name.name} does not match its known checksum.")
                os.replace(tmp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            written.append(target)
    missing = [w for w in REQUIRED if not (dest / w).is_file()]
    if missing:
        raise FetchError(f"{archive}: missing {', '.join(missing)}; is this goodbooks-10k?")
    return written


def fetch_goodbooks(
    dest: Path,
    base_url: str | None = None,
    retries: int = 3,
    expected_sha256: str | None = ARCHIVE_SHA256,
    progress: Progress | None = None,
    file_sha256: dict[str, str] | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> list[Path]:
    """Download the release archive into ``dest`` and unpack its CSVs there.

    ``progress(bytes so far, total or None)`` is called as the download goes; the face that
    asked draws it (the CLI's bar, the app's busy bar)."""
    dest = Path(dest)
    url = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/{ARCHIVE_NAME}"
    with tempfile.TemporaryDirectory(prefix="bookrec-fetch-") as tmp:
        archive = Path(tmp) / ARCHIVE_NAME
        download(url, archive, expected_sha256, retries, progress, deadline_s=deadline_s)
        written = safe_extract(archive, dest, file_sha256=file_sha256)
    shutil.rmtree(dest / "__MACOSX", ignore_errors=True)
    return written
