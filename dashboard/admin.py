"""The Django admin: accounts (write-only token, checked with Celigo), teams, tags; records read-only.

Nothing that records what happened (errors and their timelines, batches, sync runs, audit events) can be
deleted here, and neither can an account, whose deletion would take its errors with it.

Errors, activities, sync runs and action batches are records of what happened, so the admin shows them but
does not let anyone edit them (every change to an error goes through the audited actions).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from dashboard.accounts.connect import TokenCheckFailed, check_token
from dashboard.models import (
    ActionBatch,
    Activity,
    AuditEvent,
    CeligoAccount,
    ErrorRecord,
    Flow,
    FlowJob,
    Integration,
    Profile,
    SavedView,
    Step,
    SyncRun,
    Tag,
    Team,
    TeamMembership,
)


class CeligoAccountForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Overrides the region (a proxy or the simulator)."
    )
    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: leave empty to keep the stored token. A new token is checked with Celigo.",
    )

    class Meta:
        model = CeligoAccount
        fields = [
            "name",
            "region",
            "base_url",
            "sandbox",
            "enabled",
            "rate_burst",
            "rate_per_second",
            "sync_interval_seconds",
            "full_sync_interval_hours",
            "metadata_interval_minutes",
            "mirror_assignments",
            "mirror_tags",
            "tag_variant",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        token = cleaned.get("token")
        if not token and not self.instance.pk:
            self.add_error("token", "A new account needs its Celigo API token.")
        moved = {"region", "base_url"} & set(self.changed_data)
        if not token and self.instance.pk and moved:
            # The stored token must never reach a host its owner did not type it for.
            self.add_error("token", "Changing the region or base URL needs the account's token again.")
        if token and not self.errors:
            try:
                check_token(
                    token, region=cleaned.get("region") or None, base_url=cleaned.get("base_url") or None
                )
            except TokenCheckFailed as exc:
                self.add_error("token", str(exc))
        return cleaned

    def save(self, commit: bool = True) -> CeligoAccount:
        account: CeligoAccount = super().save(commit=False)
        if self.cleaned_data.get("token"):
            account.token = self.cleaned_data["token"]
        if commit:
            account.save()
        return account


@admin.register(CeligoAccount)
class CeligoAccountAdmin(admin.ModelAdmin):
    form = CeligoAccountForm
    list_display = [
        "name",
        "endpoint",
        "masked_token",
        "status",
        "status_message",
        "sync_interval_seconds",
        "enabled",
    ]
    list_filter = ["status", "enabled", "region"]
    readonly_fields = [
        "masked_token",
        "status",
        "status_message",
        "status_changed_at",
        "last_full_sync_at",
        "last_metadata_sync_at",
        "celigo_user_id",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting an account would delete its errors and their timelines: disable it instead.
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never added, changed or deleted (deleting an error would also take
    its timeline with it)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "kind",
        "started_at",
        "outcome",
        "api_calls",
        "rate_limited",
        "errors_new",
        "errors_updated",
        "errors_closed",
        "errors_purged",
        "errors_malformed",
    ]
    list_filter = ["outcome", "kind", "account"]


@admin.register(ErrorRecord)
class ErrorRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "error_id",
        "account",
        "code",
        "source",
        "classification",
        "status",
        "occurred_at",
        "purged",
    ]
    list_filter = ["status", "purged", "account"]
    search_fields = ["error_id", "trace_key", "code"]
    show_full_result_count = False  # counting a million rows for the header is not worth it
    raw_id_fields = ["flow", "step", "integration", "assignee", "retry_of", "regression_of"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["error", "kind", "actor", "created_at", "message"]
    list_filter = ["kind"]
    raw_id_fields = ["error"]
    show_full_result_count = False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "actor", "user", "team"]
    list_filter = ["kind"]


@admin.register(ActionBatch)
class ActionBatchAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "actor", "state", "total", "succeeded", "failed", "skipped", "created_at"]
    list_filter = ["state", "kind"]


@admin.register(Integration, Flow, Step, FlowJob)
class MirroredAdmin(ReadOnlyAdmin):
    """Mirrored from Celigo by the sync; edit them in Celigo."""


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams have pages of their own (/teams/); the admin is the fallback."""

    inlines = [TeamMembershipInline]
    filter_horizontal = ["owned_accounts", "owned_integrations", "owned_flows", "owned_steps"]
    search_fields = ["name"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "restricted"]
    list_filter = ["role", "restricted"]
    autocomplete_fields = ["user"]


admin.site.register([Tag, SavedView])
admin.site.site_header = "Error Desk administration"
