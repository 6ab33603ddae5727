"""Errors raised by the INSi client; callers never see zeep or requests exceptions."""

from __future__ import annotations


class InsiError(Exception):
    """Base class of every INSi client error; `attempts` counts the HTTP calls made."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts


class InsiUnavailable(InsiError):
    """The teleservice cannot be reached or says it is temporarily unavailable."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        subcode: str | None = None,
        error_code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.subcode = subcode
        self.error_code = error_code
        self.http_status = http_status


class InsiTimeout(InsiError):
    """No answer within the configured operation timeout, after every retry."""


class InsiFault(InsiError):
    """A SOAP Fault other than "temporarily unavailable" (code Sender or Receiver)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        subcode: str | None,
        error_code: str | None,
        severity: str | None,
        response_xml: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.code = code
        self.subcode = subcode
        self.error_code = error_code
        self.severity = severity
        self.reason = message
        self.response_xml = response_xml

    def __str__(self) -> str:
        return f"{self.code}/{self.subcode}/{self.error_code}: {self.reason}"


class InsiProtocolError(InsiError):
    """The answer is not what the contract promises (malformed XML, HTTP error, bad shape)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        response_xml: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.http_status = http_status
        self.response_xml = response_xml
