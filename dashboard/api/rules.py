"""``/api/v1/rules/``: routing rules, in their order; leads and admins only, as in the browser.

Changes go through ``actions/rules.py`` (a refusal is a 400 naming the field); ``position`` moves a rule;
``rules/dry-run/`` counts what conditions would have matched; ``rules/{id}/apply/`` applies a rule to the
open backlog as an action batch (docs/architecture.md "Routing rules").
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard import access
from dashboard.actions import rules
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination
from dashboard.models import AssignMode, RoutingRule, RuleMatch, Team
from dashboard.outbox.selection import ActionRejected
from dashboard.queries.rules import DEFAULT_DRY_RUN_DAYS, dry_run
from dashboard.routing.conditions import MAX_CONDITIONS, RuleInvalid, clean_conditions

MAX_POSITION = 100_000


class CanManageRules(permissions.BasePermission):
    message = "Routing rules need the lead role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return access.can_manage_teams(request.user)


class ConditionSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(max_length=40, help_text="account, integration, flow, step, source, …")
    op = serializers.CharField(max_length=20, help_text="is, contains, glob, regex, present or absent.")
    value = serializers.JSONField(
        required=False, help_text="Text, or an account id; none for present/absent."
    )


class RuleSerializer(serializers.ModelSerializer[RoutingRule]):
    conditions = serializers.ListField(child=ConditionSerializer(), max_length=MAX_CONDITIONS)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), allow_null=True, required=False
    )
    assign_mode = serializers.ChoiceField(choices=AssignMode.choices, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=rules.MAX_TAGS, required=False
    )
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, required=False)

    class Meta:
        model = RoutingRule
        fields = [
            "id", "name", "position", "enabled", "match", "conditions", "team", "assign_mode", "assignee",
            "tags", "hit_count", "last_hit_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "hit_count", "last_hit_at", "created_at", "updated_at"]
        # A name in use is refused by actions/rules.py, naming the field, like every other problem.
        extra_kwargs: dict[str, Any] = {"name": {"validators": []}}

    def rule_fields(self, rule: RoutingRule | None) -> rules.RuleFields:
        data = self.validated_data

        def given(name: str, default: Any) -> Any:
            return data.get(name, default)

        return rules.RuleFields(
            name=given("name", rule.name if rule else ""),
            conditions=[dict(c) for c in data["conditions"]]
            if "conditions" in data
            else rule.conditions
            if rule
            else [],
            match=given("match", rule.match if rule else RuleMatch.ALL),
            enabled=given("enabled", rule.enabled if rule else True),
            team=given("team", rule.team if rule else None),
            assign_mode=given("assign_mode", rule.assign_mode if rule else AssignMode.NONE),
            assignee=given("assignee", rule.assignee if rule else None),
            tags=given("tags", list(rule.tags) if rule else []),
        )


class DryRunSerializer(serializers.Serializer[Any]):
    match = serializers.ChoiceField(choices=RuleMatch.choices, default=RuleMatch.ALL)
    conditions = serializers.ListField(child=ConditionSerializer(), max_length=MAX_CONDITIONS)
    days = serializers.IntegerField(min_value=1, max_value=90, default=DEFAULT_DRY_RUN_DAYS)


class DryRunResultSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    count = serializers.IntegerField(help_text="Errors that occurred in the last `days` days and match.")
    open_count = serializers.IntegerField(help_text="Of which open: what applying the rule would touch.")
    sample = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the newest matches.")


class BatchStartedSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    state = serializers.CharField()


def invalid(exc: RuleInvalid) -> ValidationError:
    return ValidationError({field: [text] for field, text in exc.errors.items()})


class RuleViewSet(viewsets.ModelViewSet[RoutingRule]):
    """Routing rules in the order they are applied. Leads and admins only."""

    queryset = RoutingRule.objects.none()
    serializer_class = RuleSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [*viewsets.ModelViewSet.permission_classes, CanManageRules]
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[RoutingRule]:
        return RoutingRule.objects.order_by("position", "id")

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert isinstance(serializer, RuleSerializer)
        try:
            rule = rules.do_create_rule(self.request.user, serializer.rule_fields(None))
        except RuleInvalid as exc:
            raise invalid(exc) from exc
        if "position" in serializer.validated_data:
            rules.do_move_rule(self.request.user, rule, serializer.validated_data["position"])
        serializer.instance = self.get_queryset().get(pk=rule.pk)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert isinstance(serializer, RuleSerializer)
        rule: Any = serializer.instance
        try:
            rules.do_update_rule(self.request.user, rule, serializer.rule_fields(rule))
        except RuleInvalid as exc:
            raise invalid(exc) from exc
        if "position" in serializer.validated_data:
            rules.do_move_rule(self.request.user, rule, serializer.validated_data["position"])
        serializer.instance = self.get_queryset().get(pk=rule.pk)

    def perform_destroy(self, instance: RoutingRule) -> None:
        rules.do_delete_rule(self.request.user, instance)

    @extend_schema(request=DryRunSerializer, responses=DryRunResultSerializer)
    @action(detail=False, methods=["post"], url_path="dry-run", pagination_class=None)
    def dry_run(self, request: Request) -> Response:
        asked = DryRunSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        try:
            conditions = clean_conditions([dict(c) for c in asked.validated_data["conditions"]])
        except RuleInvalid as exc:
            raise invalid(exc) from exc
        data = asked.validated_data
        result = dry_run(request.user, data["match"], conditions, days=data["days"], now=timezone.now())
        return Response(
            {
                "days": result.days,
                "count": result.count,
                "open_count": result.open_count,
                "sample": [error.pk for error in result.sample],
            }
        )

    @extend_schema(request=None, responses={202: BatchStartedSerializer})
    @action(detail=True, methods=["post"], pagination_class=None)
    def apply(self, request: Request, pk: str) -> Response:
        """Apply the rule to the open errors it matches, as an action batch (see ``actions/{id}/``)."""
        rule = self.get_object()
        try:
            batch = rules.do_apply_rule_to_backlog(request.user, rule)
        except ActionRejected as exc:
            raise ValidationError({"action": [str(exc)]}) from exc
        return Response({"id": batch.pk, "state": batch.state}, status=status.HTTP_202_ACCEPTED)
