"""The retry policy's rules, one at a time."""

import pytest

from celigo_api import (
    AuthenticationFailed,
    CeligoError,
    ConnectionFailed,
    ForeignNextPageURL,
    MalformedResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryPolicy,
    ServerError,
    ValidationFailed,
)

POLICY = RetryPolicy(
    max_attempts=5, base_delay=1.0, max_delay=8.0, retry_after_jitter=0.5, random=lambda: 1.0
)


def test_it_retries_connection_errors_on_idempotent_calls() -> None:
    assert POLICY.decide(1, True, ConnectionFailed("reset", request_sent=True)) == 1.0


def test_it_retries_a_connection_error_before_sending_even_for_a_post() -> None:
    assert POLICY.decide(1, False, ConnectionFailed("refused", request_sent=False)) == 1.0


def test_it_never_repeats_a_post_whose_request_went_out() -> None:
    assert POLICY.decide(1, False, ConnectionFailed("reset", request_sent=True)) is None
    assert POLICY.decide(1, False, OutcomeUnknown("lost")) is None
    assert POLICY.decide(1, False, ServerError("bad gateway", status=502)) is None
    assert POLICY.decide(1, False, MalformedResponse("bad json", status=201)) is None


def test_it_retries_5xx_and_malformed_bodies_on_idempotent_calls() -> None:
    assert POLICY.decide(1, True, ServerError("x", status=503)) == 1.0
    assert POLICY.decide(1, True, MalformedResponse("x", status=200)) == 1.0


def test_it_never_retries_a_foreign_next_page() -> None:
    assert POLICY.decide(1, True, ForeignNextPageURL("x")) is None


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationFailed("x", status=401),
        NotFound("x", status=404),
        ValidationFailed("x", status=422),
        ValidationFailed("x", status=400),
    ],
)
def test_it_never_retries_other_4xx(error: CeligoError) -> None:
    assert POLICY.decide(1, True, error) is None


def test_it_honours_retry_after_with_jitter() -> None:
    assert POLICY.decide(1, True, RateLimited("x", status=429, retry_after=3)) == 3.5


def test_it_retries_a_429_even_for_a_post_because_celigo_refused_it() -> None:
    assert POLICY.decide(1, False, RateLimited("x", status=429, retry_after=1)) == 1.5


def test_it_backs_off_a_429_without_retry_after() -> None:
    assert POLICY.decide(3, True, RateLimited("x", status=429)) == 4.0


def test_it_does_not_retry_our_own_limiter_refusal() -> None:
    assert POLICY.decide(1, True, RateLimited("budget exhausted", retry_after=40)) is None


def test_it_caps_exponential_backoff() -> None:
    assert [POLICY.backoff(a) for a in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_it_uses_full_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, random=lambda: 0.25)
    assert policy.backoff(4) == 2.0


def test_it_gives_up_after_max_attempts() -> None:
    assert POLICY.decide(4, True, ServerError("x", status=500)) is not None
    assert POLICY.decide(5, True, ServerError("x", status=500)) is None
