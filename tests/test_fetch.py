"""`data fetch` against a local HTTP server on 127.0.0.1 serving fixture archives."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from bookrec_tui.errors import FetchError
from bookrec_tui.store.fetch import ARCHIVE_NAME, fetch_goodbooks, safe_extract


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


GOOD = make_zip(
    {
        "goodbooks-10k/books.csv": b"book_id,goodreads_book_id,authors,title\n1,11,A,T\n",
        "goodbooks-10k/ratings.csv": b"user_id,book_id,rating\n1,1,5\n",
    }
)


class Server:
    """Serves /goodbooks-10k.zip; ``plan`` lists what each successive request gets."""

    def __init__(self, plan: list[str]):
        self.plan, self.hits = list(plan), 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits += 1
                mode = outer.plan.pop(0) if outer.plan else "ok"
                body = GOOD
                if mode == "corrupt":
                    body = GOOD[:-10] + b"X" * 10
                self.send_response(200)
                self.send_header("Content-Length", str(len(GOOD)))
                self.end_headers()
                if mode == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(request):
    s = Server(getattr(request, "param", []))
    yield s
    s.close()


SHA = hashlib.sha256(GOOD).hexdigest()
quiet = lambda got, total: None  # noqa: E731


def test_fetch_downloads_verifies_and_unpacks(server, tmp_path):
    written = fetch_goodbooks(
        tmp_path / "data", base_url=server.url, expected_sha256=SHA, progress=quiet, file_sha256={}
    )
    assert sorted(p.name for p in written) == ["books.csv", "ratings.csv"]
    assert (tmp_path / "data" / "ratings.csv").read_text().startswith("user_id,book_id")
    assert not list((tmp_path / "data").glob(".*part"))


@pytest.mark.parametrize("server", [["drop"]], indirect=True)
def test_dropped_connection_is_retried(server, tmp_path):
    fetch_goodbooks(
        tmp_path, base_url=server.url, expected_sha256=SHA, progress=quiet, file_sha256={}
    )
    assert server.hits == 2 and (tmp_path / "books.csv").exists()


@pytest.mark.parametrize("server", [["corrupt", "corrupt", "corrupt"]], indirect=True)
def test_corrupted_download_is_rejected_and_nothing_is_written(server, tmp_path):
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch_goodbooks(
            tmp_path / "d", base_url=server.url, expected_sha256=SHA, retries=3, progress=quiet
        )
    assert server.hits == 3
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_unreachable_server_says_how_to_work_offline(tmp_path):
    with pytest.raises(FetchError) as err:
        fetch_goodbooks(tmp_path, base_url="http://127.0.0.1:9", retries=1, progress=quiet)
    assert "BOOKREC_DATA_DIR" in str(err.value)


@pytest.mark.parametrize("evil", ["../books.csv", "/tmp/books.csv", "a/../../ratings.csv"])
def test_extraction_refuses_paths_outside_the_target(tmp_path, evil):
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(make_zip({evil: b"x"}))
    with pytest.raises(FetchError, match="unsafe path"):
        safe_extract(archive, tmp_path / "out")


def test_extraction_refuses_a_zip_bomb(tmp_path):
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(make_zip({"ratings.csv": b"0" * (50 << 20)}))
    with pytest.raises(FetchError, match="suspiciously large"):
        safe_extract(archive, tmp_path / "out")


def test_a_file_that_is_not_a_zip_is_a_clear_error(tmp_path):
    p = tmp_path / ARCHIVE_NAME
    p.write_bytes(b"<html>not found</html>")
    with pytest.raises(FetchError, match="not a valid zip"):
        safe_extract(p, tmp_path / "out")


def test_a_known_file_with_a_wrong_checksum_is_rejected(tmp_path):
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(
        make_zip({"tags.csv": b"tag_id,tag_name\n", "books.csv": b"x", "ratings.csv": b"y"})
    )
    with pytest.raises(FetchError, match="tags.csv does not match"):
        safe_extract(archive, Path(tmp_path / "out"))
