"""The Celery app, configured from every ``CELERY_*`` Django setting, and how services queue tasks."""

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
# Every CELERY_* Django setting configures the app (cookiecutter-django's wiring).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args: Any) -> None:
    """Queue a task by its registered name, so services never import the tasks module (which imports them).

    A signature of a registered task runs through the task's own ``apply_async``, so eager mode and task
    options behave as with ``task.delay``.
    """
    app.signature(task_name, args=args).delay()
