"""Errors of the directory context."""

from __future__ import annotations

from referentials.core.errors import AppError, Conflict, NotFound, ValidationFailed


class ImportFileError(AppError):
    """The file cannot be imported as it is (encoding, header, too many bad lines)."""

    status_code = 422
    code = "import_file_error"


class ImportAborted(ImportFileError):
    """Too many malformed lines: the import stopped and nothing was changed."""

    code = "import_aborted"


class DownloadFailed(AppError):
    status_code = 502
    code = "download_failed"


class ImportAlreadyRunning(Conflict):
    code = "import_running"


class UnknownSource(ValidationFailed):
    code = "unknown_source"


class ProfessionalNotFound(NotFound):
    pass


class StructureNotFound(NotFound):
    pass
