"""A worker killed with SIGKILL in the middle of a sync: the next run, at once, gives the same rows, no
duplicates."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from celigo_api import CeligoClient, InProcessLimiter
from celigo_api.simulator import FaultSpec
from dashboard.models import AccountStatus, CeligoAccount, ErrorRecord, SyncOutcome
from dashboard.sync import context
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import celigo_truth, connect, stored
from tests.dashboard.test_celery import worker_database_url

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_midway_is_resumed_by_the_next_one_within_a_minute(make_celigo_simulator, tmp_path):
    """SIGKILL (an OOM kill, a redeploy) of a sync's process group: the next ``celigo_sync`` does not wait
    for the dead one's lease, says what happened, and ends with the rows a clean sync gives."""
    sim = make_celigo_simulator(errors=1500, page_size=25, faults=FaultSpec(latency=0.03))
    account = connect(sim)
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "ERROR_DESK_VAR_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "celigo_sync", "--full"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while ErrorRecord.objects.filter(account=account).count() < 200:
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert time.monotonic() < deadline, "the sync stored nothing within a minute"
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed = time.monotonic()
    partial = ErrorRecord.objects.filter(account=account).count()
    sim.set_faults(FaultSpec())
    assert partial < len(celigo_truth(sim)), "the sync finished before it was killed"

    again = subprocess.run(
        [sys.executable, "manage.py", "celigo_sync"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert again.returncode == 0, again.stdout + again.stderr
    assert time.monotonic() - killed < 60
    assert "already running" not in again.stderr
    resuming = r"the previous sync of Sim stopped without finishing at \d\d:\d\d; resuming"
    assert re.search(resuming, again.stdout), again.stdout
    assert stored(account) == celigo_truth(sim)
    duplicates = (
        ErrorRecord.objects.values("account", "celigo_flow_id", "celigo_step_id", "error_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    interrupted, resumed = account.sync_runs.order_by("started_at")
    assert interrupted.outcome == SyncOutcome.FAILED
    assert interrupted.failure_message.startswith("interrupted: the worker stopped without finishing at")
    assert resumed.outcome == SyncOutcome.SUCCEEDED
    assert any(note.startswith("the previous sync of Sim") for note in resumed.notes)


@pytest.mark.django_db(transaction=True)
def test_a_sync_that_lost_its_lease_stops_at_its_next_heartbeat(celigo_simulator, monkeypatch):
    """Another worker took the account over while this sync refreshed its metadata: it stops there."""
    monkeypatch.setattr(context, "HEARTBEAT", 0.0)  # check the lease on every call, not every 5 s
    account = connect(celigo_simulator)
    calls = 0

    def another_worker_takes_over(event) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            CeligoAccount.objects.filter(pk=account.pk).update(
                sync_lease_owner="another-worker", sync_lease_expires_at=timezone.now() + timedelta(minutes=1)
            )

    client = CeligoClient(
        celigo_simulator.token,
        base_url=celigo_simulator.base_url,
        limiter=InProcessLimiter(),
        on_request=another_worker_takes_over,
    )
    run = sync_account(account, client=client)

    assert run.outcome == SyncOutcome.FAILED
    assert "another sync of the account took over" in run.failure_message
    assert not run.metadata_refreshed
    assert calls == 3, "no Celigo call after the lease was lost"
    account.refresh_from_db()
    assert account.sync_lease_owner == "another-worker", "the other worker's lease is left alone"
    assert account.status != AccountStatus.FAILING
