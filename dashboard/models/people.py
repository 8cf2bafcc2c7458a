"""People: each user's one org-wide role and whether they are restricted to their teams' errors."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Each role may do what the ones before it may (docs/architecture.md "Visibility")."""

    VIEWER = "viewer", "Viewer: reads errors"
    TRIAGER = "triager", "Triager: also acts on errors"
    LEAD = "lead", "Lead: also manages teams, rules, channels and shared views"
    ADMIN = "admin", "Admin: also manages accounts, people and their tokens"


ROLE_RANK = {Role.VIEWER: 0, Role.TRIAGER: 1, Role.LEAD: 2, Role.ADMIN: 3}


class Profile(models.Model):
    """Error Desk's part of a user. A user without one is a viewer (a superuser: an admin)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    restricted = models.BooleanField(
        default=False,
        help_text="Sees, counts, exports and acts on only their teams' errors (leads and admins never are).",
    )

    def __str__(self) -> str:
        return f"{self.user}: {self.role}{' (restricted)' if self.restricted else ''}"
