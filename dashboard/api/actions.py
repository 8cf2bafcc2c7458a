"""``/api/v1/actions/``: ask for an action over chosen errors or a filter, and follow its batch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard import access
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination, paginated
from dashboard.api.permissions import CanActOrReadOnly
from dashboard.api.problems import rejected
from dashboard.models import ActionBatch, ActionItem, ActionKind, ItemOutcome
from dashboard.outbox.request import cancel_batch, clean_params, may_set_team, request_action
from dashboard.outbox.selection import ActionRejected, validate_filter

MAX_IDS = 100_000
FILTER_MAX_LENGTH = 4000


class ActionRequestSerializer(serializers.Serializer[Any]):
    # Applying a routing rule to the backlog is asked for through rules/, not here.
    action = serializers.ChoiceField(choices=[c for c in ActionKind.choices if c[0] != ActionKind.APPLY_RULE])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=MAX_IDS,
        help_text="The errors to act on; or give `filter` instead.",
    )
    filter = serializers.JSONField(
        required=False,
        help_text="Every error the list's filters match: an object of query names "
        '(`{"status": "open", "code": "429"}`) or the query string itself.',
    )
    params = serializers.DictField(required=False, default=dict, help_text="The action's parameters.")
    dry_run = serializers.BooleanField(default=False, help_text="Only count the errors it would touch.")

    def validate_filter(self, value: Any) -> str:
        if isinstance(value, str):
            query = value.lstrip("?")
        elif isinstance(value, dict) and all(
            isinstance(v, str | int | bool) or v is None for v in value.values()
        ):
            query = urlencode({str(k): v for k, v in value.items() if v is not None})
        else:
            raise serializers.ValidationError("Give an object of query names and values, or a query string.")
        if len(query) > FILTER_MAX_LENGTH:
            raise serializers.ValidationError(f"At most {FILTER_MAX_LENGTH} characters.")
        return query

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["Give either ids or filter (not both)."]})
        return attrs


class ItemSerializer(serializers.ModelSerializer[ActionItem]):
    class Meta:
        model = ActionItem
        fields = ["error", "outcome", "message", "attempts", "updated_at"]
        read_only_fields = fields


class BatchSerializer(serializers.ModelSerializer[ActionBatch]):
    action = serializers.CharField(source="kind")
    filter = serializers.CharField(source="filter_query")
    done = serializers.SerializerMethodField(help_text="Items with an outcome so far.")

    class Meta:
        model = ActionBatch
        fields = [
            "id", "action", "params", "actor", "filter", "state", "total", "done", "succeeded", "failed",
            "skipped", "celigo_calls", "message", "mirror_failures", "mirror_message", "cancel_requested",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_done(self, batch: ActionBatch) -> int:
        return batch.succeeded + batch.failed + batch.skipped


class BatchDetailSerializer(BatchSerializer):
    outcomes = serializers.SerializerMethodField(help_text="How many items ended each way.")

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "outcomes"]
        read_only_fields = fields

    def get_outcomes(self, batch: ActionBatch) -> dict[str, int]:
        counted = dict.fromkeys(ItemOutcome.values, 0)
        for row in batch.items.order_by().values("outcome").annotate(n=Count("*")):
            counted[row["outcome"]] = row["n"]
        return counted


class ActionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ActionBatch],
):
    """Action batches the caller may see (their own; leads and admins everyone's)."""

    queryset = ActionBatch.objects.none()
    serializer_class = BatchSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [*viewsets.GenericViewSet.permission_classes, CanActOrReadOnly]
    filterset_class = None
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[ActionBatch]:
        return access.visible_batches(self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "create":
            return ActionRequestSerializer
        return BatchDetailSerializer if self.action == "retrieve" else BatchSerializer

    @extend_schema(
        request=ActionRequestSerializer,
        responses={
            202: BatchSerializer,
            200: inline_serializer(
                "DryRun", {"dry_run": serializers.BooleanField(), "count": serializers.IntegerField()}
            ),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        asked = ActionRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        data = asked.validated_data
        user = request.user
        selection = {"error_ids": data["ids"]} if "ids" in data else {"filter_query": data["filter"]}
        try:
            if data["dry_run"]:
                params = clean_params(data["action"], data["params"])
                if data["action"] == ActionKind.SET_TEAM and not may_set_team(user, params["team"]):
                    raise ActionRejected("team: you may only put errors in one of your teams")
                return Response({"dry_run": True, "count": selection_count(user, selection)})
            batch = request_action(user, data["action"], params=data["params"], **selection)
        except ActionRejected as exc:
            raise rejected(exc, "params") from exc
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ItemSerializer(many=True))
    @action(detail=True)
    def items(self, request: Request, pk: str) -> Response:
        """Each error's outcome in the batch."""
        batch = self.get_object()
        items = ActionItem.objects.filter(batch=batch).order_by("-id")
        return paginated(request, items, ItemSerializer)

    @extend_schema(request=None, responses={202: BatchSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop the batch before its next step; what was not sent is marked skipped."""
        batch = self.get_object()
        cancel_batch(batch)
        batch.refresh_from_db()
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


def selection_count(user: Any, selection: dict[str, Any]) -> int:
    if "filter_query" in selection:
        return validate_filter(selection["filter_query"], user).order_by().count()
    return access.visible_errors(user).filter(pk__in=selection["error_ids"]).count()
