"""Error Desk's domain: Celigo accounts and their mirrored structure, the errors, and the work around them.

Celigo says whether an error exists (its open/resolved state, retry data, HTTP logs); everything else on
an ``ErrorRecord`` — assignee, tags, retry outcome, regression — is Error Desk's own (PRODUCT.md §Principles).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dashboard import crypto


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the periodic heartbeat task (shown on the status page)."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class Region(models.TextChoices):
    NA = "na", "North America (api.integrator.io)"
    EU = "eu", "Europe (api.eu.integrator.io)"
    AU = "au", "Australia (api.au.integrator.io)"
    CA = "ca", "Canada (api.ca.integrator.io)"


class AccountStatus(models.TextChoices):
    NEW = "new", "Not synced yet"
    OK = "ok", "Healthy"
    FAILING = "failing", "Failing"
    REVOKED = "revoked", "Token rejected"


class TagVariant(models.TextChoices):
    # celigo-api.md §2.13: the tag call's body is disputed; the account picks the variant that works.
    ERROR_IDS = "error_ids", "errorIds + tagIds"
    ERRORS_RDK = "errors_rdk", "errors[{id, rdk}] + tagIds"


class CeligoAccount(models.Model):
    """One Celigo account (environment). The token is encrypted at rest and never shown again."""

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=2, choices=Region.choices, blank=True, default=Region.NA)
    base_url = models.URLField(blank=True, help_text="Overrides the region (a proxy or the simulator).")
    token_encrypted = models.TextField(editable=False)
    token_last4 = models.CharField(max_length=4, editable=False)
    celigo_user_id = models.CharField(max_length=64, blank=True)
    sandbox = models.BooleanField(default=False, help_text="Poll the sandbox environment's error summaries.")
    rate_burst = models.PositiveIntegerField(default=100)
    rate_per_second = models.FloatField(default=30.0)
    sync_interval_seconds = models.PositiveIntegerField(default=120)
    full_sync_interval_hours = models.PositiveIntegerField(default=24)
    metadata_interval_minutes = models.PositiveIntegerField(default=60)
    mirror_assignments = models.BooleanField(default=False)
    mirror_tags = models.BooleanField(default=False)
    tag_variant = models.CharField(max_length=12, choices=TagVariant.choices, default=TagVariant.ERROR_IDS)
    enabled = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.NEW)
    status_message = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Celigo's standalone-flow summary (`/integrations/none/errors`) is unverified (celigo-api.md §2.1);
    # when it answers 404 the sync polls standalone flows one by one instead.
    standalone_summary_supported = models.BooleanField(default=True)
    last_metadata_sync_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    jobs_watermark = models.DateTimeField(null=True, blank=True)

    # A lease instead of a lock: a worker killed mid-sync cannot hold the account forever.
    sync_lease_owner = models.CharField(max_length=64, blank=True)
    sync_lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def token(self) -> str:
        return crypto.decrypt(self.token_encrypted)

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = crypto.encrypt(value)
        self.token_last4 = value[-4:]

    @property
    def masked_token(self) -> str:
        return f"…{self.token_last4}" if self.token_last4 else ""

    @property
    def endpoint(self) -> str:
        from dashboard.env import CELIGO_REGIONS

        return self.base_url or CELIGO_REGIONS[self.region or Region.NA]

    def full_sync_due(self, now: Any = None) -> bool:
        now = now or timezone.now()
        last = self.last_full_sync_at
        return last is None or now - last >= timedelta(hours=self.full_sync_interval_hours)

    def metadata_due(self, now: Any = None) -> bool:
        now = now or timezone.now()
        last = self.last_metadata_sync_at
        return last is None or now - last >= timedelta(minutes=self.metadata_interval_minutes)


class Integration(models.Model):
    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="integrations")
    celigo_id = models.CharField(max_length=64)
    name = models.CharField(max_length=500, blank=True)
    sandbox = models.BooleanField(default=False)
    deleted_in_celigo = models.BooleanField(default=False)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "celigo_id"], name="integration_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name or self.celigo_id


class Flow(models.Model):
    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="flows")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="flows"
    )
    celigo_id = models.CharField(max_length=64)
    name = models.CharField(max_length=500, blank=True)
    disabled = models.BooleanField(default=False)
    deleted_in_celigo = models.BooleanField(default=False)
    # The last integration-summary row applied (celigo-api.md §2.1): a change here is what makes the sync
    # look inside the flow at all.
    summary_num_error = models.IntegerField(default=0)
    summary_last_error_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "celigo_id"], name="flow_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name or self.celigo_id


class StepKind(models.TextChoices):
    EXPORT = "export", "Export"
    IMPORT = "import", "Import"


class Step(models.Model):
    """An export or import inside a flow; Celigo keeps errors per (flow, step) (celigo-api.md §2)."""

    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="steps")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    celigo_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=6, choices=StepKind.choices, blank=True)
    name = models.CharField(max_length=500, blank=True)
    adaptor_type = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=0)
    in_flow = models.BooleanField(default=True, help_text="False once the flow no longer references it.")
    summary_num_error = models.IntegerField(default=0)
    summary_last_error_at = models.DateTimeField(null=True, blank=True)
    # Newest occurredAt / resolvedAt stored for this step; the next pull starts there minus an overlap.
    open_watermark = models.DateTimeField(null=True, blank=True)
    resolved_watermark = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["flow", "position"]
        constraints = [models.UniqueConstraint(fields=["flow", "celigo_id"], name="step_unique_per_flow")]

    def __str__(self) -> str:
        return self.name or self.celigo_id


class CeligoUser(models.Model):
    """A user with access to the account (`/v1/ashares`), to name who resolved an error in Celigo."""

    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="celigo_users")
    user_id = models.CharField(max_length=64)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user_id"], name="celigo_user_unique")]

    def __str__(self) -> str:
        return self.name or self.email or self.user_id


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="error_desk_teams")

    def __str__(self) -> str:
        return self.name


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

    # Celigo's fields (celigo-api.md §2.3, §2.5).
    occurred_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    classification = models.CharField(max_length=100, blank=True)
    classified_by = models.CharField(max_length=100, blank=True)
    trace_key = models.CharField(max_length=500, blank=True)
    retry_data_key = models.CharField(max_length=200, blank=True)
    flow_job_id = models.CharField(max_length=64, blank=True)
    req_and_res_key = models.CharField(max_length=200, blank=True)
    o_index = models.IntegerField(null=True, blank=True)
    export_data_uri = models.TextField(blank=True)
    import_data_uri = models.TextField(blank=True)
    purge_at = models.DateTimeField(null=True, blank=True)
    retriable = models.BooleanField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=100, blank=True)
    raw = models.JSONField(default=dict, blank=True)

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
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="errors")
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
        permissions = [("act_on_errors", "Can act on errors (resolve, retry, assign, tag, comment)")]
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


class ErrorFingerprint(models.Model):
    """The normalised text behind a fingerprint, for the grouped view."""

    fingerprint = models.CharField(max_length=16, primary_key=True)
    normalised_message = models.TextField()

    def __str__(self) -> str:
        return self.normalised_message[:80]


class ActivityKind(models.TextChoices):
    RESOLVED_IN_CELIGO = "resolved_in_celigo", "Resolved in Celigo"
    REOPENED_IN_CELIGO = "reopened_in_celigo", "Open again in Celigo"
    PURGED = "purged", "Purged by Celigo"
    ASSIGNED = "assigned", "Assigned"
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
    """Append-only timeline of one error. ``actor`` is empty for what the sync observed."""

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


class FlowJob(models.Model):
    """A recent flow run (`/v1/jobs`, type flow) with its counts (celigo-api.md §3.2)."""

    account = models.ForeignKey(CeligoAccount, on_delete=models.CASCADE, related_name="flow_jobs")
    celigo_id = models.CharField(max_length=64)
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    flow_celigo_id = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    num_success = models.IntegerField(default=0)
    num_error = models.IntegerField(default=0)
    num_ignore = models.IntegerField(default=0)
    num_resolved = models.IntegerField(default=0)
    num_open_error = models.IntegerField(default=0)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["account", "celigo_id"], name="flow_job_unique")]
        indexes = [models.Index(fields=["account", "-created_at"], name="flow_job_recent")]

    def __str__(self) -> str:
        return f"{self.type} job {self.celigo_id} ({self.status})"


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


class SavedView(models.Model):
    """A named error-list filter (the list's query string), private to its owner or shared with everyone."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    query_string = models.TextField(blank=True, help_text="The error list's URL query, without the '?'.")
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_per_owner")]

    def __str__(self) -> str:
        return self.name


class ActionKind(models.TextChoices):
    RESOLVE = "resolve", "Resolve"
    RETRY = "retry", "Retry"
    ASSIGN = "assign", "Assign"
    TAG = "tag", "Add tags"
    UNTAG = "untag", "Remove tags"
    COMMENT = "comment", "Comment"


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
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "error"], name="action_item_unique")]
        indexes = [models.Index(fields=["batch", "outcome"], name="action_item_outcome")]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.error_id}: {self.outcome}"
