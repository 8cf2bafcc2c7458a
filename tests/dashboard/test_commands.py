"""celigo_sync, export_errors and the sync task, end to end against the simulator."""

from __future__ import annotations

import csv
import io
import json

import pytest
from celery.exceptions import Retry
from django.core.management import CommandError, call_command

from celigo_api import RateLimited
from celigo_api.simulator import FaultSpec
from dashboard import tasks
from dashboard.celigo import client_for
from dashboard.models import CeligoState, ErrorRecord, SyncOutcome
from dashboard.sync.context import acquire_lease
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import connect

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)


def call(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_celigo_sync_prints_a_json_summary(celigo_simulator):
    connect(celigo_simulator, name="Acme")
    summary = json.loads(call("celigo_sync", "--account", "Acme", "--json"))
    assert summary["outcome"] == "succeeded"
    assert summary["kind"] == "full"
    assert summary["errors_new"] == ErrorRecord.objects.count() > 0
    assert summary["api_calls"] > 0


def test_celigo_sync_prints_a_readable_summary(celigo_simulator):
    connect(celigo_simulator, name="Acme")
    call("celigo_sync")
    output = call("celigo_sync", "--full")
    assert output.startswith("Acme: full sync succeeded in")
    assert "API calls" in output


def test_celigo_sync_exits_non_zero_on_failure(celigo_simulator):
    connect(celigo_simulator, name="Acme")
    celigo_simulator.revoke_token(celigo_simulator.token)
    with pytest.raises(CommandError, match="sync failed for: Acme"):
        call("celigo_sync")


def test_celigo_sync_refuses_an_unknown_account():
    with pytest.raises(CommandError, match="no account named 'Nope'"):
        call("celigo_sync", "--account", "Nope")


def test_celigo_sync_says_when_another_sync_runs(celigo_simulator):
    account = connect(celigo_simulator, name="Acme")
    acquire_lease(account.pk, "other-worker")
    with pytest.raises(CommandError):
        call("celigo_sync")


@pytest.fixture
def synced(celigo_simulator):
    account = connect(celigo_simulator, name="Acme")
    call("celigo_sync")
    return account


def test_export_errors_streams_json_lines_with_the_api_fields(synced):
    lines = call("export_errors").splitlines()
    assert len(lines) == ErrorRecord.objects.count()
    row = json.loads(lines[0])
    for name in (
        "id",
        "account",
        "flow_id",
        "step_id",
        "error_id",
        "integration_id",
        "flow_name",
        "step_name",
        "occurred_at",
        "source",
        "code",
        "message",
        "classification",
        "trace_key",
        "retry_data_key",
        "flow_job_id",
        "status",
        "assignee",
        "team",
        "tags",
        "resolved_at",
        "resolved_by",
        "first_seen_at",
        "last_seen_at",
        "purged",
    ):
        assert name in row
    assert row["account"] == "Acme"
    assert row["occurred_at"].endswith("Z")


def test_export_errors_filters_by_status_flow_and_step(synced):
    open_lines = call("export_errors", "--status", "open").splitlines()
    assert len(open_lines) == ErrorRecord.objects.filter(status=CeligoState.OPEN).count()
    assert {json.loads(line)["status"] for line in open_lines} == {"open"}
    error = ErrorRecord.objects.first()
    step_lines = call("export_errors", "--flow-id", error.celigo_flow_id, "--step-id", error.celigo_step_id)
    expected = ErrorRecord.objects.filter(
        celigo_flow_id=error.celigo_flow_id, celigo_step_id=error.celigo_step_id
    )
    assert len(step_lines.splitlines()) == expected.count()


def test_export_errors_writes_csv_safe_for_spreadsheets(synced):
    error = ErrorRecord.objects.first()
    error.message = '=HYPERLINK("http://evil")'
    error.save()
    rows = list(csv.DictReader(io.StringIO(call("export_errors", "--format", "csv"))))
    assert len(rows) == ErrorRecord.objects.count()
    exported = next(row for row in rows if row["id"] == str(error.pk))
    assert exported["message"].startswith("'=")


def test_export_errors_refuses_an_unknown_account():
    with pytest.raises(CommandError):
        call("export_errors", "--account", "Nope")


def test_the_sync_task_runs_a_sync(celigo_simulator):
    account = connect(celigo_simulator)
    tasks.sync_account.apply(args=[account.pk])
    assert account.sync_runs.get().outcome == SyncOutcome.SUCCEEDED


def test_the_sync_task_skips_when_another_worker_syncs(celigo_simulator):
    account = connect(celigo_simulator)
    acquire_lease(account.pk, "other-worker")
    tasks.sync_account.apply(args=[account.pk])
    assert not account.sync_runs.exists()


def test_the_sync_task_reschedules_itself_when_rate_limited(celigo_simulator, monkeypatch):
    account = connect(celigo_simulator)

    def limited(*args, **kwargs):
        raise RateLimited("bucket full", retry_after=42)

    monkeypatch.setattr("dashboard.tasks.run_sync", limited)
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(tasks.sync_account, "retry", retry)
    with pytest.raises(Retry):
        tasks.sync_account.run(account.pk)
    assert retries[0]["countdown"] == 42


def test_a_rate_limited_sync_is_recorded_then_rescheduled(make_celigo_simulator):
    sim = make_celigo_simulator(faults=FaultSpec(rate_limit_429=1.0))
    account = connect(sim)
    client = client_for(account, max_wait=0.5)

    with pytest.raises(RateLimited):
        sync_account(account, client=client)
    run = account.sync_runs.get()
    assert run.outcome == SyncOutcome.FAILED
    assert run.rate_limited >= 1
    assert "Rate limited" in run.failure_message
