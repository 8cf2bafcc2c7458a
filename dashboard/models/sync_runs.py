"""A record around every sync of an account."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from dashboard.models.accounts import CeligoAccount


class SyncKind(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental"
    FULL = "full", "Full reconcile"


class SyncOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """A database record around every sync of an account: what it cost, what it changed, how it ended."""

    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=12, choices=SyncKind.choices, default=SyncKind.INCREMENTAL)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=SyncOutcome.choices, default=SyncOutcome.RUNNING)
    metadata_refreshed = models.BooleanField(default=False)
    api_calls = models.PositiveIntegerField(default=0)
    rate_limited = models.PositiveIntegerField(default=0, help_text="429 answers seen.")
    steps_pulled = models.PositiveIntegerField(default=0)
    errors_new = models.PositiveIntegerField(default=0)
    errors_updated = models.PositiveIntegerField(default=0)
    errors_closed = models.PositiveIntegerField(default=0)
    errors_purged = models.PositiveIntegerField(default=0)
    errors_malformed = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list, blank=True)
    failure_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["account", "-started_at"], name="sync_run_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync of {self.account_id} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
