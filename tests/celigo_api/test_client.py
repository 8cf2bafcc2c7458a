"""Client behaviour on edge cases the simulator cannot easily produce, with ``responses`` under requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions
from responses import matchers

from celigo_api import (
    AuthenticationFailed,
    BucketConfig,
    CeligoClient,
    ConnectionFailed,
    ForeignNextPageURL,
    InProcessLimiter,
    MalformedResponse,
    OutcomeUnknown,
    RateLimited,
    RequestEvent,
    RetryPolicy,
    ServerError,
    ValidationFailed,
)

BASE = "https://api.integrator.io/v1"
TOKEN = "s3cr3t-token-value"
ERRORS_URL = BASE + "/flows/f1/s1/errors"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> Iterator[CeligoClient]:
    with CeligoClient(
        TOKEN,
        limiter=InProcessLimiter(),
        retry_policy=RetryPolicy(random=lambda: 0.5, base_delay=1.0),
        sleep=sleeps,
    ) as celigo:
        yield celigo


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


def _body(call: Any) -> Any:
    return json.loads(call.request.body or b"null")


def _refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def _reset() -> requests.ConnectionError:
    return requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


# --- construction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "root"),
    [
        ("na", "https://api.integrator.io"),
        ("eu", "https://api.eu.integrator.io"),
        ("au", "https://api.au.integrator.io"),
        ("ca", "https://api.ca.integrator.io"),
    ],
)
def test_it_picks_the_api_root_by_region(region: str, root: str) -> None:
    assert CeligoClient("t", region=region).base_url == root


def test_it_takes_a_base_url_with_or_without_v1() -> None:
    assert CeligoClient("t", base_url="http://localhost:9/eu/v1/").base_url == "http://localhost:9/eu"


def test_it_refuses_an_unknown_region_and_an_empty_token() -> None:
    with pytest.raises(ValueError, match="region"):
        CeligoClient("t", region="mars")
    with pytest.raises(ValueError, match="token"):
        CeligoClient("  ")


def test_it_sends_the_bearer_token_once_even_when_pasted_with_the_prefix(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        BASE + "/tokenInfo",
        json={"_userId": "u1", "scope": "*"},
        match=[matchers.header_matcher({"Authorization": "Bearer abc"})],
    )
    info = CeligoClient("Bearer abc ", limiter=InProcessLimiter()).token_info()
    assert (info.user_id, info.scope) == ("u1", "*")


# --- errors ----------------------------------------------------------------------------------------------


def test_it_maps_the_401_message_variant_without_retrying(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/tokenInfo", status=401, json={"message": "Unauthorized"})
    with pytest.raises(AuthenticationFailed, match="Unauthorized") as caught:
        client.token_info()
    assert caught.value.status == 401
    assert len(mocked.calls) == 1


def test_it_maps_the_errors_envelope(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.post(
        BASE + "/flows/f1/run",
        status=422,
        json={"errors": [{"code": "invalid_flow", "message": "Flow is disabled", "field": "disabled"}]},
    )
    with pytest.raises(ValidationFailed) as caught:
        client.run_flow("f1")
    assert (caught.value.code, caught.value.field, caught.value.status) == ("invalid_flow", "disabled", 422)


def test_it_retries_5xx_on_a_get(
    client: CeligoClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.get(BASE + "/tokenInfo", status=503, body="<html>down</html>")
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    assert client.token_info().user_id == "u1"
    assert (client.stats.calls, client.stats.retries, client.stats.server_errors) == (2, 1, 1)
    assert sleeps == [0.5]


def test_it_gives_up_after_the_policy_s_attempts(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/tokenInfo", status=500, json={})
    with pytest.raises(ServerError):
        client.token_info()
    assert len(mocked.calls) == 5


def test_it_honours_retry_after(client: CeligoClient, mocked: responses.RequestsMock, sleeps: Sleeps) -> None:
    mocked.get(BASE + "/tokenInfo", status=429, headers={"Retry-After": "2"}, json={})
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    client.token_info()
    assert sleeps == [2.0 + 0.5 * 0.25]
    assert client.stats.rate_limited == 1


def test_it_backs_off_a_429_without_retry_after(
    client: CeligoClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.get(BASE + "/tokenInfo", status=429, json={})
    mocked.get(BASE + "/tokenInfo", status=429, json={})
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    client.token_info()
    assert sleeps == [0.5, 1.0]


def test_it_raises_rate_limited_instead_of_sleeping_past_max_wait(
    client: CeligoClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.get(BASE + "/tokenInfo", status=429, headers={"Retry-After": "120"}, json={})
    with pytest.raises(RateLimited) as caught:
        client.token_info()
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 120
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_it_raises_rate_limited_when_the_local_bucket_wait_exceeds_max_wait(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    celigo = CeligoClient(
        TOKEN,
        limiter=InProcessLimiter(),
        bucket=BucketConfig(burst=1, rate=0.01),
        max_wait=5,
        pacing_margin=0,
    )
    celigo.token_info()
    with pytest.raises(RateLimited) as caught:
        celigo.token_info()
    assert caught.value.retry_after == pytest.approx(100, abs=1)
    assert caught.value.status is None
    assert len(mocked.calls) == 1


def test_it_paces_calls_through_the_limiter(mocked: responses.RequestsMock, sleeps: Sleeps) -> None:
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    limiter = InProcessLimiter(clock=lambda: 0.0)
    celigo = CeligoClient(
        TOKEN, limiter=limiter, bucket=BucketConfig(burst=2, rate=10.0), sleep=sleeps, pacing_margin=0
    )
    for _ in range(4):
        celigo.token_info()
    assert sleeps == pytest.approx([0.1, 0.2])
    assert celigo.stats.limiter_wait_seconds == pytest.approx(0.3)


def test_it_paces_a_little_inside_the_configured_bucket(
    mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    celigo = CeligoClient(
        TOKEN,
        limiter=InProcessLimiter(clock=lambda: 0.0),
        bucket=BucketConfig(burst=100, rate=30.0),
        sleep=sleeps,
    )
    for _ in range(99):
        celigo.token_info()
    # 2% smaller and slower: 98 immediately, then one per 1/29.4 s.
    assert sleeps == pytest.approx([1 / 29.4])
    assert celigo.bucket == BucketConfig(burst=100, rate=30.0)


def test_it_shares_the_bucket_of_clients_with_the_same_token(mocked: responses.RequestsMock) -> None:
    assert CeligoClient(TOKEN).limiter_key == CeligoClient(TOKEN).limiter_key
    assert CeligoClient(TOKEN).limiter_key != CeligoClient("other").limiter_key
    assert CeligoClient(TOKEN, limiter_key="acct-1").limiter_key == "acct-1"


def test_it_raises_malformed_response_after_retrying_bad_json_on_a_get(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/tokenInfo", body="{not json")
    mocked.get(BASE + "/tokenInfo", json={"_userId": "u1"})
    assert client.token_info().user_id == "u1"
    mocked.get(BASE + "/jobs/j1", body="{not json")
    with pytest.raises(MalformedResponse):
        client.get_job("j1")


def test_it_does_not_follow_redirects(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.get(BASE + "/tokenInfo", status=302, headers={"Location": "https://evil.example.com/"})
    with pytest.raises(MalformedResponse, match="redirect"):
        client.token_info()
    assert len(mocked.calls) == 1


# --- connection failures and non-idempotent calls --------------------------------------------------------


def test_it_reports_outcome_unknown_for_a_post_that_timed_out_after_sending(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(BASE + "/flows/f1/run", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown):
        client.run_flow("f1")
    assert len(mocked.calls) == 1


def test_it_records_outcome_unknown_per_retry_chunk_and_sends_each_chunk_once(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    client.chunk_size = 2
    mocked.post(BASE + "/flows/f1/s1/retry", body=_reset())
    mocked.post(BASE + "/flows/f1/s1/retry", json={"_id": "job-2", "type": "retry"})
    outcomes = client.retry_errors("f1", "s1", ["k1", "k2", "k3"])
    assert [o.ids for o in outcomes] == [("k1", "k2"), ("k3",)]
    assert isinstance(outcomes[0].error, OutcomeUnknown)
    assert not outcomes[0].ok
    assert (outcomes[1].ok, outcomes[1].job_id) == (True, "job-2")
    assert len(mocked.calls) == 2
    assert [_body(c)["retryDataKeys"] for c in mocked.calls] == [["k1", "k2"], ["k3"]]


def test_it_retries_a_post_refused_before_sending(
    client: CeligoClient, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mocked.post(BASE + "/flows/f1/run", body=_refused())
    mocked.post(BASE + "/flows/f1/run", status=201, json={"_jobId": "j9"})
    assert client.run_flow("f1") == "j9"
    assert len(mocked.calls) == 2


def test_it_does_not_retry_a_post_after_a_5xx(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.post(BASE + "/flows/f1/run", status=502, body="bad gateway")
    with pytest.raises(ServerError):
        client.run_flow("f1")
    assert len(mocked.calls) == 1


def test_it_retries_an_idempotent_resolve_after_a_reset(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.put(BASE + "/flows/f1/s1/resolved", body=_reset())
    mocked.put(BASE + "/flows/f1/s1/resolved", status=204)
    [outcome] = client.resolve_errors("f1", "s1", ["e1"])
    assert outcome.ok
    assert len(mocked.calls) == 2


def test_it_raises_connection_failed_when_a_get_keeps_failing(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(BASE + "/tokenInfo", body=_refused())
    with pytest.raises(ConnectionFailed) as caught:
        client.token_info()
    assert not caught.value.request_sent
    assert client.stats.connection_errors == 5


# --- chunked actions -------------------------------------------------------------------------------------


def test_it_resolves_in_chunks_and_records_each_outcome(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    ids = [f"e{i}" for i in range(2500)]
    mocked.put(BASE + "/flows/f1/s1/resolved", status=204)
    mocked.put(
        BASE + "/flows/f1/s1/resolved",
        status=422,
        json={"errors": [{"code": "invalid_field", "message": "x"}]},
    )
    mocked.put(BASE + "/flows/f1/s1/resolved", status=204)
    outcomes = client.resolve_errors("f1", "s1", ids)
    assert [len(o.ids) for o in outcomes] == [1000, 1000, 500]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ValidationFailed)
    assert _body(mocked.calls[0]) == {"errors": ids[:1000]}


def test_it_stops_a_batch_on_authentication_failure(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    client.chunk_size = 1
    mocked.put(BASE + "/flows/f1/s1/resolved", status=401, json={"message": "revoked"})
    with pytest.raises(AuthenticationFailed):
        client.resolve_errors("f1", "s1", ["a", "b", "c"])
    assert len(mocked.calls) == 1


def test_it_sends_both_tag_variants(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.put(BASE + "/flows/f1/s1/tags", status=204)
    client.tag_errors("f1", "s1", ["e1", ("e2", "r2")], ["t1"])
    client.tag_errors("f1", "s1", ["e1", ("e2", "r2")], ["t1"], variant="errors_rdk")
    bodies = [_body(c) for c in mocked.calls]
    assert bodies == [
        {"errorIds": ["e1", "e2"], "tagIds": ["t1"]},
        {"errors": [{"id": "e1", "rdk": None}, {"id": "e2", "rdk": "r2"}], "tagIds": ["t1"]},
    ]


def test_it_sends_both_assign_variants(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.put(BASE + "/flows/f1/s1/errors/assign", status=204)
    mocked.post(BASE + "/flows/f1/s1/errors/assign", status=204)
    client.assign_errors("f1", "s1", ["e1"], "a@example.com")
    client.assign_errors("f1", "s1", ["e1"], "a@example.com", variant="post", user_id="u1")
    assert [_body(c) for c in mocked.calls] == [
        {"errorIds": ["e1"], "email": "a@example.com"},
        {"errorIds": ["e1"], "email": "a@example.com", "_userId": "u1"},
    ]


# --- pagination ------------------------------------------------------------------------------------------


def test_it_treats_204_as_an_empty_list_everywhere(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    for path in ("/integrations", "/flows", "/exports", "/imports", "/ashares", "/tags", "/jobs"):
        mocked.get(BASE + path, status=204)
    mocked.get(ERRORS_URL, status=204)
    mocked.get(BASE + "/flows/f1/s1/resolved", status=204)
    mocked.get(BASE + "/integrations/i1/errors", status=204)
    mocked.get(BASE + "/flows/f1/errors", status=204)
    assert list(client.iter_integrations()) == []
    assert list(client.iter_flows()) == []
    assert list(client.iter_exports()) == []
    assert list(client.iter_imports()) == []
    assert list(client.iter_users()) == []
    assert list(client.iter_tags()) == []
    assert list(client.iter_jobs(_flowId="f1")) == []
    assert list(client.iter_open_errors("f1", "s1")) == []
    assert list(client.iter_resolved_errors("f1", "s1")) == []
    assert client.integration_error_summary("i1") == []
    assert client.flow_error_summary("f1") == []


def test_it_refuses_a_next_page_on_another_host_and_never_contacts_it(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        ERRORS_URL, json={"errors": [{"errorId": "e1"}], "nextPageURL": "https://evil.example.com/v1/x"}
    )
    errors = client.iter_open_errors("f1", "s1")
    assert next(errors).error_id == "e1"
    with pytest.raises(ForeignNextPageURL, match=r"evil\.example\.com"):
        next(errors)
    assert [c.request.url for c in mocked.calls] == [ERRORS_URL]


def test_it_refuses_a_link_header_on_another_host(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        BASE + "/flows",
        json=[{"_id": "f1"}],
        headers={"Link": '<https://evil.example.com/v1/flows>; rel="next"'},
    )
    with pytest.raises(ForeignNextPageURL):
        list(client.iter_flows())


def test_it_follows_link_headers_opaquely(client: CeligoClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        BASE + "/flows?include=name&_integrationId=i1",
        match=[matchers.query_string_matcher("include=name&_integrationId=i1")],
        json=[{"_id": "f1"}],
        headers={"Link": f'<{BASE}/flows?after=f1&limit=1>; rel="next"'},
    )
    mocked.get(
        BASE + "/flows",
        match=[matchers.query_string_matcher("after=f1&limit=1")],
        json=[{"_id": "f2"}],
        headers={"Link": '</v1/flows?after=f2&limit=1>; rel="next", </v1/flows>; rel="first"'},
    )
    mocked.get(
        BASE + "/flows", match=[matchers.query_string_matcher("after=f2&limit=1")], json=[{"_id": "f3"}]
    )
    assert [f.id for f in client.iter_flows("i1", include=["name"])] == ["f1", "f2", "f3"]


def test_it_stops_when_the_next_page_repeats_the_current_one(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(ERRORS_URL, json={"errors": [], "nextPageURL": "/v1/flows/f1/s1/errors"})
    with pytest.raises(MalformedResponse, match="page just read"):
        list(client.iter_open_errors("f1", "s1"))


@pytest.mark.parametrize(
    "next_page",
    [
        "/v1/flows/f1/s1/errors?after=e1",
        "/api/flows/f1/s1/errors?after=e1",
        "errors?after=e1",
        "flows/f1/s1/errors?after=e1",
        "https://api.integrator.io/v1/flows/f1/s1/errors?after=e1",
    ],
)
def test_it_keeps_the_caller_s_filters_on_every_next_page_form(
    client: CeligoClient, mocked: responses.RequestsMock, next_page: str
) -> None:
    first = "occurredAt_gte=2026-05-01T00%3A00%3A00.000Z&source=connection&source=mapping&_flowJobId=j1"
    mocked.get(
        ERRORS_URL,
        match=[matchers.query_string_matcher(first)],
        json={"errors": [{"errorId": "e1"}], "nextPageURL": next_page},
    )
    mocked.get(
        ERRORS_URL,
        match=[matchers.query_string_matcher("after=e1&" + first)],
        json={"errors": [{"errorId": "e2"}]},
    )
    errors = client.iter_open_errors(
        "f1",
        "s1",
        occurred_after="2026-05-01T00:00:00.000Z",
        sources=["connection", "mapping"],
        flow_job_id="j1",
    )
    assert [e.error_id for e in errors] == ["e1", "e2"]


def test_it_reads_resolved_errors_under_either_key(
    client: CeligoClient, mocked: responses.RequestsMock
) -> None:
    url = BASE + "/flows/f1/s1/resolved"
    mocked.get(
        url,
        match=[matchers.query_string_matcher("resolvedAt_gte=2026-05-01T00%3A00%3A00.000Z")],
        json={
            "resolved": [{"errorId": "e1", "resolvedBy": "auto"}],
            "nextPageURL": "/v1/flows/f1/s1/resolved?p=2",
        },
    )
    mocked.get(
        url,
        match=[matchers.query_string_matcher("p=2&resolvedAt_gte=2026-05-01T00%3A00%3A00.000Z")],
        json={"errors": [{"errorId": "e2", "resolvedBy": "u1"}]},
    )
    errors = list(client.iter_resolved_errors("f1", "s1", resolved_after="2026-05-01T00:00:00.000Z"))
    assert [(e.error_id, e.resolved_by) for e in errors] == [("e1", "auto"), ("e2", "u1")]


def test_it_pages_jobs_by_created_at_without_losing_a_shared_millisecond(
    mocked: responses.RequestsMock,
) -> None:
    celigo = CeligoClient(TOKEN, limiter=InProcessLimiter(), jobs_page_size=3)

    def job(job_id: str, ms: int) -> dict[str, Any]:
        return {"_id": job_id, "createdAt": f"2026-05-01T00:00:00.{ms:03d}Z"}

    jobs_url = BASE + "/jobs"
    mocked.get(
        jobs_url,
        match=[matchers.query_string_matcher("_flowId=f1&status=failed&status=completed")],
        json=[job("a", 9), job("b", 8), job("c", 7)],
    )
    # c and d share 007: the next page asks for <= 007 and gets c again, which is skipped.
    mocked.get(
        jobs_url,
        match=[
            matchers.query_string_matcher(
                "_flowId=f1&status=failed&status=completed&createdAt_lte=2026-05-01T00%3A00%3A00.007Z"
            )
        ],
        json=[job("c", 7), job("d", 7), job("e", 5)],
    )
    mocked.get(
        jobs_url,
        match=[
            matchers.query_string_matcher(
                "_flowId=f1&status=failed&status=completed&createdAt_lte=2026-05-01T00%3A00%3A00.005Z"
            )
        ],
        json=[job("e", 5)],
    )
    assert [j.id for j in celigo.iter_jobs(_flowId="f1", status=["failed", "completed"])] == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]


def test_it_steps_back_a_millisecond_when_a_whole_page_shares_one(mocked: responses.RequestsMock) -> None:
    celigo = CeligoClient(TOKEN, limiter=InProcessLimiter(), jobs_page_size=2)
    same = [
        {"_id": "a", "createdAt": "2026-05-01T00:00:00.007Z"},
        {"_id": "b", "createdAt": "2026-05-01T00:00:00.007Z"},
    ]
    mocked.get(
        BASE + "/jobs",
        match=[matchers.query_string_matcher("createdAt_lte=2026-05-01T00%3A00%3A00.007Z")],
        json=same,
    )
    mocked.get(
        BASE + "/jobs",
        match=[matchers.query_string_matcher("createdAt_lte=2026-05-01T00%3A00%3A00.006Z")],
        status=204,
    )
    jobs = celigo.iter_jobs(createdAt_lte="2026-05-01T00:00:00.007Z")
    assert [j.id for j in jobs] == ["a", "b"]


# --- secrets ---------------------------------------------------------------------------------------------


def test_it_never_shows_the_token(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture, sleeps: Sleeps
) -> None:
    events: list[RequestEvent] = []
    celigo = CeligoClient(
        TOKEN,
        limiter=InProcessLimiter(),
        on_request=events.append,
        sleep=sleeps,
        retry_policy=RetryPolicy(max_attempts=2),
    )
    mocked.get(BASE + "/tokenInfo", status=401, json={"message": f"bad token Bearer {TOKEN}"})
    mocked.get(ERRORS_URL, body=_reset())
    mocked.post(BASE + "/flows/f1/run", body=requests.ReadTimeout(f"timeout for {TOKEN}"))
    caught: list[Exception] = []
    with caplog.at_level(logging.DEBUG, logger="celigo_api"):
        for call in (
            celigo.token_info,
            lambda: list(celigo.iter_open_errors("f1", "s1")),
            lambda: celigo.run_flow("f1"),
        ):
            with pytest.raises(Exception) as info:  # noqa: PT011
                call()
            caught.append(info.value)
    texts = [repr(celigo), str(celigo.__dict__.get("limiter_key")), caplog.text, repr(events)]
    texts += [str(e) + repr(e.args) + repr(vars(e)) for e in caught]
    for text in texts:
        assert TOKEN not in text
    assert all(e.__cause__ is None for e in caught)
