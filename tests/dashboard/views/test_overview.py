"""The overview page and its panels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AccountStatus, CeligoState, SyncOutcome
from tests.dashboard.factories import (
    CeligoAccountFactory,
    ErrorRecordFactory,
    FlowFactory,
    FlowJobFactory,
    StepFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture(autouse=True)
def viewer(client, viewer):
    """The ``viewer`` persona (tests/dashboard/conftest.py), logged in: reads every page, acts on nothing."""
    client.force_login(viewer)
    return viewer


def test_it_is_the_home_page_and_loads_its_panels_with_htmx(client):
    response = client.get(reverse("home"))
    content = response.content.decode()
    assert response.status_code == 200
    for name in ("overview-accounts", "overview-ageing", "overview-trend", "overview-jobs"):
        assert f'hx-get="{reverse(name)}"' in content
    assert "chart.umd.min" in content
    assert 'data-refresh-seconds="15"' in content


def test_it_shows_failing_and_revoked_accounts_in_red_with_their_message(client):
    healthy = CeligoAccountFactory(name="Healthy")
    SyncRunFactory(account=healthy, errors_new=7)
    revoked = CeligoAccountFactory(
        name="Revoked", status=AccountStatus.REVOKED, status_message="Celigo answered 401: token revoked"
    )
    SyncRunFactory(account=revoked, outcome=SyncOutcome.FAILED, failure_message="401 <b>bold</b>")
    response = client.get(reverse("overview-accounts"))
    content = response.content.decode()
    assert content.count("table-danger") == 1
    assert "Celigo answered 401: token revoked" in content
    assert "401 &lt;b&gt;bold&lt;/b&gt;" in content
    assert "succeeded" in content


def test_it_shows_the_latest_sync_run_per_account(client):
    account = CeligoAccountFactory()
    SyncRunFactory(account=account, started_at=timezone.now() - timedelta(hours=2), errors_new=111)
    SyncRunFactory(account=account, started_at=timezone.now(), errors_new=222)
    [(_account, run)] = client.get(reverse("overview-accounts")).context["accounts"]
    assert run.errors_new == 222


def test_it_drills_down_from_account_to_step(client):
    flow = FlowFactory(name="Orders to NetSuite")
    step = StepFactory(flow=flow, name="Import invoices")
    ErrorRecordFactory.create_batch(3, step=step)
    ErrorRecordFactory(step=step, status=CeligoState.RESOLVED)
    other = ErrorRecordFactory()

    accounts = client.get(reverse("overview-drill"), {"level": "account"}).context["rows"]
    assert [(row.key, row.count) for row in accounts] == [(flow.account_id, 3), (other.account_id, 1)]
    integrations = client.get(reverse("overview-drill"), {"level": "integration", "parent": flow.account_id})
    [integration] = integrations.context["rows"]
    assert integration.count == 3
    assert integration.filter_query == {
        "account": str(flow.account_id),
        "integration_id": flow.integration.celigo_id,
    }
    flows = client.get(reverse("overview-drill"), {"level": "flow", "parent": integration.key}).context[
        "rows"
    ]
    assert [(row.label, row.count) for row in flows] == [("Orders to NetSuite", 3)]
    steps = client.get(reverse("overview-drill"), {"level": "step", "parent": flow.pk})
    [row] = steps.context["rows"]
    assert (row.label, row.count) == ("Import invoices", 3)
    assert f"flow_id={flow.celigo_id}&amp;step_id={step.celigo_id}" in steps.content.decode()


def test_it_drills_into_standalone_flows(client):
    flow = FlowFactory(integration=None, account=CeligoAccountFactory())
    ErrorRecordFactory(step=StepFactory(flow=flow))
    [row] = client.get(
        reverse("overview-drill"), {"level": "integration", "parent": flow.account_id}
    ).context["rows"]
    assert row.label == "Standalone flows"
    flows = client.get(reverse("overview-drill"), {"level": "flow", "account": flow.account_id}).context[
        "rows"
    ]
    assert [row.key for row in flows] == [flow.pk]


@pytest.mark.parametrize(
    "params",
    [{"level": "planet"}, {"level": "flow"}, {"level": "step", "parent": "x"}, {"level": "integration"}],
)
def test_it_answers_404_to_a_bad_drill_down(client, params):
    assert client.get(reverse("overview-drill"), params).status_code == 404


def test_it_buckets_open_errors_by_age_and_counts_those_past_retention(client):
    now = timezone.now()
    for age in (timedelta(minutes=5), timedelta(hours=3), timedelta(days=2), timedelta(days=10)):
        ErrorRecordFactory(occurred_at=now - age)
    ErrorRecordFactory(occurred_at=now - timedelta(days=40), purged=True)
    ErrorRecordFactory(occurred_at=now - timedelta(days=35))  # purge date passed, not yet seen purged
    ErrorRecordFactory(occurred_at=now - timedelta(days=40), status=CeligoState.RESOLVED)
    response = client.get(reverse("overview-ageing"))
    counts = [(bucket.label, bucket.count) for bucket in response.context["buckets"]]
    assert counts == [("< 1 hour", 1), ("< 1 day", 1), ("< 7 days", 1), ("< 30 days", 1), ("Older", 2)]
    assert response.context["past_retention"] == 2
    assert response.context["total"] == 6


def test_it_links_each_ageing_bucket_to_the_matching_list(client):
    now = timezone.now()
    ErrorRecordFactory(occurred_at=now - timedelta(hours=3))
    ErrorRecordFactory(occurred_at=now - timedelta(days=3))
    buckets = client.get(reverse("overview-ageing")).context["buckets"]
    day_bucket = buckets[1]
    listed = client.get(reverse("error-list"), day_bucket.filter_query).context["rows"]
    assert len(listed) == day_bucket.count == 1


def test_it_charts_new_and_closed_errors_per_day(client):
    now = timezone.now()
    ErrorRecordFactory.create_batch(2, occurred_at=now - timedelta(minutes=1))
    ErrorRecordFactory(
        occurred_at=now - timedelta(days=3),
        status=CeligoState.RESOLVED,
        resolved_at=now - timedelta(minutes=1),
    )
    response = client.get(reverse("overview-trend"))
    trend = response.context["trend"]
    assert len(trend.days) == 30
    assert trend.days[-1] == timezone.localdate().isoformat()
    assert trend.new[-1] == 2
    assert trend.closed[-1] == 1
    assert sum(trend.new) == 3
    assert 'id="trend-days"' in response.content.decode()


def test_it_lists_recent_flow_runs(client):
    job = FlowJobFactory(num_error=4, flow=FlowFactory(name="<i>Nightly</i> sync"))
    content = client.get(reverse("overview-jobs")).content.decode()
    assert "&lt;i&gt;Nightly&lt;/i&gt; sync" in content
    assert f"flow_id={job.flow.celigo_id}" in content


def test_it_keeps_overview_queries_bounded(client, django_assert_max_num_queries):
    for _ in range(5):
        account = CeligoAccountFactory()
        SyncRunFactory(account=account)
        ErrorRecordFactory.create_batch(2, step=StepFactory(flow=FlowFactory(integration__account=account)))
        FlowJobFactory()
    # Each page reads the person's profile once (role, restriction); a full page also their teams (the nav).
    for name, limit in [
        ("home", 5),
        ("overview-accounts", 5),
        ("overview-ageing", 11),
        ("overview-trend", 7),
        ("overview-jobs", 4),
    ]:
        with django_assert_max_num_queries(limit):
            assert client.get(reverse(name)).status_code == 200
    with django_assert_max_num_queries(5):
        client.get(reverse("overview-drill"), {"level": "account"})


def test_it_recounts_earlier_days_of_the_trend_at_most_every_ten_minutes_and_today_always(client):
    now = timezone.now()
    ErrorRecordFactory(occurred_at=now - timedelta(days=3))
    first = client.get(reverse("overview-trend")).context["trend"]
    ErrorRecordFactory(occurred_at=now - timedelta(days=3))
    ErrorRecordFactory(occurred_at=now)
    second = client.get(reverse("overview-trend")).context["trend"]
    assert sum(first.new) == 1
    assert second.new[-1] == 1  # today: live
    assert second.new[-4] == first.new[-4] == 1  # three days ago: from the cache
    assert "recounted every 10 minutes" in client.get(reverse("overview-trend")).content.decode()
    cache.clear()
    assert client.get(reverse("overview-trend")).context["trend"].new[-4] == 2
