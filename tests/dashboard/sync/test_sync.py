"""The sync engine against the simulator over real HTTP, on the test database (PostgreSQL or SQLite)."""

from __future__ import annotations

import threading

import pytest
from django.db.models import Count

from celigo_api import BucketConfig, CeligoClient, InProcessLimiter, StepError
from celigo_api.simulator import FaultSpec
from dashboard.models import (
    AccountStatus,
    Activity,
    ActivityKind,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    Flow,
    FlowJob,
    Integration,
    Step,
    SyncKind,
    SyncOutcome,
)
from dashboard.sync.context import SyncContext, acquire_lease
from dashboard.sync.cycle import PARALLEL_MIN_STEPS
from dashboard.sync.run import SyncBusy, sync_account
from dashboard.sync.step import StepPull

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)

THIRTY_ONE_DAYS = 31 * 24 * 3600


def connect(sim, name="Sim", **options) -> CeligoAccount:
    account = CeligoAccount(name=name, base_url=sim.base_url, region="", **options)
    account.token = sim.token
    account.save()
    return account


def celigo_truth(sim) -> dict[tuple[str, str, str], str]:
    """Every error the simulator holds, as (flow, step, errorId) → open/resolved, read through the client."""
    truth: dict[tuple[str, str, str], str] = {}
    with CeligoClient(
        sim.token,
        base_url=sim.base_url,
        limiter=InProcessLimiter(),
        bucket=BucketConfig(burst=10_000, rate=10_000),
    ) as client:
        for flow in client.iter_flows():
            for step_id in flow.step_ids:
                for error in client.iter_open_errors(flow.id, step_id):
                    truth[(flow.id, step_id, error.error_id)] = CeligoState.OPEN
                for error in client.iter_resolved_errors(flow.id, step_id):
                    truth[(flow.id, step_id, error.error_id)] = CeligoState.RESOLVED
    return truth


def stored(account: CeligoAccount, *, include_purged: bool = False) -> dict[tuple[str, str, str], str]:
    rows = ErrorRecord.objects.filter(account=account)
    if not include_purged:
        rows = rows.filter(purged=False)
    return {(r.celigo_flow_id, r.celigo_step_id, r.error_id): r.status for r in rows}


def open_step(sim) -> tuple[str, str]:
    """A (flow, step) of the simulated world that has open errors."""
    for (flow_id, step_id), store in sorted(sim.state.stores.items()):
        if store.open_count(sim.state.clock.now_ms()) > 3:
            return flow_id, step_id
    raise AssertionError("the simulated world has no step with open errors")


def open_error_ids(sim, flow_id: str, step_id: str, count: int) -> list[str]:
    with CeligoClient(
        sim.token,
        base_url=sim.base_url,
        limiter=InProcessLimiter(),
        bucket=BucketConfig(burst=10_000, rate=10_000),
    ) as client:
        return [
            e.error_id for _, e in zip(range(count), client.iter_open_errors(flow_id, step_id), strict=False)
        ]


def test_it_copies_every_open_and_resolved_error_on_the_first_sync(celigo_simulator):
    account = connect(celigo_simulator)
    run = sync_account(account)

    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.kind == SyncKind.FULL  # the first sync is a full reconcile
    truth = celigo_truth(celigo_simulator)
    assert stored(account) == truth
    assert run.errors_new == len(truth)
    assert run.api_calls > 0
    assert run.rate_limited == 0
    # No duplicates: the unique constraint holds and every key appears once.
    assert (
        ErrorRecord.objects.values("celigo_flow_id", "celigo_step_id", "error_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
        == 0
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.OK
    assert Integration.objects.filter(account=account).count() == 2
    assert FlowJob.objects.filter(account=account).exists()


def test_it_keeps_names_and_structure_and_links_rows(celigo_simulator):
    account = connect(celigo_simulator)
    sync_account(account)
    error = ErrorRecord.objects.filter(account=account).select_related("flow", "step").first()
    assert error.flow.name
    assert error.step.name
    assert error.step.kind in {"export", "import"}
    assert error.fingerprint
    assert error.raw["errorId"] == error.error_id


def test_it_includes_standalone_flows(celigo_simulator):
    account = connect(celigo_simulator)
    sync_account(account)
    standalone = Flow.objects.filter(account=account, integration__isnull=True)
    assert standalone.exists()
    truth = celigo_truth(celigo_simulator)
    standalone_ids = set(standalone.values_list("celigo_id", flat=True))
    expected = {key for key in truth if key[0] in standalone_ids}
    assert expected, "the small world's standalone flow has errors"
    assert expected <= set(stored(account))


def test_it_walks_every_page_of_a_big_step(make_celigo_simulator):
    sim = make_celigo_simulator(page_size=7, next_page_form="relative", next_page_keeps_filters=False)
    account = connect(sim)
    sync_account(account)
    assert stored(account) == celigo_truth(sim)


def test_a_no_change_cycle_costs_one_call_per_integration_plus_two(celigo_simulator):
    account = connect(celigo_simulator)
    sync_account(account)
    sync_account(account, full=False)  # settles the flow summaries a full reconcile derives from steps

    run = sync_account(account, full=False)
    integrations = Integration.objects.filter(account=account).count()
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert run.api_calls <= integrations + 2
    assert run.errors_new == run.errors_updated == run.errors_closed == 0
    assert run.steps_pulled == 0


def test_it_pulls_only_the_changed_step_after_new_errors(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    sync_account(account, full=False)
    flow_id, step_id = open_step(sim)
    for _ in range(5):
        sim.state.add_error(flow_id, step_id)

    run = sync_account(account, full=False)
    assert run.errors_new == 5
    assert run.steps_pulled == 1
    integrations = Integration.objects.filter(account=account).count()
    # + the flow's step summary, one open page and one resolved page (errors may open and close unseen)
    assert run.api_calls <= integrations + 2 + 1 + 1 + 1
    assert stored(account) == celigo_truth(sim)


def test_it_closes_errors_resolved_in_celigo_with_who_and_when(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    flow_id, step_id = open_step(sim)
    ids = open_error_ids(sim, flow_id, step_id, 3)
    user_id = sim.state.users_who_resolve()[0]
    sim.state.resolve(flow_id, step_id, ids, by=user_id)

    run = sync_account(account, full=False)
    assert run.errors_closed == 3
    closed = ErrorRecord.objects.filter(account=account, error_id__in=ids)
    assert {e.status for e in closed} == {CeligoState.RESOLVED}
    assert {e.resolved_by for e in closed} == {user_id}
    assert all(e.resolved_at for e in closed)
    assert Activity.objects.filter(error__in=closed, kind=ActivityKind.RESOLVED_IN_CELIGO).count() == 3
    assert stored(account) == celigo_truth(sim)


def test_it_records_auto_resolution_after_a_retry(make_celigo_simulator):
    sim = make_celigo_simulator(retry_success_ratio=1.0, retry_job_seconds=(0.0, 0.0))
    account = connect(sim)
    sync_account(account)
    flow_id, step_id = open_step(sim)
    keys = {}
    with CeligoClient(sim.token, base_url=sim.base_url, limiter=InProcessLimiter()) as client:
        for error in client.iter_open_errors(flow_id, step_id):
            if error.retry_data_key and len(keys) < 2:
                keys[error.error_id] = error.retry_data_key
        client.retry_errors(flow_id, step_id, list(keys.values()))
    sim.advance_clock(5)

    sync_account(account, full=False)
    retried = ErrorRecord.objects.filter(account=account, error_id__in=list(keys))
    assert {(e.status, e.resolved_by) for e in retried} == {(CeligoState.RESOLVED, "auto")}


def test_it_marks_errors_purged_when_celigo_forgets_them(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    before = ErrorRecord.objects.filter(account=account).count()
    sim.advance_clock(THIRTY_ONE_DAYS)

    run = sync_account(account, full=True)
    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.errors_purged > 0
    # Nothing is lost: every row stays, flagged purged.
    assert ErrorRecord.objects.filter(account=account).count() >= before
    assert stored(account) == celigo_truth(sim)


def test_a_sync_under_injected_faults_ends_with_the_rows_of_a_clean_sync(make_celigo_simulator):
    faults = FaultSpec(error_500=0.06, error_502=0.03, error_503=0.03, reset=0.04, malformed=0.04)
    sim = make_celigo_simulator(faults=faults)
    account = connect(sim)
    outcomes = []
    for _ in range(8):
        run = sync_account(account, full=True)
        outcomes.append(run.outcome)
        if run.outcome == SyncOutcome.SUCCEEDED:
            break
    assert SyncOutcome.SUCCEEDED in outcomes, [r.failure_message for r in account.sync_runs.all()]
    sim.set_faults(FaultSpec())
    assert stored(account) == celigo_truth(sim)
    assert celigo_simulator_stat(sim, "faults")


def celigo_simulator_stat(sim, name):
    return sim.stats()[name]


def test_two_concurrent_syncs_of_one_account_do_not_both_run(make_celigo_simulator):
    sim = make_celigo_simulator(faults=FaultSpec(latency=0.02))
    account = connect(sim)
    results: list[object] = []

    def attempt() -> None:
        try:
            results.append(sync_account(CeligoAccount.objects.get(pk=account.pk)))
        except SyncBusy as exc:
            results.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(type(r).__name__ for r in results) == ["SyncBusy", "SyncRun"]
    assert account.sync_runs.count() == 1


def test_a_held_lease_refuses_a_second_sync(celigo_simulator):
    account = connect(celigo_simulator)
    assert acquire_lease(account.pk, "another-worker")
    with pytest.raises(SyncBusy):
        sync_account(account)


def test_a_revoked_token_marks_the_account_with_a_clear_message(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    sim.revoke_token(sim.token)

    run = sync_account(account, full=False)
    assert run.outcome == SyncOutcome.FAILED
    account.refresh_from_db()
    assert account.status == AccountStatus.REVOKED
    assert "rejected the API token" in account.status_message
    assert sim.token not in account.status_message
    assert sim.token not in run.failure_message


def test_it_stores_malformed_errors_as_well_as_it_can(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    flow_id, step_id = open_step(sim)
    huge = sim.state.add_error(flow_id, step_id, overrides={"message": "x" * 1_000_000})
    odd = sim.state.add_error(
        flow_id,
        step_id,
        overrides={
            "message": "nul\x00byte, lone \ud800 surrogate, 注文 ❌",
            "code": 422,
            "oIndex": "7",
            "occurredAt": huge["occurredAt"],
            "source": None,
            "traceKey": "t" * 2000,
        },
    )

    run = sync_account(account, full=False)
    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.errors_malformed == 0
    big = ErrorRecord.objects.get(account=account, error_id=huge["errorId"])
    assert len(big.message) == 1_000_000  # whole; pages bound what they show
    weird = ErrorRecord.objects.get(account=account, error_id=odd["errorId"])
    # NUL is kept (escaped in storage); an unpaired surrogate has no UTF-8 form and becomes U+FFFD.
    assert weird.message == "nul\x00byte, lone \ufffd surrogate, 注文 ❌"
    assert weird.code == "422"
    assert weird.o_index == 7
    assert len(weird.trace_key) == 500  # the indexed column; the whole key is in raw
    assert weird.celigo_value("trace_key") == "t" * 2000


def test_a_sync_that_failed_midway_repeats_the_missing_work(make_celigo_simulator):
    sim = make_celigo_simulator()
    account = connect(sim)
    sync_account(account)
    flow_id, step_id = open_step(sim)
    for _ in range(30):
        sim.state.add_error(flow_id, step_id)
    sim.set_faults(FaultSpec(error_500=1.0))
    failed = sync_account(account, full=False)
    assert failed.outcome == SyncOutcome.FAILED
    sim.set_faults(FaultSpec())

    run = sync_account(account, full=False)
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert stored(account) == celigo_truth(sim)
    step = Step.objects.get(flow__celigo_id=flow_id, celigo_id=step_id)
    assert step.open_watermark is not None


def test_it_skips_and_notes_an_error_without_an_id(celigo_simulator):
    account = connect(celigo_simulator)
    sync_account(account)
    step = Step.objects.filter(account=account).select_related("flow").first()
    context = SyncContext(account, client=None, run=account.sync_runs.first(), owner="test", full=False)
    pull = StepPull(context, step, expected_open=1, last_error_at=None)
    batch = [
        StepError.from_json({"message": "no id here", "code": "x"}),
        StepError.from_json({"errorId": "e1"}),
    ]

    assert pull.store_page(batch, CeligoState.OPEN) == ["e1"]
    assert pull.counters.malformed == 1
    assert "without errorId" in pull.counters.notes[0]
    assert context.totals().malformed == 1


def test_a_big_reconcile_in_threads_stores_exactly_what_celigo_holds(make_celigo_simulator):
    sim = make_celigo_simulator(integrations=10, flows_per_integration=5, steps_per_flow=2, errors=1500)
    account = connect(sim)
    run = sync_account(account)
    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.steps_pulled >= PARALLEL_MIN_STEPS
    truth = celigo_truth(sim)
    assert stored(account) == truth
    assert run.errors_new == len(truth)
    assert sync_account(account, full=False).outcome == SyncOutcome.SUCCEEDED
