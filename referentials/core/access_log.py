"""Access logs carry the path only: query strings hold search traits (names, birth dates)."""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


def strip_query(target: str) -> str:
    """The path of a request target, without its query string or fragment."""
    return target.split("?", 1)[0].split("#", 1)[0]


class PathOnlyFilter(logging.Filter):
    """Rewrites uvicorn's access records so that no query string reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs (client, method, full_path, http_version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], strip_query(args[2]), *args[3:])
        return True


def install_path_only_access_log() -> None:
    """Put the filter on uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnlyFilter) for f in logger.filters):
        logger.addFilter(PathOnlyFilter())
