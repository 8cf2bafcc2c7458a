"""API tokens: issuing one (its secret is shown once) and revoking one, each audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from dashboard import audit
from dashboard.models import ApiToken, AuditKind, TokenScope

Actor = AbstractBaseUser | AnonymousUser | None
MAX_EXPIRY_DAYS = 3650


class TokenRejected(ValueError):
    """The request is invalid; ``field`` names the field, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def expiry_in(days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise TokenRejected("expires_days", f"give a number of days from 1 to {MAX_EXPIRY_DAYS}")
    return timezone.now() + timedelta(days=days)


def do_create_token(
    actor: Actor,
    user: Any,
    *,
    scope: str = TokenScope.READ,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of ``user``; returns it with its secret, which nobody can read again."""
    if scope not in TokenScope.values:
        raise TokenRejected("scope", "choose read or write")
    if not user.is_active:
        raise TokenRejected("user", f"{user.get_username()} is deactivated")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenRejected("expires_at", "the expiry must be in the future")
    with transaction.atomic():
        token, secret = ApiToken.issue(user, scope=scope, name=name.strip()[:100], expires_at=expires_at)
        audit.record(
            actor,
            AuditKind.TOKEN_CREATED,
            user=user,
            username=user.get_username(),
            prefix=token.prefix,
            scope=scope,
            name=token.name,
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    return token, secret


def do_revoke_token(actor: Actor, token: ApiToken) -> bool:
    """The token stops working at once; returns whether it was still unrevoked."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit.record(
                actor,
                AuditKind.TOKEN_REVOKED,
                user=token.user,
                username=token.user.get_username(),
                prefix=token.prefix,
            )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(revoked)
