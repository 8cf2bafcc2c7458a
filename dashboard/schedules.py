"""Periodic tasks kept in django-celery-beat's tables, so admins can edit their intervals in the admin."""

from __future__ import annotations

from typing import Any

HEARTBEAT_TASK_NAME = "Worker heartbeat"
HEARTBEAT_EVERY_SECONDS = 60


def ensure_periodic_tasks(**_: Any) -> None:
    """Create the project-wide periodic tasks if they are missing (runs after every ``migrate``)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=HEARTBEAT_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name=HEARTBEAT_TASK_NAME, defaults={"task": "dashboard.record_heartbeat", "interval": every}
    )
