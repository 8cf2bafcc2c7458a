"""The audit trail of what is not an error: people, roles, teams, members and the scopes teams own.

Changes to errors are on each error's timeline (``Activity``); everything else a lead or an admin changes
is an ``AuditEvent``: who, when, what, and the data before and after.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditKind(models.TextChoices):
    PERSON_ADDED = "person_added", "Person added"
    ROLE_CHANGED = "role_changed", "Role changed"
    RESTRICTION_CHANGED = "restriction_changed", "Restriction changed"
    PERSON_DEACTIVATED = "person_deactivated", "Person deactivated"
    PERSON_REACTIVATED = "person_reactivated", "Person reactivated"
    PASSWORD_LINK_ISSUED = "password_link_issued", "Set-password link issued"
    TEAM_CREATED = "team_created", "Team created"
    TEAM_CHANGED = "team_changed", "Team changed"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member's team role changed"
    SCOPES_CHANGED = "scopes_changed", "Owned scopes changed"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"


class AuditEvent(models.Model):
    kind = models.CharField(max_length=24, choices=AuditKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What it is about: a person, a team, or both (a membership).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "dashboard.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="audit_team_recent"),
            models.Index(fields=["user", "-created_at"], name="audit_user_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"
