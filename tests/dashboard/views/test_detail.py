"""The error detail page: fields, escaping, related errors, timeline, and the data fetched from Celigo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import ActivityKind, CeligoAccount, ErrorRecord
from dashboard.sync.run import sync_account
from tests.dashboard.factories import (
    ActivityFactory,
    CeligoAccountFactory,
    ErrorRecordFactory,
    StepFactory,
    UserFactory,
)

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def viewer(client, viewer):
    """The ``viewer`` persona (tests/dashboard/conftest.py), logged in: reads every page, acts on nothing."""
    client.force_login(viewer)
    return viewer


def detail(client, error):
    return client.get(reverse("error-detail", args=[error.pk]))


def test_it_shows_every_celigo_field(client):
    error = ErrorRecordFactory(
        code="422",
        source="application",
        classification="value",
        classified_by="autopilot",
        trace_key="SO-42",
        retry_data_key="rdk-42",
        flow_job_id="job-42",
        req_and_res_key="1700000000000-abc-422-POST",
        o_index=2,
        export_data_uri="https://example.com/records/42",
        import_data_uri="ns://invoice/42",
        resolved_by="auto",
        resolved_at=timezone.now(),
        retriable=True,
    )
    content = detail(client, error).content.decode()
    for value in (
        error.error_id, "SO-42", "rdk-42", "job-42", "1700000000000-abc-422-POST", "autopilot", "application",
        error.celigo_flow_id, error.celigo_step_id, "ns://invoice/42", "by auto", error.fingerprint,
    ):  # fmt: skip
        assert value in content, value
    assert 'href="https://example.com/records/42"' in content
    assert 'data-slot="error-actions"' in content


def test_it_links_to_its_flow_and_step(client):
    error = ErrorRecordFactory()
    content = detail(client, error).content.decode()
    assert f'href="/errors/?flow_id={error.celigo_flow_id}"' in content
    assert f"flow_id={error.celigo_flow_id}&amp;step_id={error.celigo_step_id}" in content


HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(1)",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_it_escapes_hostile_text_everywhere(client, payload):
    error = ErrorRecordFactory(
        message=payload * 3,
        code=payload,
        trace_key=payload,
        source=payload,
        export_data_uri=payload,
        import_data_uri="javascript:alert(1)",
        raw={"message": payload},
        step=StepFactory(name=payload),
    )
    ActivityFactory(error=error, data={"text": payload})
    ActivityFactory(error=error, message=payload)  # an entry recorded before entries carried data
    ErrorRecordFactory(trace_key=payload, account=error.account, message=payload)
    content = detail(client, error).content.decode()
    assert "<script>alert" not in content
    assert "<img src=x" not in content
    assert 'href="javascript:' not in content
    assert "&lt;script&gt;" in content or "javascript:alert(1)" in content


def test_it_collapses_long_messages_and_bounds_huge_ones(client):
    long_error = ErrorRecordFactory(message="x" * 5000)
    content = detail(client, long_error).content.decode()
    assert 'data-testid="message-details"' in content
    huge = ErrorRecordFactory(message="y" * 300_000)
    response = detail(client, huge)
    assert response.context["message_truncated"]
    assert len(response.context["message"]) == 100_000
    short = detail(client, ErrorRecordFactory(message="short")).content.decode()
    assert 'data-testid="message-details"' not in short


def test_it_shows_the_activity_timeline_from_first_seen(client):
    error = ErrorRecordFactory(first_seen_at=timezone.now() - timedelta(days=2))
    ActivityFactory(error=error, kind=ActivityKind.RESOLVED_IN_CELIGO, data={"resolved_by": "auto"})
    ActivityFactory(
        error=error, kind=ActivityKind.COMMENT, data={"text": "Customer fixed the SKU"}, actor=UserFactory()
    )
    content = detail(client, error).content.decode()
    first_seen = content.index("First seen by Error Desk")
    assert first_seen < content.index("Resolved in Celigo by auto") < content.index("Customer fixed the SKU")


def test_it_lists_errors_with_the_same_trace_key_or_fingerprint(client):
    error = ErrorRecordFactory(trace_key="SO-9", message="Order 1 failed: customer 'A' not found")
    same_trace = ErrorRecordFactory(trace_key="SO-9", account=error.account, message="Something else")
    same_message = ErrorRecordFactory(message="Order 2 failed: customer 'B' not found")
    ErrorRecordFactory(trace_key="SO-9", message="Other account, same key")
    response = detail(client, error)
    assert [e.pk for e in response.context["same_trace"]] == [same_trace.pk]
    assert [e.pk for e in response.context["same_fingerprint"]] == [same_message.pk]
    assert f"/errors/?fingerprint={error.fingerprint}" in response.content.decode()


def test_it_answers_404_for_an_unknown_error(client):
    assert client.get(reverse("error-detail", args=[999999])).status_code == 404


def test_it_keeps_detail_queries_bounded(client, django_assert_max_num_queries):
    error = ErrorRecordFactory(trace_key="SO-1")
    for _ in range(5):
        ActivityFactory(error=error, actor=UserFactory())
        ErrorRecordFactory(trace_key="SO-1", account=error.account)
    with django_assert_max_num_queries(10):
        assert detail(client, error).status_code == 200


# --- Data fetched from Celigo (the simulator plays Celigo) --------------------------------------------


@pytest.fixture
def synced(celigo_simulator):
    account = CeligoAccount(name="Simulated", base_url=celigo_simulator.base_url, region="")
    account.token = celigo_simulator.token
    account.save()
    sync_account(account, full=True)
    return account, celigo_simulator


def test_it_fetches_and_pretty_prints_the_retry_data(client, synced):
    account, _ = synced
    error = ErrorRecord.objects.filter(account=account).exclude(retry_data_key="").first()
    response = client.get(reverse("error-retry-data", args=[error.pk]))
    assert response.status_code == 200
    assert response.context.get("problem") is None
    assert response.context["pretty"].startswith(("{", "["))
    assert "\n  " in response.context["pretty"]  # indented


def test_it_says_when_celigo_no_longer_has_the_retry_data(client, synced):
    account, _ = synced
    error = ErrorRecord.objects.filter(account=account).exclude(retry_data_key="").first()
    error.retry_data_key = "purged-long-ago"
    error.save()
    response = client.get(reverse("error-retry-data", args=[error.pk]))
    assert response.status_code == 200
    assert "Celigo no longer has the retry data" in response.content.decode()


def test_it_explains_a_rejected_token_instead_of_failing(client, synced):
    account, simulator = synced
    error = ErrorRecord.objects.filter(account=account).exclude(retry_data_key="").first()
    simulator.revoke_token(simulator.token)
    response = client.get(reverse("error-retry-data", args=[error.pk]))
    assert response.status_code == 200
    assert "rejected the account&#x27;s API token" in response.content.decode()


def test_it_says_when_an_error_has_no_retry_data_key(client):
    error = ErrorRecordFactory(retry_data_key="", account=CeligoAccountFactory())
    response = client.get(reverse("error-retry-data", args=[error.pk]))
    assert "no retry data key" in response.content.decode()


def test_it_fetches_the_http_request_and_response(client, synced):
    account, _ = synced
    error = ErrorRecord.objects.filter(account=account).exclude(req_and_res_key="").first()
    assert error is not None
    response = client.get(reverse("error-http-log", args=[error.pk]))
    assert response.status_code == 200
    assert response.context.get("problem") is None
    [request, reply] = response.context["sides"]
    assert request[0] == "Request"
    assert reply[1].status is not None
    assert f'hx-get="/errors/{error.pk}/http-log/"' in detail(client, error).content.decode()


def test_it_says_when_the_http_log_is_gone(client, synced):
    account, _ = synced
    error = ErrorRecord.objects.filter(account=account).exclude(req_and_res_key="").first()
    error.req_and_res_key = "0-gone-404-GET"
    error.save()
    response = client.get(reverse("error-http-log", args=[error.pk]))
    assert "Celigo no longer has the HTTP request log" in response.content.decode()
