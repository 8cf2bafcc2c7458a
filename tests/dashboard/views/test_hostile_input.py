"""Each crafted input that once answered 500, and what it answers now (docs/architecture.md "Bad input").

Every case here failed before its fix. ``test_no_server_errors.py`` then drives every parameter of the same
views with generated hostile values.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

import celigo_api
from celigo_api.simulator.config import FaultSpec
from dashboard import timeline
from dashboard.actions.retry_data import do_edit_retry_data
from dashboard.celigo import web_client_for
from dashboard.models import (
    ActionBatch,
    Activity,
    ActivityKind,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    SavedView,
    Tag,
)
from dashboard.outbox.selection import ActionRejected
from dashboard.sync.run import sync_account
from dashboard.views.errors import pretty_body
from tests.dashboard.factories import ActionBatchFactory, ErrorRecordFactory

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db

HUGE = "1" + "0" * 25  # 10^25
YEAR_0 = "0001-01-01T00:00:00+01:00"  # a year 0 once in UTC
YEAR_10000 = "9999-12-31T23:59:59-05:00"  # a year 10000 once in UTC


@pytest.fixture
def web(triager) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(triager)
    return client


@pytest.mark.parametrize("moment", [YEAR_0, YEAR_10000])
def test_a_time_outside_any_errors_is_a_form_error_on_the_list_and_the_groups(web, moment):
    ErrorRecordFactory()
    for extra in ("", "&group=fingerprint"):
        response = web.get(f"/errors/?occurred_after={moment}{extra}".replace("+", "%2B"))
        assert response.status_code == 200
        assert "Use a time between 1900 and 8999." in response.content.decode()
        assert not response.context.get("rows")


@pytest.mark.parametrize("name", ["occurred_after", "occurred_before", "resolved_after", "resolved_before"])
def test_a_time_outside_any_errors_is_a_400_on_the_count(web, name):
    response = web.get("/errors/count/", {name: YEAR_0})
    assert response.status_code == 400


def test_the_csv_export_refuses_a_bad_filter_before_it_starts_streaming(web):
    ErrorRecordFactory()
    response = web.get("/errors/export.csv", {"occurred_before": YEAR_10000})
    assert response.status_code == 400
    assert "occurred_before: Use a time between 1900 and 8999." in response.content.decode()


def test_select_all_with_a_time_outside_any_errors_is_refused_with_a_message(web):
    ErrorRecordFactory()
    response = web.post(
        "/errors/actions/",
        {"action": "resolve", "select_all": "1", "filter": f"occurred_after={YEAR_0}".replace("+", "%2B")},
        follow=True,
    )
    assert response.status_code == 200
    assert "Use a time between 1900 and 8999." in response.content.decode()
    assert not ActionBatch.objects.exists()


@pytest.mark.parametrize(
    "url", ["/errors/?group=fingerprint&page={}", "/errors/?page={}", "/actions/?page={}"]
)
def test_a_huge_page_number_answers_a_page(web, url):
    ErrorRecordFactory()
    assert web.get(url.format(HUGE)).status_code == 200


def test_a_huge_page_number_on_a_batch_answers_its_last_page(web, triager):
    batch = ActionBatchFactory(actor=triager)
    assert web.get(f"/actions/{batch.pk}/?page={HUGE}").status_code == 200


@pytest.mark.parametrize("parent", [HUGE, "-1", "0", "1e3"])
def test_a_drill_down_into_a_parent_that_cannot_exist_is_a_404(web, parent):
    assert web.get("/overview/drill/", {"level": "flow", "parent": parent}).status_code == 404


def test_a_bulk_action_on_an_id_that_cannot_exist_selects_nothing(web):
    ErrorRecordFactory()
    response = web.post("/errors/actions/", {"action": "resolve", "ids": ["1" + "0" * 29]}, follow=True)
    assert "select at least one error" in response.content.decode()
    assert not ActionBatch.objects.exists()


# --- JSON no parser can follow -----------------------------------------------------------------------


@pytest.mark.parametrize("view", ["error-retry-data-review", "error-retry-data-save"])
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("[" * 100_000, "nested deeper than 64 levels"),
        ("[" * 65 + "]" * 65, "nested deeper than 64 levels"),
        ('{"sku": "\\ud800"}', "an unpaired surrogate"),
        ('{"sku": "A\\u0000B"}', "a NUL character"),
        ('{"\\u0000": 1}', "a NUL character"),
    ],
)
def test_retry_data_no_database_or_parser_can_hold_is_explained(web, view, data, problem):
    error = ErrorRecordFactory(retry_data_key="rdk")
    response = web.post(reverse(view, args=[error.pk]), {"data": data, "before": "{}"})
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not Activity.objects.exists()


def test_an_http_log_body_nested_too_deep_is_shown_as_text():
    body = "[" * 100_000
    assert pretty_body(body) == body[:100_000]


# --- NUL characters, which PostgreSQL cannot store ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "form", "field"),
    [
        ("/errors/views/", {"name": "mine\x00", "query_string": "status=open"}, "name"),
        ("/errors/views/", {"name": "mine", "query_string": "status=open\x00"}, "query_string"),
        ("error-action", {"action": "comment", "text": "see\x00this"}, "text"),
        ("error-action", {"action": "tag", "tags": "ur\x00gent"}, "tags"),
        ("/errors/?q=a\x00b", None, "q"),
    ],
)
def test_a_nul_character_is_a_400_naming_the_field_and_nothing_is_stored(web, url, form, field):
    error = ErrorRecordFactory()
    if not url.startswith("/"):
        url = reverse(url, args=[error.pk])
    response = web.post(url, form) if form is not None else web.get(url)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}: ")
    assert "NUL character" in response.content.decode()
    assert not SavedView.objects.exists()
    assert not Tag.objects.exists()
    assert not Activity.objects.exists()


# --- The retry-data edit, bounded and on record ------------------------------------------------------


@pytest.fixture
def retriable(celigo_simulator):
    account = CeligoAccount(name="Simulated", base_url=celigo_simulator.base_url, region="")
    account.token = celigo_simulator.token
    account.save()
    sync_account(account, full=True)
    return (
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
        .exclude(retry_data_key="")
        .select_related("account")
        .first()
    )


class AnswerLostOnPut:
    """The real client, but every answer to the PUT is cut off after Celigo acted (the simulator's reset)."""

    def __init__(self, simulator, error):
        self.simulator = simulator
        self.client = web_client_for(error.account)

    def get_retry_data(self, *args):
        return self.client.get_retry_data(*args)

    def put_retry_data(self, *args):
        self.simulator.set_faults(FaultSpec(reset=1.0))
        try:
            return self.client.put_retry_data(*args)
        finally:
            self.simulator.set_faults(FaultSpec())


def test_an_edit_whose_answer_is_lost_stays_on_the_timeline_as_unknown(celigo_simulator, retriable, triager):
    client = web_client_for(retriable.account)
    key = (retriable.celigo_flow_id, retriable.celigo_step_id, retriable.retry_data_key)
    before = client.get_retry_data(*key)
    after = {"edited": True}
    with pytest.raises(celigo_api.ConnectionFailed):
        do_edit_retry_data(triager, retriable, after, client=AnswerLostOnPut(celigo_simulator, retriable))
    edit = Activity.objects.get(error=retriable, kind=ActivityKind.RETRY_DATA_EDITED)
    assert edit.data["outcome"] == "unknown"
    assert edit.data["before"] == before.data
    assert edit.data["after"] == after
    assert "its answer was lost" in timeline.describe(edit)
    assert client.get_retry_data(*key).data == after  # Celigo did save it: "unknown" was the honest word


def test_an_edit_is_on_record_as_pending_before_the_put_is_sent(celigo_simulator, retriable, triager):
    seen: list[str] = []

    class Watching(AnswerLostOnPut):
        def put_retry_data(self, *args):
            seen.extend(
                a.data["outcome"] for a in Activity.objects.filter(kind=ActivityKind.RETRY_DATA_EDITED)
            )
            return self.client.put_retry_data(*args)

    do_edit_retry_data(triager, retriable, {"edited": True}, client=Watching(celigo_simulator, retriable))
    assert seen == ["pending"]
    assert Activity.objects.get(kind=ActivityKind.RETRY_DATA_EDITED).data["outcome"] == "saved"


def test_celigo_refusing_an_edit_is_on_record_as_refused(celigo_simulator, retriable, triager):
    class Refused(AnswerLostOnPut):
        def put_retry_data(self, flow, step, key, data):
            return self.client.put_retry_data(flow, step, "no-such-key", data)

    with pytest.raises(celigo_api.NotFound):
        do_edit_retry_data(triager, retriable, {"edited": True}, client=Refused(celigo_simulator, retriable))
    assert Activity.objects.get(kind=ActivityKind.RETRY_DATA_EDITED).data["outcome"] == "refused"


def test_a_slow_celigo_gets_a_clear_answer_within_seconds(celigo_simulator, retriable, triager):
    web = Client()
    web.force_login(triager)
    celigo_simulator.set_faults(FaultSpec(latency=8.0))
    started = time.monotonic()
    response = web.post(
        reverse("error-retry-data-save", args=[retriable.pk]),
        {"data": json.dumps({"edited": True}), "before": "{}"},
    )
    elapsed = time.monotonic() - started
    celigo_simulator.set_faults(FaultSpec())
    assert "Celigo did not answer" in response.content.decode()
    assert elapsed < 12  # two 4 s attempts and a short pause, not five 30 s ones
    assert not Activity.objects.exists()  # it never got past the GET


def test_a_rejected_edit_says_why_without_calling_celigo(retriable, triager):
    with pytest.raises(ActionRejected, match="NUL"):
        do_edit_retry_data(triager, retriable, {"a": "\x00"})
