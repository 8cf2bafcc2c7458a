"""Recording changes to people and teams (``AuditEvent``), as the timeline records changes to errors."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from dashboard.audit.sentences import describe
from dashboard.models import AuditEvent, Team

__all__ = ["describe", "record"]


def record(
    actor: AbstractBaseUser | AnonymousUser | None,
    kind: str,
    *,
    user: AbstractBaseUser | None = None,
    team: Team | None = None,
    **data: Any,
) -> AuditEvent:
    """Save one audit event; ``actor`` is the person who made the change (None: a command or the system)."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        kind=kind,
        actor_id=actor_id,
        user_id=user.pk if user is not None else None,
        team=team,
        data=data,
    )
