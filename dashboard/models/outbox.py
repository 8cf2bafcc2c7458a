"""The outbox: action batches over sets of errors and what happened to each error (see dashboard.outbox)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models.errors import ErrorRecord


class ActionKind(models.TextChoices):
    RESOLVE = "resolve", "Resolve"
    RETRY = "retry", "Retry"
    ASSIGN = "assign", "Assign"
    SET_TEAM = "set_team", "Set team"
    TAG = "tag", "Add tags"
    UNTAG = "untag", "Remove tags"
    COMMENT = "comment", "Comment"
    APPLY_RULE = "apply_rule", "Apply a routing rule"


# Actions that call Celigo for every error; the others are local (optionally mirrored to Celigo).
CELIGO_ACTIONS = {ActionKind.RESOLVE, ActionKind.RETRY}


class BatchState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for Celigo"
    DONE = "done", "Done"
    PARTIAL = "partial", "Partially failed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = {BatchState.DONE, BatchState.PARTIAL, BatchState.FAILED, BatchState.CANCELLED}


class ActionBatch(models.Model):
    """The outbox: one person's action over a set of errors, applied in the background and audited.

    The selection is either explicit (items created with the batch) or a stored error-list filter,
    resolved into items when the batch starts, so "all 37,412 matching errors" has no size limit.
    """

    kind = models.CharField(max_length=10, choices=ActionKind.choices)
    params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filter_query = models.TextField(blank=True, help_text="The error-list query that selected the errors.")
    selected = models.BooleanField(default=False, help_text="Items are materialised.")
    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.PENDING)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    celigo_calls = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    message = models.TextField(blank=True, help_text="Why the batch waits or failed.")
    mirror_failures = models.PositiveIntegerField(default=0)
    mirror_message = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="When the batch began to wait for Celigo (cleared by progress)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="batch_state")]
        verbose_name_plural = "action batches"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.total} errors (#{self.pk})"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return (
            100
            if self.finished and not self.total
            else int(100 * self.processed / self.total)
            if self.total
            else 0
        )


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sent, awaiting answer"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ActionItem(models.Model):
    """One error of a batch and what happened to it; never applied twice (see dashboard.actions)."""

    batch = models.ForeignKey(ActionBatch, on_delete=models.CASCADE, related_name="items")
    error = models.ForeignKey(ErrorRecord, on_delete=models.CASCADE, related_name="action_items")
    outcome = models.CharField(max_length=10, choices=ItemOutcome.choices, default=ItemOutcome.PENDING)
    message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(
        max_length=64, blank=True, help_text="The runner that marked it sending (its lease owner)."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "error"], name="action_item_unique")]
        indexes = [models.Index(fields=["batch", "outcome"], name="action_item_outcome")]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.error_id}: {self.outcome}"
