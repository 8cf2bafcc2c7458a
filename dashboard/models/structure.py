"""What the sync mirrors of an account's structure: integrations, flows, their steps, users and flow runs."""

from __future__ import annotations

from django.db import models

from dashboard.models.accounts import CeligoAccount


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
    # The last integration-summary row applied (docs/celigo-api.md §2.1): a change here is what makes the sync
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
    """An export or import inside a flow; Celigo keeps errors per (flow, step) (docs/celigo-api.md §2)."""

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


class FlowJob(models.Model):
    """A recent flow run (`/v1/jobs`, type flow) with its counts (docs/celigo-api.md §3.2)."""

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
