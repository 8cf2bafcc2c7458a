"""The one filter definition of the error list, shared by the HTML list, the CSV export and the REST API.

Query names are the REST API's (`account`, `flow_id`, `occurred_after`, …) so a list URL and an API
URL filter the same way. Every value is validated by a form field: a bad value becomes a form error the page
shows (or a 400 in the API), never an exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dashboard.access import team_ids
from dashboard.models import CeligoAccount, CeligoState, ErrorRecord, RetryOutcome, RoutingRule, RuleHit
from dashboard.routing.conditions import rule_q

# Must stay identical to the expression of the trigram index in migration 0004, or PostgreSQL will not use it.
SEARCH_EXPRESSION = "(message || ' ' || code || ' ' || trace_key || ' ' || error_id)"
SEARCH_MAX_LENGTH = 200

DEFAULT_ORDERING = ("-occurred_at", "-id")
NULLS_LAST = {"resolved_at"}

# URL value → model field. Every column of the list sorts; the tie-breaker on id keeps pages stable.
ORDERING_FIELDS = {
    "occurred_at": "occurred_at",
    "account": "account__name",
    "flow": "flow__name",
    "step": "step__name",
    "source": "source",
    "code": "code",
    "classification": "classification",
    "message": "message",
    "status": "status",
    "assignee": "assignee__username",
    "team": "team__name",
    "trace_key": "trace_key",
    "error_id": "error_id",
    "retry_outcome": "retry_outcome",
    "resolved_at": "resolved_at",
    "first_seen_at": "first_seen_at",
    "last_seen_at": "last_seen_at",
}


class Period(django_filters.ChoiceFilter):
    """A preset time window on one date field (Celigo's presets, docs/celigo-api.md §5)."""

    CHOICES = [
        ("today", "Today"),
        ("yesterday", "Yesterday"),
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
        ("15d", "Last 15 days"),
        ("30d", "Last 30 days"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", self.CHOICES)
        kwargs.setdefault("empty_label", "Any time")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        start, end = period_bounds(value, timezone.now())
        qs = qs.filter(**{f"{self.field_name}__gte": start})
        return qs.filter(**{f"{self.field_name}__lt": end}) if end else qs


def period_bounds(value: str, now: datetime) -> tuple[datetime, datetime | None]:
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "today":
        return today, None
    if value == "yesterday":
        return today - timedelta(days=1), today
    if value == "24h":
        return now - timedelta(hours=24), None
    return now - timedelta(days=int(value.rstrip("d"))), None


class AssigneeField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = (super().clean(value) or "").strip()
        if value and not re.fullmatch(r"me|none|\d{1,18}", value):
            raise forms.ValidationError("Use a user id, “me” or “none”.")
        return value


class AssigneeFilter(django_filters.Filter):
    field_class = AssigneeField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        if value == "none":
            return qs.filter(assignee__isnull=True)
        if value == "me":
            request = self.parent.request if self.parent else None
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                return qs.none()
            return qs.filter(assignee=user)
        return qs.filter(assignee_id=int(value))


class TeamField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = (super().clean(value) or "").strip()
        if value and not re.fullmatch(r"mine|none|\d{1,18}", value):
            raise forms.ValidationError("Use a team id, “mine” or “none”.")
        return value


class TeamFilter(django_filters.Filter):
    """A team's id, ``mine`` (the teams of the person asking) or ``none`` (errors in no team's queue)."""

    field_class = TeamField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        if value == "none":
            return qs.filter(team__isnull=True)
        if value == "mine":
            request = self.parent.request if self.parent else None
            return qs.filter(team_id__in=team_ids(getattr(request, "user", None)))
        return qs.filter(team_id=int(value))


class RuleField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = (super().clean(value) or "").strip()
        if value and not re.fullmatch(r"\d{1,18}", value):
            raise forms.ValidationError("Use a routing rule's id.")
        return value


class RoutedByRuleFilter(django_filters.Filter):
    """Errors a routing rule matched (``RuleHit``), newly stored or in a backlog the rule was applied to."""

    field_class = RuleField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(pk__in=RuleHit.objects.filter(rule_id=int(value)).values("error_id"))


class MatchesRuleFilter(django_filters.Filter):
    """Errors a routing rule's conditions match now, whether or not it ever acted on them (its backlog)."""

    field_class = RuleField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        rule = RoutingRule.objects.filter(pk=int(value)).only("match", "conditions").first()
        return qs.filter(rule_q(rule.match, rule.conditions)) if rule is not None else qs.none()


class SearchFilter(django_filters.CharFilter):
    """Free text over message, code, trace key and error id (case-insensitive substring)."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        value = (value or "").strip()
        if not value:
            return qs
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", value) + "%"
        if connection.vendor == "postgresql":
            # One ILIKE over one expression, so the trigram GIN index of migration 0004 answers it.
            condition = RawSQL(f"{SEARCH_EXPRESSION} ILIKE %s", [pattern], output_field=BooleanField())  # noqa: S611
            return qs.filter(condition)
        fields = ("message", "code", "trace_key", "error_id")
        return qs.filter(Q(*(Q(**{f"{name}__icontains": value}) for name in fields), _connector=Q.OR))


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorts by the chosen column, then by id in the same direction, so pagination never skips rows."""

    def filter(self, qs: QuerySet[Any], value: list[str] | None) -> QuerySet[Any]:
        if not value:
            return qs.order_by(*DEFAULT_ORDERING)
        ordering = [self.get_ordering_value(param) for param in value if param]
        if not ordering:
            return qs.order_by(*DEFAULT_ORDERING)
        descending = ordering[0].startswith("-")
        first = ordering[0].lstrip("-")
        if first in NULLS_LAST:
            # Errors without the date (open ones have no resolved_at) go last both ways, not first.
            expression = F(first).desc(nulls_last=True) if descending else F(first).asc(nulls_last=True)
            return qs.order_by(expression, "-id" if descending else "id")
        return qs.order_by(*ordering, "-id" if descending else "id")


# Times outside these years are no error's: refused with a form error before they reach a query, where
# 0001-01-01T00:00:00+01:00 (a year 0 in UTC) or 9999-12-31T23:59:59-05:00 (a year 10000) cannot be written.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            in_range = EARLIEST <= moment.astimezone(UTC) < LATEST
        except OverflowError:
            in_range = False
        if not in_range:
            raise forms.ValidationError(
                f"Use a time between {EARLIEST.year} and {LATEST.year - 1}.", code="out_of_range"
            )
        # The same instant in UTC: PostgreSQL refuses offsets beyond ±15:59 (ISO allows +18:34).
        return moment.astimezone(UTC)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class ErrorFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for start, end in (("occurred_after", "occurred_before"), ("resolved_after", "resolved_before")):
            if cleaned.get(start) and cleaned.get(end) and cleaned[start] > cleaned[end]:
                self.add_error(end, "The end of the range is before its start.")
        return cleaned


class ErrorFilter(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(
        queryset=CeligoAccount.objects.all(), empty_label="Any account"
    )
    integration_id = django_filters.CharFilter(field_name="integration__celigo_id", max_length=64)
    # Flow and step filter through their local rows, whose indexed foreign keys the errors carry.
    flow_id = django_filters.CharFilter(field_name="flow__celigo_id", max_length=64)
    step_id = django_filters.CharFilter(field_name="step__celigo_id", max_length=64)
    source = django_filters.CharFilter(max_length=100)
    classification = django_filters.CharFilter(max_length=100)
    code = django_filters.CharFilter(max_length=200)
    status = django_filters.ChoiceFilter(choices=CeligoState.choices, empty_label="Any status")
    purged = django_filters.BooleanFilter()
    assignee = AssigneeFilter(max_length=20)
    team = TeamFilter(max_length=20)
    tag = django_filters.CharFilter(field_name="tags__name", max_length=60)
    occurred = Period(field_name="occurred_at", label="Occurred")
    occurred_after = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    resolved = Period(field_name="resolved_at", label="Resolved")
    resolved_after = BoundedIsoDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = BoundedIsoDateTimeFilter(field_name="resolved_at", lookup_expr="lt")
    regression = django_filters.BooleanFilter(field_name="regression_of", lookup_expr="isnull", exclude=True)
    retry_outcome = django_filters.ChoiceFilter(
        choices=[c for c in RetryOutcome.choices if c[0]], empty_label="Any retry outcome"
    )
    fingerprint = django_filters.CharFilter(max_length=16)
    rule = RoutedByRuleFilter(max_length=20, label="Routed by rule")
    matches_rule = MatchesRuleFilter(max_length=20, label="Matching a rule's conditions")
    q = SearchFilter(max_length=SEARCH_MAX_LENGTH, label="Search")
    ordering = StableOrderingFilter(fields=[(field, name) for name, field in ORDERING_FIELDS.items()])

    class Meta:
        model = ErrorRecord
        fields: list[str] = []
        form = ErrorFilterForm


def assignee_choices() -> list[tuple[str, str]]:
    users = get_user_model().objects.filter(is_active=True).order_by("username").values_list("pk", "username")
    return [("", "Anyone"), ("me", "Me"), ("none", "Unassigned"), *((str(pk), name) for pk, name in users)]
