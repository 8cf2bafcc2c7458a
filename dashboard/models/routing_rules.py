"""Routing rules: ordered conditions on a new error's fields, and what to do with the errors that match.

The conditions' vocabulary and how a rule is evaluated live in ``dashboard.routing.conditions`` and
``dashboard.routing.rules``; this module only stores them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.models.errors import ErrorRecord
from dashboard.models.teams import Team


class RuleMatch(models.TextChoices):
    ALL = "all", "All conditions (AND)"
    ANY = "any", "Any condition (OR)"


class AssignMode(models.TextChoices):
    NONE = "", "Nobody"
    PERSON = "person", "A person"
    ROUND_ROBIN = "round_robin", "The team's next member in turn"
    LEAST_LOADED = "least_loaded", "The team's member with the fewest open errors"


class RoutingRule(models.Model):
    """One rule, evaluated in ``position`` order on every new error (docs/architecture.md "Routing rules").

    ``conditions`` is a list of ``{"field", "op", "value"}`` objects, combined by ``match``.
    """

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=RuleMatch.choices, default=RuleMatch.ALL)
    conditions = models.JSONField(default=list, blank=True)

    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assign_mode = models.CharField(max_length=12, choices=AssignMode.choices, blank=True, default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.JSONField(default=list, blank=True)

    hit_count = models.PositiveBigIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)
    # Round robin: the member who received the rule's last error; the next one in user-id order is next.
    last_assignee_id = models.BigIntegerField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class RuleHit(models.Model):
    """An error a rule matched (a new error, or the backlog a lead applied it to): "routed by rule X"."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="hits")
    error = models.ForeignKey(ErrorRecord, on_delete=models.CASCADE, related_name="rule_hits", db_index=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "error"], name="rule_hit_unique")]
        indexes = [models.Index(fields=["error"], name="rule_hit_error")]

    def __str__(self) -> str:
        return f"{self.rule_id} matched {self.error_id}"
