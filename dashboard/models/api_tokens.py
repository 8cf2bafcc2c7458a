"""API tokens: a person's key for the REST API, stored as a hash, identified by a visible prefix.

The secret is shown once when the token is made; only its SHA-256 is kept, so a leaked database gives no
usable token. The secret has 256 bits of entropy, which is why a plain hash (not a slow KDF) is enough.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX_LENGTH = 8
# "ed_" marks an Error Desk token in logs and secret scanners; the prefix that follows is what people see.
TOKEN_MARK = "ed_"  # noqa: S105 (a label, not a secret)


class TokenScope(models.TextChoices):
    READ = "read", "Read: GET only"
    WRITE = "write", "Write: reads and acts as its owner may"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, blank=True, help_text="What the token is for, e.g. 'warehouse sync'."
    )
    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_token_user_recent")]

    def __str__(self) -> str:
        return f"{TOKEN_MARK}{self.prefix}… ({self.scope}) of {self.user}"

    @classmethod
    def issue(
        cls,
        user: Any,
        *,
        scope: str = TokenScope.READ,
        name: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """Make a token; returns it and the secret, which is never available again."""
        prefix = secrets.token_hex(TOKEN_PREFIX_LENGTH // 2)
        secret = f"{TOKEN_MARK}{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            scope=scope,
            expires_at=expires_at,
        )
        return token, secret

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def state(self) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired else "active"
