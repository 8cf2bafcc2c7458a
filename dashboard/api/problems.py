"""Our refusals as DRF answers: a 400 naming the field, or a Celigo failure with what to do about it."""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

import celigo_api
from dashboard.outbox.selection import ActionRejected


def rejected(exc: ActionRejected, default_field: str = "non_field_errors") -> ValidationError:
    """``ActionRejected("team: no team with id 9")`` becomes ``{"team": ["no team with id 9"]}``."""
    field, sep, reason = str(exc).partition(": ")
    if not sep or " " in field:
        return ValidationError({default_field: [str(exc)]})
    return ValidationError({field.replace(" ", "_"): [reason]})


class CeligoUnavailable(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "Celigo did not answer; try again later."
    default_code = "celigo_unavailable"


class CeligoBusy(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The account's Celigo rate limit is busy right now; try again in a few seconds."
    default_code = "celigo_busy"

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait  # DRF's exception handler sends it as Retry-After


class CeligoGone(APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "celigo_not_found"


def celigo_problem(exc: celigo_api.CeligoError, what: str) -> APIException:
    if isinstance(exc, celigo_api.NotFound):
        return CeligoGone(f"Celigo no longer has the {what} of this error (it was purged or never kept).")
    if isinstance(exc, celigo_api.RateLimited):
        return CeligoBusy(max(1, int(exc.retry_after or 5)))
    if isinstance(exc, celigo_api.AuthenticationFailed):
        return CeligoUnavailable("Celigo rejected the account's API token; an admin must update it.")
    if isinstance(exc, celigo_api.ConnectionFailed | celigo_api.ServerError):
        return CeligoUnavailable()
    return CeligoUnavailable(f"Celigo refused the request ({exc.status or 'no status'}).")
