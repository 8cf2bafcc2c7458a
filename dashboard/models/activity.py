"""The append-only timeline of each error: a kind and its data, rendered to text by dashboard.timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models.errors import ErrorRecord


class ActivityKind(models.TextChoices):
    RESOLVED_IN_CELIGO = "resolved_in_celigo", "Resolved in Celigo"
    REOPENED_IN_CELIGO = "reopened_in_celigo", "Open again in Celigo"
    PURGED = "purged", "Purged by Celigo"
    ASSIGNED = "assigned", "Assigned"
    TEAM_SET = "team_set", "Team set"
    TAGGED = "tagged", "Tagged"
    UNTAGGED = "untagged", "Untagged"
    COMMENT = "comment", "Comment"
    RESOLVE_REQUESTED = "resolve_requested", "Resolve sent to Celigo"
    RETRY_REQUESTED = "retry_requested", "Retry sent to Celigo"
    RETRY_SUCCEEDED = "retry_succeeded", "Retry succeeded"
    RETRY_FAILED = "retry_failed", "Retry failed again"
    RETRY_DATA_EDITED = "retry_data_edited", "Retry data edited"
    REGRESSION = "regression", "Regression"
    ACTION_FAILED = "action_failed", "Action failed"


class Activity(models.Model):
    """Append-only timeline of one error: a kind and its data (``dashboard.timeline`` renders the text).

    ``actor`` is the person who acted; it is empty for what the sync observed or a rule did (``data['by']``).
    ``message`` holds the sentence of entries recorded before entries carried their data; new ones leave it
    empty.
    """

    error = models.ForeignKey(ErrorRecord, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=24, choices=ActivityKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["error", "created_at"], name="activity_error_time")]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.error_id}"
