"""Celigo accounts: where they live, their encrypted token, their rate limit and sync schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from dashboard.env import CELIGO_REGIONS
from dashboard.lib import crypto


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
    # docs/celigo-api.md §2.13: the tag call's body is disputed; the account picks the variant that works.
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
    # Zero would stall the limiter or spin the sync: every pace and interval is at least 1.
    rate_burst = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    rate_per_second = models.FloatField(default=30.0, validators=[MinValueValidator(0.1)])
    sync_interval_seconds = models.PositiveIntegerField(default=120, validators=[MinValueValidator(1)])
    full_sync_interval_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1)])
    metadata_interval_minutes = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    mirror_assignments = models.BooleanField(default=False)
    mirror_tags = models.BooleanField(default=False)
    tag_variant = models.CharField(max_length=12, choices=TagVariant.choices, default=TagVariant.ERROR_IDS)
    enabled = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.NEW)
    status_message = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Celigo's standalone-flow summary (`/integrations/none/errors`) is unverified (docs/celigo-api.md §2.1);
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
        return self.base_url or CELIGO_REGIONS[self.region or Region.NA]

    def full_sync_due(self, now: Any = None) -> bool:
        now = now or timezone.now()
        last = self.last_full_sync_at
        return last is None or now - last >= timedelta(hours=self.full_sync_interval_hours)

    def metadata_due(self, now: Any = None) -> bool:
        now = now or timezone.now()
        last = self.last_metadata_sync_at
        return last is None or now - last >= timedelta(minutes=self.metadata_interval_minutes)
