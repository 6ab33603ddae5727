"""Downloads of extracts from a local HTTP server: conditional, resumable, retried."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from referentials.directory.download import download
from referentials.directory.errors import DownloadFailed
from tests.referentials.directory.conftest import RPPS, Importer

BODY = RPPS.read_bytes()
ETAG = '"rpps-202605040000"'


class Handler(BaseHTTPRequestHandler):
    """Serves BODY with ETag/Last-Modified/Range; ``failures`` 503s come first."""

    failures: ClassVar[list[int]] = [0]
    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *_args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.failures[0] > 0:
            self.failures[0] -= 1
            self.send_response(503)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.end_headers()
            return
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and self.headers.get("If-Range") in (None, ETAG):
            start = int(ranged[6:].rstrip("-"))
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        self.send_header("ETag", ETAG)
        self.send_header("Last-Modified", "Mon, 04 May 2026 02:00:00 GMT")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(BODY) - start))
        self.end_headers()
        self.wfile.write(BODY[start:])


@pytest.fixture()
def server() -> Iterator[str]:
    Handler.failures[0] = 0
    Handler.seen.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/extracts/{RPPS.name}"
    httpd.shutdown()
    httpd.server_close()


def test_download_then_not_modified(server: str, tmp_path: Path) -> None:
    first = download(server, tmp_path)
    assert first.path.read_bytes() == BODY and not first.not_modified
    assert first.sha256 == hashlib.sha256(BODY).hexdigest()
    second = download(server, tmp_path)
    assert second.not_modified and second.sha256 == first.sha256
    assert Handler.seen[-1]["If-None-Match"] == ETAG
    assert Handler.seen[-1]["If-Modified-Since"] == "Mon, 04 May 2026 02:00:00 GMT"


def test_interrupted_download_resumes_with_range(server: str, tmp_path: Path) -> None:
    download(server, tmp_path)
    target = tmp_path / RPPS.name
    # As if the connection dropped after 1000 bytes of a new transfer.
    target.rename(tmp_path / (RPPS.name + ".part"))
    (tmp_path / (RPPS.name + ".part")).write_bytes(BODY[:1000])
    meta = tmp_path / (RPPS.name + ".meta.json")
    meta.write_text(meta.read_text().replace('"complete": true', '"complete": false'))
    got = download(server, tmp_path)
    assert got.resumed and got.path.read_bytes() == BODY
    assert Handler.seen[-1]["Range"] == "bytes=1000-"


def test_server_errors_are_retried_with_backoff(server: str, tmp_path: Path) -> None:
    Handler.failures[0] = 2
    got = download(server, tmp_path, retries=3, backoff=0.01)
    assert got.path.read_bytes() == BODY and len(Handler.seen) == 3
    Handler.failures[0] = 5
    with pytest.raises(DownloadFailed, match="after 2 attempt"):
        download(server.replace(RPPS.name, "other.txt"), tmp_path, retries=1, backoff=0.01)


def test_import_from_a_url(server: str, run_import: Importer, tmp_path: Path) -> None:
    summary = run_import("rpps", server, download_dir=tmp_path)
    assert summary["added"] == 9 and summary["checksum"] == hashlib.sha256(BODY).hexdigest()


@pytest.mark.parametrize(
    "hostile",
    ["..%2F..%2Fescaped.txt", "%2E%2E%2F%2E%2E%2Fescaped.txt", "..%5C..%5Cescaped.txt"],
)
def test_a_hostile_name_stays_in_the_download_folder(
    server: str, tmp_path: Path, hostile: str
) -> None:
    folder = tmp_path / "downloads" / "inner"
    got = download(server.replace(RPPS.name, hostile), folder)
    assert got.path.parent == folder and got.path.name == "escaped.txt"
    assert got.path.read_bytes() == BODY
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "escaped.txt",
        "escaped.txt.meta.json",
    ]


@pytest.mark.parametrize("url", ["http://h/a/..", "http://h/a/%2E%2E", "http://h/"])
def test_a_url_without_a_file_name_is_saved_as_download(url: str) -> None:
    from referentials.directory.download import target_name

    assert target_name(url) == "download"
