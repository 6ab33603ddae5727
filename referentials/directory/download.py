"""Downloading an extract before importing it: conditional, resumable, retried, checksummed.

The file lands in the download folder under the URL's last path segment, beside a
``.meta.json`` holding the ETag, Last-Modified, size and SHA-256 of the last complete copy.
A 304 answer reuses that copy; an interrupted transfer resumes with ``Range`` when the
server answered ``Accept-Ranges: bytes`` (and restarts when it ignores the range).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from referentials.directory.errors import DownloadFailed
from referentials.directory.sources import sha256_of

log = logging.getLogger("socle.directory.download")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    not_modified: bool
    resumed: bool


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _meta(path: Path) -> dict[str, Any]:
    meta = path.with_name(path.name + ".meta.json")
    return json.loads(meta.read_text("utf-8")) if meta.exists() else {}


def _save_meta(path: Path, meta: dict[str, Any]) -> None:
    path.with_name(path.name + ".meta.json").write_text(json.dumps(meta), "utf-8")


def _attempt(client: httpx.Client, url: str, target: Path) -> Downloaded:
    part = target.with_name(target.name + ".part")
    meta = _meta(target)
    headers: dict[str, str] = {}
    if target.exists() and meta.get("complete"):
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last_modified"):
            headers["If-Modified-Since"] = meta["last_modified"]
    offset = part.stat().st_size if part.exists() and meta.get("ranges") else 0
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if meta.get("etag"):
            # Resume only if the file on the server is still the one we started.
            headers["If-Range"] = meta["etag"]
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 304:
            return Downloaded(target, meta["sha256"], not_modified=True, resumed=False)
        if response.status_code >= 400:
            raise DownloadFailed(f"{url}: HTTP {response.status_code}", fields={"url": url})
        resumed = response.status_code == 206
        meta = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "ranges": response.headers.get("Accept-Ranges") == "bytes",
            "complete": False,
        }
        _save_meta(target, meta)
        with part.open("ab" if resumed else "wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
    part.replace(target)
    meta.update(complete=True, sha256=sha256_of(target), size=target.stat().st_size)
    _save_meta(target, meta)
    return Downloaded(target, meta["sha256"], not_modified=False, resumed=resumed)


def target_name(url: str) -> str:
    """The file name a URL is saved under: the last segment, after percent-decoding.

    Decoding first, then taking the base name, keeps ``..%2F`` or ``%2F`` from naming a
    path outside the download folder.
    """
    name = PurePosixPath(unquote(urlparse(url).path).replace("\\", "/")).name
    return name if name not in ("", ".", "..") else "download"


def download(
    url: str, folder: Path, *, retries: int = 3, backoff: float = 2.0, timeout: float = 60.0
) -> Downloaded:
    """Fetch ``url`` into ``folder``; transport errors and 5xx are retried with backoff."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / target_name(url)
    last: Exception | None = None
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for attempt in range(retries + 1):
            try:
                return _attempt(client, url, target)
            except (httpx.TransportError, DownloadFailed) as exc:
                last = exc
                status = str(exc)
                if isinstance(exc, DownloadFailed) and " HTTP 5" not in status:
                    raise
                if attempt < retries:
                    delay = backoff * (2**attempt)
                    log.warning("download of %s failed (%s); retry in %.1fs", url, exc, delay)
                    time.sleep(delay)
    raise DownloadFailed(
        f"{url}: failed after {retries + 1} attempt(s): {last}", fields={"url": url}
    )
