"""Celery tasks: thin wrappers over service functions, safe to run twice.

Services queue these by name through ``dashboard.celery.enqueue``, so this module imports them and they
never import it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db.models import Q
from django.utils import timezone

from celigo_api import RateLimited
from dashboard.accounts.connect import ensure_account_from_environment
from dashboard.accounts.schedules import SYNC_TASK
from dashboard.models import ActionBatch, BatchState, CeligoAccount, WorkerHeartbeat
from dashboard.outbox.celigo import BatchMustWait
from dashboard.outbox.request import RUN_BATCH_TASK
from dashboard.outbox.runner import run_batch
from dashboard.sync.run import SyncBusy
from dashboard.sync.run import sync_account as run_sync

log = logging.getLogger(__name__)

# A batch still unfinished this long after it was asked for, and held by no worker, lost its task.
STALE_BATCH = timedelta(minutes=10)


@shared_task(name="dashboard.record_heartbeat")
def record_heartbeat() -> None:
    hostname = record_heartbeat.request.hostname or "unknown"
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})


@shared_task(bind=True, name=SYNC_TASK, max_retries=None)
def sync_account(self: Task, account_id: int, full: bool | None = None) -> None:
    account = CeligoAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return
    try:
        run_sync(account, full=full)
    except SyncBusy:
        log.info("sync of account %s skipped: another worker is syncing it", account_id)
    except RateLimited as exc:
        # Never block a worker on the bucket: come back when Celigo (or our limiter) has room.
        raise self.retry(countdown=max(1.0, exc.retry_after or 5.0), max_retries=20) from exc


@worker_ready.connect
def connect_account_from_environment(**_: Any) -> None:
    account = ensure_account_from_environment()
    if account is not None:
        sync_account.delay(account.pk)


@shared_task(bind=True, name=RUN_BATCH_TASK, max_retries=None)
def run_action_batch(self: Task, batch_id: int) -> None:
    try:
        run_batch(batch_id)
    except BatchMustWait as exc:
        # Celigo is down, rate limited or rejects the token: the batch waits in the outbox and resumes.
        raise self.retry(countdown=exc.countdown, max_retries=None) from exc


@shared_task(name="dashboard.resume_waiting_batches")
def resume_waiting_batches() -> None:
    """Requeue batches whose task was lost (a worker restart drops scheduled retries on some brokers)."""
    now = timezone.now()
    for batch_id in (
        ActionBatch.objects.filter(
            state__in=[BatchState.PENDING, BatchState.WAITING, BatchState.RUNNING],
            created_at__lt=now - STALE_BATCH,
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .values_list("pk", flat=True)
    ):
        run_action_batch.delay(batch_id)
