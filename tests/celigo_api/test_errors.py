"""The error envelope and the exception chosen by status (docs/celigo-api.md §1.4)."""

import json

import pytest

from celigo_api import (
    AuthenticationFailed,
    ClientError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from celigo_api.errors import error_for_status, parse_error_body


def test_it_parses_the_errors_envelope() -> None:
    body = json.dumps(
        {
            "errors": [
                {"code": "invalid_field", "message": "bad date", "field": "occurredAt_gte"},
                {"code": "invalid_ref", "message": "no such flow"},
            ]
        }
    ).encode()
    error = error_for_status(422, body, method="GET", path="/v1/x")
    assert isinstance(error, ValidationFailed)
    assert (error.code, error.field) == ("invalid_field", "occurredAt_gte")
    assert [d.code for d in error.details] == ["invalid_field", "invalid_ref"]
    assert str(error) == "GET /v1/x: HTTP 422: bad date; no such flow"


def test_it_parses_the_401_message_variant() -> None:
    error = error_for_status(401, b'{"message": "Unauthorized"}')
    assert isinstance(error, AuthenticationFailed)
    assert error.message == "Unauthorized"


def test_it_survives_a_body_that_is_not_json() -> None:
    error = error_for_status(502, b"<html>Bad gateway</html>")
    assert isinstance(error, ServerError)
    assert error.message == "no error message in the response"
    assert parse_error_body(b"")[1] == ()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationFailed),
        (401, AuthenticationFailed),
        (403, PermissionDenied),
        (404, NotFound),
        (409, ValidationFailed),
        (410, ClientError),
        (422, ValidationFailed),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_it_chooses_the_exception_by_status(status: int, cls: type) -> None:
    error = error_for_status(status, b"{}")
    assert type(error) is cls
    assert error.status == status


def test_it_carries_retry_after_on_429() -> None:
    error = error_for_status(
        429, b'{"errors":[{"code":"rate_limited","message":"slow down"}]}', retry_after=7
    )
    assert isinstance(error, RateLimited)
    assert (error.retry_after, error.code) == (7, "rate_limited")
