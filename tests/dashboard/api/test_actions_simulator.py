"""Actions asked through the API reach Celigo (the simulator) with the fewest calls there can be."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from dashboard.models import BatchState, CeligoState, ErrorRecord
from dashboard.outbox.runner import run_batch
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import connect

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)

WORLD = {
    "integrations": 1,
    "flows_per_integration": 2,
    "steps_per_flow": 2,
    "standalone_flows": 0,
    "errors": 2600,
    "page_size": 500,
    "burst": 1000,
    "rate": 1000.0,
}


def calls(sim, endpoint: str) -> int:
    return sim.stats()["by_endpoint"].get(endpoint, 0)


@pytest.fixture
def synced(make_celigo_simulator):
    sim = make_celigo_simulator(**WORLD)
    account = connect(sim, rate_burst=1000, rate_per_second=1000.0)
    sync_account(account)
    sim.reset_stats()
    return sim, account


def per_step(queryset) -> Counter:
    return Counter(queryset.values_list("celigo_flow_id", "celigo_step_id"))


def test_resolve_by_filter_after_a_dry_run_takes_one_call_per_1000_errors_per_step(api_as, triager, synced):
    sim, account = synced
    client = api_as(triager)
    open_errors = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
    steps = per_step(open_errors)
    assert max(steps.values()) > 1000, "a step must need two chunks"

    ask = {"action": "resolve", "filter": {"status": "open"}}
    dry = client.post("/api/v1/actions/", {**ask, "dry_run": True}, format="json")
    assert dry.json() == {"dry_run": True, "count": sum(steps.values())}
    assert sim.stats()["requests"] == 0, "a dry run asks Celigo nothing"
    answer = client.post("/api/v1/actions/", ask, format="json")
    assert answer.status_code == 202
    assert answer.json()["state"] == BatchState.PENDING

    run_batch(answer.json()["id"])

    detail = client.get(f"/api/v1/actions/{answer.json()['id']}/").json()
    assert detail["state"] == BatchState.DONE
    assert detail["succeeded"] == detail["total"] == sum(steps.values())
    assert detail["outcomes"]["succeeded"] == detail["total"]
    assert calls(sim, "resolve") == sum(math.ceil(n / 1000) for n in steps.values())
    assert sim.stats()["rate_limited_429"] == 0
    assert not open_errors.exists()


def test_retry_by_ids_sends_only_errors_with_a_retry_data_key_in_one_call_per_step(api_as, triager, synced):
    sim, account = synced
    chosen = list(ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).order_by("id")[:300])
    with_key = [error for error in chosen if error.retry_data_key]
    answer = api_as(triager).post(
        "/api/v1/actions/", {"action": "retry", "ids": [error.pk for error in chosen]}, format="json"
    )
    assert answer.status_code == 202
    run_batch(answer.json()["id"])

    items = api_as(triager).get(f"/api/v1/actions/{answer.json()['id']}/items/?page_size=200").json()
    assert {item["outcome"] for item in items["results"]} <= {"succeeded", "skipped"}
    assert calls(sim, "retry") == len(per_step(ErrorRecord.objects.filter(pk__in=[e.pk for e in with_key])))
