"""Errors as Error Desk keeps them: one row per Celigo error (kept after Celigo purges it), with its tags
and the normalised text behind its fingerprint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dashboard.models.accounts import CeligoAccount
from dashboard.models.fields import CeligoCharField, CeligoJSONField, CeligoTextField
from dashboard.models.structure import Flow, Integration, Step
from dashboard.models.teams import Team


class Tag(models.Model):
    """A local label on errors; created on the fly, optionally mirrored to a Celigo tag."""

    name = models.CharField(max_length=60, unique=True)
    celigo_tag_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CeligoState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class RetryOutcome(models.TextChoices):
    NONE = "", "Not retried"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed again"


# Celigo's name for each bounded column of ErrorRecord (docs/celigo-api.md §2.3, §2.5).
RAW_NAMES = {
    "source": "source",
    "code": "code",
    "classification": "classification",
    "classified_by": "classifiedBy",
    "trace_key": "traceKey",
    "retry_data_key": "retryDataKey",
    "flow_job_id": "_flowJobId",
    "req_and_res_key": "reqAndResKey",
    "resolved_by": "resolvedBy",
}


class ErrorRecord(models.Model):
    """One Celigo error, kept after Celigo purges it. Unique on (account, flowId, stepId, errorId)."""

    # The foreign keys below lead composite indexes (Meta.indexes), so their own one-column indexes would
    # only slow the ingest down.
    account = models.ForeignKey(
        CeligoAccount, on_delete=models.CASCADE, related_name="errors", db_index=False
    )
    celigo_flow_id = models.CharField(max_length=64)
    celigo_step_id = models.CharField(max_length=64)
    error_id = models.CharField(max_length=64)
    # Links for joins and filters; the Celigo ids above are the identity (a row may arrive before its
    # flow's metadata does).
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)

    # Celigo's fields (docs/celigo-api.md §2.3, §2.5), read back exactly as Celigo sent them
    # (docs/architecture.md "Text Celigo sends").
    occurred_at = models.DateTimeField(null=True, blank=True)
    source = CeligoCharField(max_length=100, blank=True)
    code = CeligoCharField(max_length=200, blank=True)
    message = CeligoTextField(blank=True)  # whole, however long
    classification = CeligoCharField(max_length=100, blank=True)
    classified_by = CeligoCharField(max_length=100, blank=True)
    trace_key = CeligoCharField(max_length=500, blank=True)
    retry_data_key = CeligoCharField(max_length=200, blank=True)
    flow_job_id = CeligoCharField(max_length=64, blank=True)
    req_and_res_key = CeligoCharField(max_length=200, blank=True)
    o_index = models.IntegerField(null=True, blank=True)
    export_data_uri = CeligoTextField(blank=True)
    import_data_uri = CeligoTextField(blank=True)
    purge_at = models.DateTimeField(null=True, blank=True)
    retriable = models.BooleanField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = CeligoCharField(max_length=100, blank=True)
    # Celigo's whole object: every field whole, where a column above keeps only its first characters.
    raw = CeligoJSONField(default=dict, blank=True)

    # What the sync saw.
    status = models.CharField(max_length=8, choices=CeligoState.choices, default=CeligoState.OPEN)
    purged = models.BooleanField(default=False, help_text="Celigo no longer holds this error.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(max_length=16, blank=True)

    # Error Desk's own work.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="errors", db_index=False
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="errors")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    retry_outcome = models.CharField(max_length=10, choices=RetryOutcome.choices, blank=True, default="")
    retried_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retry_failures",
        help_text="The earlier error whose retry failed and produced this one (same trace key).",
    )
    regression_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="regressions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "celigo_flow_id", "celigo_step_id", "error_id"],
                name="error_unique_per_step",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-occurred_at"], name="error_status_occurred"),
            models.Index(fields=["account", "status", "-occurred_at"], name="error_account_status"),
            models.Index(fields=["flow", "status", "-occurred_at"], name="error_flow_status"),
            models.Index(fields=["step", "status", "-occurred_at"], name="error_step_status"),
            models.Index(fields=["integration", "status", "-occurred_at"], name="error_integration_status"),
            models.Index(fields=["fingerprint", "status"], name="error_fingerprint"),
            models.Index(fields=["account", "trace_key"], name="error_trace_key"),
            models.Index(fields=["assignee", "status", "-occurred_at"], name="error_assignee_status"),
            models.Index(fields=["classification", "status"], name="error_classification"),
            models.Index(fields=["source", "status"], name="error_source"),
            models.Index(fields=["code", "status"], name="error_code"),
            models.Index(
                fields=["-resolved_at"], name="error_resolved_at", condition=Q(resolved_at__isnull=False)
            ),
            models.Index(
                fields=["retry_outcome"], name="error_retry_outcome", condition=~Q(retry_outcome="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code or 'error'} {self.error_id}"

    def celigo_value(self, name: str) -> str:
        """A Celigo field whole. A bounded column (an indexed identifier or label) keeps the first characters
        of a longer value; the whole one is then read from ``raw``, which keeps every field as sent."""
        value = getattr(self, name)
        if not self.is_cut(name):
            return value
        original = self.raw.get(RAW_NAMES.get(name, "")) if isinstance(self.raw, dict) else None
        if original is not None and str(original).startswith(value):
            return str(original)
        return value

    def is_cut(self, name: str) -> bool:
        """Whether the bounded column ``name`` may hold only the start of Celigo's value (it is full)."""
        limit = getattr(self._meta.get_field(name), "max_length", None)
        value = getattr(self, name)
        return bool(limit and value and len(value) >= limit)


class ErrorFingerprint(models.Model):
    """The normalised text behind a fingerprint, for the grouped view."""

    fingerprint = models.CharField(max_length=16, primary_key=True)
    normalised_message = models.TextField()

    def __str__(self) -> str:
        return self.normalised_message[:80]
