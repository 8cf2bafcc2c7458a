"""Never twice, nothing lost: two runners on one batch, a runner stopped by its time limit, a runner killed
with SIGKILL, and a batch that waited too long. What reached Celigo is read from the simulator's write log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from celigo_api import BucketConfig, CeligoClient, InProcessLimiter
from celigo_api.simulator import FaultSpec
from dashboard.lib.leases import HOST
from dashboard.models import (
    FINISHED_STATES,
    ActionBatch,
    ActionItem,
    ActionKind,
    BatchState,
    CeligoState,
    ErrorRecord,
    ItemOutcome,
    Role,
)
from dashboard.outbox.celigo import BatchMustWait
from dashboard.outbox.request import cancel_batch, request_action
from dashboard.outbox.runner import run_batch
from tests.dashboard.factories import person
from tests.dashboard.outbox.test_outbox import BIG_WORLD, synced
from tests.dashboard.sync.test_sync import celigo_truth
from tests.dashboard.test_celery import worker_database_url

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]
WRITE_PATHS = {ActionKind.RESOLVE: "/resolved", ActionKind.RETRY: "/retry"}


def clients(hook=None):
    """The runner's client factory (our seam), with a hook called after every HTTP attempt."""

    def client_for(account):
        return CeligoClient(
            account.token,
            base_url=account.base_url,
            limiter=InProcessLimiter(),
            bucket=BucketConfig(burst=1000, rate=1000),
            on_request=hook,
        )

    return client_for


def expected_ids(account, kind: str) -> set[str]:
    """What the batch must send, as the write log names it: ``flowId/stepId/id``."""
    errors = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
    if kind == ActionKind.RETRY:
        errors = errors.exclude(retry_data_key="")
        return {f"{e.celigo_flow_id}/{e.celigo_step_id}/{e.retry_data_key}" for e in errors}
    return {f"{e.celigo_flow_id}/{e.celigo_step_id}/{e.error_id}" for e in errors}


@pytest.mark.parametrize("kind", [ActionKind.RESOLVE, ActionKind.RETRY])
def test_two_runners_on_one_batch_send_every_error_exactly_once(make_celigo_simulator, triager, kind):
    """Runner A's lease runs out while its first chunk is on its way to Celigo; runner B takes the batch."""
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    expected = expected_ids(account, kind)
    batch = request_action(triager, kind, filter_query="status=open", run_now=False)
    sim.reset_stats()
    seen: dict[str, object] = {}

    def lease_runs_out_mid_call(event) -> None:
        if seen or event.method not in ("PUT", "POST") or not event.path.endswith(WRITE_PATHS[kind]):
            return
        in_flight = set(ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SENDING).values_list("pk"))
        seen["in_flight"] = in_flight
        ActionBatch.objects.filter(pk=batch.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(BatchMustWait, match="on their way to Celigo"):
            run_batch(batch.pk, client_for=clients())  # runner B
        # B sent the rest but left A's chunk to A: not "outcome unknown", not sent again, not finished.
        seen["state"] = ActionBatch.objects.get(pk=batch.pk).state
        still = set(ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SENDING).values_list("pk"))
        seen["left_to_a"] = still == in_flight
        seen["a_calls_before"] = sim.stats()["by_endpoint"]

    assert run_batch(batch.pk, client_for=clients(lease_runs_out_mid_call)) is None, "A lost its lease"
    assert seen["state"] == BatchState.WAITING
    assert seen["left_to_a"]
    assert sim.stats()["by_endpoint"] == seen["a_calls_before"], "A stopped before its next call"

    batch = run_batch(batch.pk, client_for=clients())
    assert batch.state == BatchState.DONE, batch.message
    stats = sim.stats()
    assert stats["written_twice"][kind] == []
    assert set(sim.app.stats.written(kind)) == expected
    assert batch.succeeded == len(expected)
    assert not ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.FAILED).exists()


def test_a_soft_time_limit_makes_the_batch_wait_then_resume(make_celigo_simulator, triager):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    total = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).count()
    writes = 0

    def time_runs_out_on_the_third_chunk(event) -> None:
        nonlocal writes
        if event.method == "PUT" and event.path.endswith("/resolved"):
            writes += 1
            if writes == 3:
                raise SoftTimeLimitExceeded()  # what Celery raises in the task when its soft limit passes

    batch = request_action(triager, ActionKind.RESOLVE, filter_query="status=open", run_now=False)
    with pytest.raises(BatchMustWait):
        run_batch(batch.pk, client_for=clients(time_runs_out_on_the_third_chunk))
    batch.refresh_from_db()
    assert batch.state == BatchState.WAITING
    assert "time limit" in batch.message
    assert 0 < batch.succeeded < total
    assert not ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SENDING).exists()

    batch = run_batch(batch.pk, client_for=clients())
    assert batch.state == BatchState.DONE
    assert batch.succeeded == total
    assert CeligoState.OPEN not in set(celigo_truth(sim).values())


def test_a_database_error_makes_the_batch_wait_then_resume(celigo_simulator, triager):
    account = synced(celigo_simulator)
    errors = list(ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)[:30])

    def database_goes_away(event) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    batch = request_action(triager, ActionKind.RESOLVE, error_ids=[e.pk for e in errors], run_now=False)
    with pytest.raises(BatchMustWait):
        run_batch(batch.pk, client_for=clients(database_goes_away))
    batch.refresh_from_db()
    assert (batch.state, batch.finished_at) == (BatchState.WAITING, None)
    assert "database error" in batch.message

    batch = run_batch(batch.pk, client_for=clients())
    assert (batch.state, batch.succeeded) == (BatchState.DONE, 30)


def test_a_batch_waiting_past_its_age_limit_fails_saying_why(celigo_simulator, triager, settings):
    settings.ACTION_BATCH_MAX_WAIT_HOURS = 24
    account = synced(celigo_simulator)
    errors = list(ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)[:5])
    batch = request_action(triager, ActionKind.RESOLVE, error_ids=[e.pk for e in errors], run_now=False)
    celigo_simulator.set_faults(FaultSpec(error_503=1.0))
    with pytest.raises(BatchMustWait):
        run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.state == BatchState.WAITING
    assert batch.waiting_since is not None

    ActionBatch.objects.filter(pk=batch.pk).update(waiting_since=timezone.now() - timedelta(hours=25))
    batch = run_batch(batch.pk)
    assert batch.state == BatchState.FAILED
    assert batch.finished_at is not None
    assert "Gave up after waiting 25 h (the limit is 24 h)" in batch.message
    assert "unavailable" in batch.message
    assert run_batch(batch.pk) is None


@pytest.mark.slow
def test_a_runner_killed_mid_batch_is_resumed_without_retrying(make_celigo_simulator, triager, tmp_path):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    expected = expected_ids(account, ActionKind.RETRY)
    batch = request_action(triager, ActionKind.RETRY, filter_query="status=open", run_now=False)
    sim.reset_stats()
    sim.set_faults(FaultSpec(latency=0.4))  # every call takes a while: the kill lands mid-batch
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "ERROR_DESK_VAR_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "celigo_sync", "--account", account.name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SUCCEEDED).exists():
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert time.monotonic() < deadline, "the batch sent nothing within a minute"
        time.sleep(0.02)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    sim.set_faults(FaultSpec())
    batch.refresh_from_db()
    assert batch.state == BatchState.RUNNING, "the batch was killed mid-way"
    in_flight = set(ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SENDING).values_list("pk"))

    # At once, not after the killed runner's lease runs out: its process is gone.
    batch = run_batch(batch.pk)
    assert batch is not None, "the dead runner's lease still holds the batch"
    assert batch.state in FINISHED_STATES
    assert sim.stats()["written_twice"]["retry"] == []
    written = set(sim.app.stats.written(ActionKind.RETRY))
    unknown = ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.FAILED)
    assert set(unknown.values_list("pk")) == in_flight
    assert all("Outcome unknown" in item.message for item in unknown)
    # Everything else was retried once; what was in flight at the kill may or may not have reached Celigo.
    unknown_keys = {
        f"{i.error.celigo_flow_id}/{i.error.celigo_step_id}/{i.error.retry_data_key}"
        for i in unknown.select_related("error")
    }
    assert written <= expected
    assert expected - written <= unknown_keys
    assert batch.succeeded + batch.failed + batch.skipped == batch.total


def test_only_its_author_a_lead_or_an_admin_cancels_a_batch(
    celigo_simulator, triager, lead, admin, viewer, login_as
):
    account = synced(celigo_simulator)
    other = person("other", Role.TRIAGER)
    batches = [
        request_action(triager, ActionKind.RESOLVE, filter_query=f"account={account.pk}", run_now=False)
        for _ in range(3)
    ]
    cancel = reverse("batch-cancel", args=[batches[0].pk])
    assert login_as(other).post(cancel).status_code == 404
    assert login_as(viewer).post(cancel).status_code == 403
    assert ActionBatch.objects.get(pk=batches[0].pk).state == BatchState.PENDING

    for who, batch in zip((triager, lead, admin), batches, strict=True):
        assert login_as(who).post(reverse("batch-cancel", args=[batch.pk])).status_code == 302
        batch.refresh_from_db()
        assert (batch.state, batch.selected) == (BatchState.CANCELLED, False)
    assert not ActionItem.objects.exists(), "cancelling selected nothing"


def test_cancelling_a_batch_with_a_chunk_in_flight_elsewhere_waits_for_that_chunk(celigo_simulator, triager):
    account = synced(celigo_simulator)
    errors = list(ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)[:6])
    batch = request_action(triager, ActionKind.RESOLVE, error_ids=[e.pk for e in errors], run_now=False)
    # A live runner (this process) whose lease ran out still waits for Celigo's answer about two errors.
    in_flight = list(ActionItem.objects.filter(batch=batch).order_by("pk")[:2].values_list("pk", flat=True))
    ActionItem.objects.filter(pk__in=in_flight).update(
        outcome=ItemOutcome.SENDING, claimed_by=f"{HOST}:{os.getpid()}:slow-runner"
    )
    ActionBatch.objects.filter(pk=batch.pk).update(state=BatchState.WAITING)
    celigo_simulator.reset_stats()

    cancel_batch(batch)

    batch.refresh_from_db()
    assert (batch.state, batch.cancel_requested) == (BatchState.WAITING, True)
    assert ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SKIPPED).count() == 4
    ActionItem.objects.filter(pk__in=in_flight).update(outcome=ItemOutcome.SUCCEEDED)  # its answer came
    batch = run_batch(batch.pk)
    assert (batch.state, batch.succeeded, batch.skipped) == (BatchState.CANCELLED, 2, 4)
    assert celigo_simulator.stats()["written"]["resolve"] == 0
