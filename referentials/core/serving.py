"""The event loop of the served processes: one connection accepted per turn of the loop.

`socle serve --workers N` starts N processes that accept on one shared listening socket. When
connections arrive together (a pool of keep-alive connections opening at once), asyncio's
loop accepts every pending connection in one go, up to the listen backlog (2048 with uvicorn):
the first process to wake takes them all and the others none, so one process serves a whole
client's pool on one core while the other cores idle. Accepting one connection per turn
(nginx's default, `multi_accept off`) lets every woken process take its share, and a busy
process, whose loop turns more slowly, takes fewer. The listen backlog itself is unchanged.

Each served process also freezes the heap it built at start (`freeze_startup_heap`), writes
its metrics where every other one can add them up (`shared_metrics_directory`), and logs as the
server does (`log_config`).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import os
import shutil
import socket
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

# Read by prometheus-client when it is first imported: set it before any served process starts.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Followed by the server's process id: a directory whose server is gone can be told apart.
METRICS_PREFIX = "socle-metrics-"


class FairAcceptLoop(asyncio.SelectorEventLoop):
    """A selector loop that accepts at most one connection each time a listener is ready."""

    def _accept_connection(
        self,
        protocol_factory: Any,
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        # The listener stays registered (level-triggered): a connection still pending is
        # accepted on a later turn, by this process or another one.
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, 1, *args, **kwargs
        )


def freeze_startup_heap() -> int:
    """Move every object alive after start-up to the collector's permanent generation.

    A served process starts with about 200,000 tracked objects (the application, SQLAlchemy's
    mappings, the schemas) that live as long as it does, yet each full collection walked them
    all again: under load, pauses of 120 to 430 ms in which the process answered nobody, the
    tail of the latency distribution. Frozen, they are never walked again (CPython's
    `gc.freeze`, meant for this); a full collection then walks only what came later.
    Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def shared_metrics_directory(environ: MutableMapping[str, str], processes: int) -> Path | None:
    """A private directory for the metrics of ``processes`` served processes, set in ``environ``.

    Each process counts its own requests and INSi calls; whichever answers /metrics must add
    up everyone's, the INSi process's included (it makes every INSi call and answers no
    scrape). prometheus-client's multiprocess mode does that from files in one directory. One
    process needs none. A directory the operator set is theirs to choose and to empty: None.
    Otherwise the caller removes the one made here when the server stops.
    """
    if processes < 2 or environ.get(MULTIPROCESS_ENV):
        return None
    remove_orphaned_metrics()
    # 0700: this user only.
    folder = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-"))
    environ[MULTIPROCESS_ENV] = str(folder)
    return folder


def remove_orphaned_metrics() -> None:
    """Remove the metrics directories of this user's servers that are gone.

    A server killed outright (SIGKILL, the OOM killer) cannot remove its directory, and a
    server restarted after each such kill would leave one more every time.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        owner = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if owner.isdigit() and folder.stat().st_uid == os.getuid() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with Socle's own lines (and its libraries') at ``level``.

    uvicorn applies it in every served process. Its workers are started afresh (spawned): the
    server's own `logging.basicConfig` does not reach them, and without this their `socle.*`
    lines below WARNING were lost and the others printed bare (no level, no logger).
    """
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # The format of `logging.basicConfig`, as the server process and the other commands log.
    config["formatters"]["plain"] = {"format": "%(levelname)s:%(name)s:%(message)s"}
    config["handlers"]["plain"] = {
        "formatter": "plain",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    # uvicorn's loggers keep their own handlers and do not pass their lines up to this one.
    config["root"] = {"handlers": ["plain"], "level": level.upper()}
    return config
