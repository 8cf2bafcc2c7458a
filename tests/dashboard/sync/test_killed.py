"""A worker killed with SIGKILL in the middle of a sync: the next run gives the same rows, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db.models import Count

from celigo_api.simulator import FaultSpec
from dashboard.models import CeligoAccount, ErrorRecord, SyncOutcome
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import celigo_truth, connect, stored
from tests.dashboard.test_celery import worker_database_url

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_midway_then_rerun_gives_the_same_rows(make_celigo_simulator, tmp_path):
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
    )
    deadline = time.monotonic() + 60
    while ErrorRecord.objects.filter(account=account).count() < 200:
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert time.monotonic() < deadline, "the sync stored nothing within a minute"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    partial = ErrorRecord.objects.filter(account=account).count()
    sim.set_faults(FaultSpec())
    assert partial < len(celigo_truth(sim)), "the sync finished before it was killed"

    # The killed worker's lease runs out (simulated here), then the next sync repeats the missing work.
    CeligoAccount.objects.filter(pk=account.pk).update(sync_lease_expires_at=None)
    run = sync_account(CeligoAccount.objects.get(pk=account.pk))

    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert stored(account) == celigo_truth(sim)
    duplicates = (
        ErrorRecord.objects.values("account", "celigo_flow_id", "celigo_step_id", "error_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    interrupted = account.sync_runs.exclude(pk=run.pk).get()
    assert interrupted.outcome == SyncOutcome.FAILED
    assert "interrupted" in interrupted.failure_message
