"""Celery tasks: thin wrappers over service functions, safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import models
from django.utils import timezone

from celigo_api import RateLimited
from dashboard.models import CeligoAccount, WorkerHeartbeat

log = logging.getLogger(__name__)


@shared_task(name="dashboard.record_heartbeat")
def record_heartbeat() -> None:
    hostname = record_heartbeat.request.hostname or "unknown"
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})


@shared_task(bind=True, name="dashboard.sync_account", max_retries=None)
def sync_account(self: Task, account_id: int, full: bool | None = None) -> None:
    from dashboard.sync import SyncBusy
    from dashboard.sync import sync_account as run_sync

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
    from dashboard.accounts import ensure_account_from_environment

    account = ensure_account_from_environment()
    if account is not None:
        sync_account.delay(account.pk)


@shared_task(bind=True, name="dashboard.run_action_batch", max_retries=None)
def run_action_batch(self: Task, batch_id: int) -> None:
    from dashboard.actions import BatchMustWait, run_batch

    try:
        run_batch(batch_id)
    except BatchMustWait as exc:
        # Celigo is down, rate limited or rejects the token: the batch waits in the outbox and resumes.
        raise self.retry(countdown=exc.countdown, max_retries=None) from exc


@shared_task(name="dashboard.resume_waiting_batches")
def resume_waiting_batches() -> None:
    """Requeue batches whose task was lost (a worker restart drops scheduled retries on some brokers)."""
    from datetime import timedelta

    from dashboard.models import ActionBatch, BatchState

    stale = timezone.now() - timedelta(minutes=10)
    for batch_id in (
        ActionBatch.objects.filter(
            state__in=[BatchState.PENDING, BatchState.WAITING, BatchState.RUNNING], created_at__lt=stale
        )
        .filter(models.Q(lease_expires_at__isnull=True) | models.Q(lease_expires_at__lt=timezone.now()))
        .values_list("pk", flat=True)
    ):
        run_action_batch.delay(batch_id)
