"""`data fetch` against servers that misbehave: malformed replies, a trickle, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from bookrec_tui.errors import FetchError
from bookrec_tui.store.fetch import fetch_goodbooks


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply(conn)``."""

    def __init__(self, reply):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.reply, self.stop = reply, threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                conn.recv(65536)
                self.reply(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


def garbage_status(conn, stop):
    conn.sendall(b"HELLO THERE\r\n\r\n")


def broken_chunks(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n")


def bad_length(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: -7\r\n\r\nPK\x03\x04")


def trickle(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.is_set():
        conn.sendall(b"x")
        time.sleep(0.3)


@pytest.mark.parametrize("reply", [garbage_status, broken_chunks, bad_length])
def test_malformed_replies_are_a_fetch_error(tmp_path, reply):
    server = RawServer(reply)
    try:
        with pytest.raises(FetchError, match="Could not download"):
            fetch_goodbooks(tmp_path, server.url, retries=2, progress=lambda *a: None)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_a_trickling_server_meets_the_overall_deadline(tmp_path):
    server = RawServer(trickle)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="took longer than 2 s"):
            fetch_goodbooks(tmp_path, server.url, retries=3, progress=lambda *a: None, deadline_s=2)
    finally:
        server.close()
    assert time.monotonic() - started < 6


def test_sigterm_during_fetch_leaves_no_part_file(tmp_path):
    server = RawServer(trickle)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dest = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-m", "bookrec_tui.cli", "data", "fetch", "--base-url", server.url]
        + ["--dest", str(dest)],
        env={**os.environ, "TMPDIR": str(scratch)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(scratch.rglob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(scratch.rglob("*.part")), "the download never started"
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        server.close()
    assert child.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert list(scratch.rglob("*")) == []
    assert not dest.exists() or list(dest.iterdir()) == []
