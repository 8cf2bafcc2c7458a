"""Periodic tasks kept in django-celery-beat's tables, so admins can edit their intervals in the admin."""

from __future__ import annotations

import json
from typing import Any

from django_celery_beat.models import IntervalSchedule, PeriodicTask

from dashboard.models import CeligoAccount

HEARTBEAT_TASK_NAME = "Worker heartbeat"
HEARTBEAT_EVERY_SECONDS = 60
SYNC_TASK = "dashboard.sync_account"
RESUME_TASK_NAME = "Resume waiting action batches"


def ensure_periodic_tasks(**_: Any) -> None:
    """Create the project-wide periodic tasks if they are missing (runs after every ``migrate``)."""
    every, _ = IntervalSchedule.objects.get_or_create(
        every=HEARTBEAT_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name=HEARTBEAT_TASK_NAME, defaults={"task": "dashboard.record_heartbeat", "interval": every}
    )
    every_five, _ = IntervalSchedule.objects.get_or_create(every=5, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.get_or_create(
        name=RESUME_TASK_NAME, defaults={"task": "dashboard.resume_waiting_batches", "interval": every_five}
    )


def account_task_name(account: CeligoAccount) -> str:
    return f"Sync Celigo account #{account.pk}"


def ensure_account_schedule(account: CeligoAccount) -> None:
    """One beat entry per account, following the account's interval and enabled flag."""
    every, _ = IntervalSchedule.objects.get_or_create(
        every=account.sync_interval_seconds, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name=account_task_name(account),
        defaults={
            "task": SYNC_TASK,
            "interval": every,
            "args": json.dumps([account.pk]),
            "enabled": account.enabled,
            "description": f"Incremental sync of {account.name}; full reconcile when due.",
        },
    )


def remove_account_schedule(account: CeligoAccount) -> None:
    PeriodicTask.objects.filter(name=account_task_name(account)).delete()
