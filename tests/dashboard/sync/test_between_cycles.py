"""Errors that open and close between two incremental syncs, set up through the simulator's control API."""

from __future__ import annotations

import json
import urllib.request

import pytest

from celigo_api import RateLimited
from dashboard.models import Activity, ActivityKind, CeligoState, ErrorRecord, Step, SyncOutcome
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import celigo_truth, connect, open_error_ids, stored

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)


def control(sim, method: str, name: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the simulator on loopback
        f"{sim.base_url}/__sim__/{name}", data=json.dumps(body).encode(), method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def add_errors(sim, flow_id: str, step_id: str, count: int) -> list[str]:
    created = control(sim, "POST", "errors", {"flowId": flow_id, "stepId": step_id, "count": count})
    return [str(error["errorId"]) for error in created["errors"]]


def resolve(sim, flow_id: str, step_id: str, *, newest: int = 0, error_ids=(), by: str) -> list[str]:
    body: dict[str, object] = {"flowId": flow_id, "stepId": step_id, "by": by}
    body.update({"errorIds": list(error_ids)} if error_ids else {"newest": newest})
    return control(sim, "POST", "resolve", body)["errorIds"]


def steps_with_open_errors(sim) -> list[tuple[str, str]]:
    now = sim.state.clock.now_ms()
    return [key for key, store in sorted(sim.state.stores.items()) if store.open_count(now) > 3]


def set_up_between_cycles(sim) -> dict[str, list[str]]:
    """Between two syncs: a step gets 12 new errors, 5 of them and 2 older ones are resolved; another step
    of the same flow and a step of another flow each get errors that are all resolved again, so neither
    their count nor their ``lastErrorAt`` moves."""
    steps = steps_with_open_errors(sim)
    busy_flow, busy_step = steps[0]
    same_flow_step = next(s for f, s in steps if f == busy_flow and s != busy_step)
    other_flow, other_step = next((f, s) for f, s in steps if f != busy_flow)
    user = sim.state.users_who_resolve()[0]
    old = open_error_ids(sim, busy_flow, busy_step, 2)

    new = add_errors(sim, busy_flow, busy_step, 12)
    new_then_resolved = resolve(sim, busy_flow, busy_step, newest=5, by=user)
    resolve(sim, busy_flow, busy_step, error_ids=old, by="auto")
    quiet_same_flow = add_errors(sim, busy_flow, same_flow_step, 3)
    resolve(sim, busy_flow, same_flow_step, error_ids=quiet_same_flow, by=user)
    quiet_other_flow = add_errors(sim, other_flow, other_step, 4)
    resolve(sim, other_flow, other_step, error_ids=quiet_other_flow, by="auto")

    assert set(new_then_resolved) <= set(new)
    return {
        "new": new + quiet_same_flow + quiet_other_flow,
        "opened_and_closed": new_then_resolved + quiet_same_flow + quiet_other_flow,
        "old_resolved": old,
    }


def assert_recorded(account, sim, errors: dict[str, list[str]]) -> None:
    assert stored(account) == celigo_truth(sim)
    born = ErrorRecord.objects.filter(account=account, error_id__in=errors["opened_and_closed"])
    assert born.count() == len(errors["opened_and_closed"])
    for error in born:
        assert error.status == CeligoState.RESOLVED
        assert error.resolved_by
        assert error.resolved_at is not None
        assert error.occurred_at is not None
        assert error.occurred_at <= error.resolved_at
    entries = Activity.objects.filter(error__in=born, kind=ActivityKind.RESOLVED_IN_CELIGO)
    assert entries.count() == born.count()
    still_open = set(errors["new"]) - set(errors["opened_and_closed"])
    assert set(
        ErrorRecord.objects.filter(account=account, error_id__in=still_open).values_list("status", flat=True)
    ) == {CeligoState.OPEN}
    old = ErrorRecord.objects.filter(account=account, error_id__in=errors["old_resolved"])
    assert {(e.status, e.resolved_by) for e in old} == {(CeligoState.RESOLVED, "auto")}


def test_it_records_errors_that_opened_and_closed_between_two_syncs(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    sync_account(account, full=False)
    errors = set_up_between_cycles(sim)

    run = sync_account(account, full=False)
    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.kind == "incremental"
    assert run.errors_new == len(errors["new"])
    assert_recorded(account, sim, errors)


def test_it_records_them_through_spurious_429s(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    sync_account(account, full=False)
    errors = set_up_between_cycles(sim)
    control(sim, "PUT", "faults", {"spec": "429=0.25"})

    for _ in range(4):
        try:
            sync_account(account, full=False)
            break
        except RateLimited:  # five 429s in a row: the task would be rescheduled; run it again
            continue
    runs = list(account.sync_runs.filter(kind="incremental").order_by("-started_at")[:4])
    assert sum(run.rate_limited for run in runs) > 0
    assert runs[0].outcome == SyncOutcome.SUCCEEDED, runs[0].failure_message
    control(sim, "PUT", "faults", {"spec": ""})
    assert_recorded(account, sim, errors)


def test_a_flow_whose_summary_did_not_move_costs_only_the_steps_read(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    sync_account(account, full=False)
    (flow_id, step_id), *_ = steps_with_open_errors(sim)
    born = add_errors(sim, flow_id, step_id, 2)
    resolve(sim, flow_id, step_id, error_ids=born, by="auto")

    run = sync_account(account, full=False)
    assert run.errors_new == run.errors_closed == 2
    # Steps are read in order until the flow's runs' errors are all found: one resolved page each.
    steps = list(
        Step.objects.filter(flow__celigo_id=flow_id).order_by("pk").values_list("celigo_id", flat=True)
    )
    baseline = sync_account(account, full=False)
    assert baseline.steps_pulled == 0
    assert run.api_calls == baseline.api_calls + steps.index(step_id) + 1
