"""Teams own work: members with their role in the team, and scopes whose new errors land in their queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models.accounts import CeligoAccount
from dashboard.models.structure import Flow, Integration, Step


class TeamRole(models.TextChoices):
    MEMBER = "member", "Member"
    LEAD = "lead", "Team lead"


class Team(models.Model):
    """A queue of errors and the people who work it.

    A team may own whole accounts, integrations, flows or steps: new errors there arrive in its queue
    (``dashboard.routing``); the most specific owner wins (step, then flow, integration, account).
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", blank=True, related_name="error_desk_teams"
    )
    owned_accounts = models.ManyToManyField(CeligoAccount, blank=True, related_name="owning_teams")
    owned_integrations = models.ManyToManyField(Integration, blank=True, related_name="owning_teams")
    owned_flows = models.ManyToManyField(Flow, blank=True, related_name="owning_teams")
    owned_steps = models.ManyToManyField(Step, blank=True, related_name="owning_teams")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=10, choices=TeamRole.choices, default=TeamRole.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "user"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
