"""Celery tasks: thin wrappers over service functions, safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
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
