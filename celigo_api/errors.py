"""The exception tree raised by the Celigo client.

Every failure a caller can see is a :class:`CeligoError`. HTTP failures are chosen by status code
(docs/celigo-api.md §1.4); network failures become :class:`ConnectionFailed` or, for a
non-idempotent call whose request may already have reached Celigo, :class:`OutcomeUnknown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of Celigo's ``{"errors": [{code, message, field}]}`` envelope."""

    code: str | None
    message: str
    field: str | None = None


class CeligoError(Exception):
    """Base class of every error raised by :mod:`celigo_api`.

    ``status`` is the HTTP status when there was a response, ``method`` and ``path`` say which call failed
    (never the full URL with credentials, and never the token).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: tuple[ErrorDetail, ...] = (),
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details
        self.method = method
        self.path = path

    @property
    def code(self) -> str | None:
        """Celigo's machine code of the first error in the envelope, if any."""
        return self.details[0].code if self.details else None

    @property
    def field(self) -> str | None:
        """The field the first error in the envelope points at, if any."""
        return self.details[0].field if self.details else None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{where}{status}{self.message}"


class ClientError(CeligoError):
    """Celigo rejected the request (4xx). Never retried, except :class:`RateLimited`."""


class AuthenticationFailed(ClientError):
    """401: the token is wrong, revoked, purged or belongs to another region (docs/celigo-api.md §1.1,
    §1.2)."""


class PermissionDenied(ClientError):
    """403: the token is valid but its scope does not cover this resource."""


class NotFound(ClientError):
    """404: the resource does not exist (or, for legacy endpoints, not on EM 2.0 accounts, §3.5)."""


class ValidationFailed(ClientError):
    """400, 409 or 422: Celigo refused the input. ``code`` and ``field`` come from the envelope (§1.4)."""


class RateLimited(ClientError):
    """429 from Celigo, or a local wait longer than the client's ``max_wait``.

    ``retry_after`` is how many seconds to wait before trying again; a Celery task should reschedule itself
    rather than block a worker.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(CeligoError):
    """5xx from Celigo or a proxy in front of it."""


class ConnectionFailed(CeligoError):
    """The network failed: refused, reset, timed out.

    ``request_sent`` is False when the failure happened before any byte of the request left (connect refused,
    connect timeout, DNS), which makes even a non-idempotent call safe to repeat.
    """

    def __init__(self, message: str, *, request_sent: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent


class OutcomeUnknown(CeligoError):
    """A non-idempotent call (retry, run) was sent but no response came back.

    Celigo may or may not have acted on it, so the client never repeats it; the caller must check (for
    example list the step's retry jobs, §2.8) before trying again.
    """


class MalformedResponse(CeligoError):
    """A response that cannot be read: invalid JSON, or a shape the client cannot use."""


class ForeignNextPageURL(MalformedResponse):
    """A ``nextPageURL`` or ``Link`` points at another host; following it would send the token there."""


def parse_error_body(body: bytes) -> tuple[str, tuple[ErrorDetail, ...]]:
    """Read Celigo's error envelope, tolerating the variants the reference records.

    ``{"errors": [{code, message, field}]}`` is the documented form (§1.4); a 401 has been seen returning
    ``{"message": ...}`` instead (3P-SPEC). Anything else (HTML from a proxy, empty) yields a generic message.
    """
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    details: list[ErrorDetail] = []
    if isinstance(payload, Mapping):
        entries = payload.get("errors")
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, Mapping):
                    details.append(
                        ErrorDetail(
                            code=_str_or_none(entry.get("code")),
                            message=str(entry.get("message") or ""),
                            field=_str_or_none(entry.get("field")),
                        )
                    )
                elif isinstance(entry, str):
                    details.append(ErrorDetail(code=None, message=entry))
        elif isinstance(payload.get("message"), str):
            details.append(ErrorDetail(code=_str_or_none(payload.get("code")), message=payload["message"]))
    message = "; ".join(d.message for d in details if d.message) or "no error message in the response"
    return message, tuple(details)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


_BY_STATUS: dict[int, type[ClientError]] = {
    400: ValidationFailed,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: ValidationFailed,
    422: ValidationFailed,
    429: RateLimited,
}


def error_for_status(
    status: int,
    body: bytes,
    *,
    retry_after: float | None = None,
    method: str | None = None,
    path: str | None = None,
) -> CeligoError:
    """Build the exception for a non-2xx response, chosen by status code."""
    message, details = parse_error_body(body)
    kwargs: dict[str, Any] = {"status": status, "details": details, "method": method, "path": path}
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    cls = _BY_STATUS.get(status, ClientError)
    return cls(message, **kwargs)
