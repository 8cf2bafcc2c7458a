"""``/api/v1/errors/``: the error list and one error, its timeline, retry data and HTTP log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

import celigo_api
from dashboard import access, timeline
from dashboard.actions.retry_data import do_edit_retry_data
from dashboard.api.pagination import KeysetCursorPagination, paginated
from dashboard.api.problems import celigo_problem, rejected
from dashboard.celigo import WEB_MAX_WAIT_SECONDS, client_for
from dashboard.models import Activity, ErrorRecord
from dashboard.outbox.selection import ActionRejected
from dashboard.queries.export import iso
from dashboard.queries.filters import ErrorFilter

CELIGO_TIMEOUT_SECONDS = 10.0
PK_PATTERN = r"[0-9]{1,18}"


class ErrorSerializer(serializers.ModelSerializer[ErrorRecord]):
    """The fields of docs/api.md "Errors"; ``account``, ``assignee`` and ``team`` are ids, as filters take."""

    flow_id = serializers.CharField(source="celigo_flow_id")
    step_id = serializers.CharField(source="celigo_step_id")
    integration_id = serializers.SerializerMethodField()
    flow_name = serializers.SerializerMethodField()
    step_name = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = ErrorRecord
        fields = [
            "id", "account", "flow_id", "step_id", "error_id", "integration_id", "flow_name", "step_name",
            "occurred_at", "source", "code", "message", "classification", "trace_key", "retry_data_key",
            "flow_job_id", "status", "assignee", "team", "tags", "resolved_at", "resolved_by",
            "first_seen_at", "last_seen_at", "purged",
        ]  # fmt: skip
        read_only_fields = fields

    def get_integration_id(self, error: ErrorRecord) -> str | None:
        return error.integration.celigo_id if error.integration else None

    def get_flow_name(self, error: ErrorRecord) -> str | None:
        return error.flow.name if error.flow else None

    def get_step_name(self, error: ErrorRecord) -> str | None:
        return error.step.name if error.step else None

    def get_tags(self, error: ErrorRecord) -> list[str]:
        names = getattr(error, TAG_NAMES, None)
        return sorted(names if names is not None else (tag.name for tag in error.tags.all()))

    def to_representation(self, error: ErrorRecord) -> dict[str, Any]:
        # The fields above, written out: a page of 200 errors is serialised in a few milliseconds instead of
        # tens through each field object (bench/api.py); the declarations still make the schema.
        return {
            "id": error.pk,
            "account": error.account_id,
            "flow_id": error.celigo_flow_id,
            "step_id": error.celigo_step_id,
            "error_id": error.error_id,
            "integration_id": self.get_integration_id(error),
            "flow_name": self.get_flow_name(error),
            "step_name": self.get_step_name(error),
            "occurred_at": iso(error.occurred_at),
            "source": error.celigo_value("source"),
            "code": error.celigo_value("code"),
            "message": error.message,
            "classification": error.celigo_value("classification"),
            "trace_key": error.celigo_value("trace_key"),
            "retry_data_key": error.celigo_value("retry_data_key"),
            "flow_job_id": error.celigo_value("flow_job_id"),
            "status": error.status,
            "assignee": error.assignee_id,
            "team": error.team_id,
            "tags": self.get_tags(error),
            "resolved_at": iso(error.resolved_at),
            "resolved_by": error.celigo_value("resolved_by"),
            "first_seen_at": iso(error.first_seen_at),
            "last_seen_at": iso(error.last_seen_at),
            "purged": error.purged,
        }


class ErrorDetailSerializer(ErrorSerializer):
    def to_representation(self, error: ErrorRecord) -> dict[str, Any]:
        data = serializers.ModelSerializer.to_representation(self, error)
        data.update({name: error.celigo_value(name) for name in WHOLE_VALUES})
        # A linked error (the one a failed retry came from, or a regression's) may be another team's.
        linked = [pk for pk in (error.retry_of_id, error.regression_of_id) if pk]
        if linked:
            user = self.context["request"].user
            visible = set(access.visible_errors(user).filter(pk__in=linked).values_list("pk", flat=True))
            for field in ("retry_of", "regression_of"):
                if data[field] not in visible:
                    data[field] = None
        return data

    class Meta(ErrorSerializer.Meta):
        fields = [
            *ErrorSerializer.Meta.fields,
            "fingerprint", "retry_outcome", "retried_at", "retry_of", "regression_of", "retriable",
            "purge_at", "raw",
        ]  # fmt: skip
        read_only_fields = fields


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    text = serializers.SerializerMethodField(help_text="The entry as a sentence, as the timeline shows it.")

    class Meta:
        model = Activity
        fields = ["id", "kind", "actor", "created_at", "text", "data"]
        read_only_fields = fields

    def get_text(self, activity: Activity) -> str:
        return timeline.describe(activity)


class RetryDataSerializer(serializers.Serializer[Any]):
    data = serializers.JSONField(help_text="The failed record, as Celigo will send it again.")  # type: ignore[assignment]
    expected_before = serializers.JSONField(
        required=False,
        write_only=True,
        help_text="The data you edited; if Celigo's copy differs now, nothing is written (400).",
    )
    retry = serializers.BooleanField(default=False, write_only=True, help_text="Queue a retry afterwards.")


# The list's columns: not ``raw`` (Celigo's whole JSON), and of the related rows only the names shown, since
# flows and steps carry JSON documents of their own; account, assignee and team are plain ids.
LIST_COLUMNS = (
    "account_id", "celigo_flow_id", "celigo_step_id", "error_id", "occurred_at", "source", "code", "message",
    "classification", "trace_key", "retry_data_key", "flow_job_id", "status", "assignee_id", "team_id",
    "resolved_at", "resolved_by", "first_seen_at", "last_seen_at", "purged", "integration__celigo_id",
    "flow__name", "step__name",
)  # fmt: skip


TAG_NAMES = "tag_names"
# Bounded columns whose whole value the API returns from ``raw`` when the column is full (models/errors.py).
WHOLE_VALUES = (
    "source", "code", "classification", "trace_key", "retry_data_key", "flow_job_id", "resolved_by",
)  # fmt: skip


def error_queryset(user: Any, *, whole: bool = False) -> QuerySet[ErrorRecord]:
    errors = access.visible_errors(user).select_related("integration", "flow", "step")
    return errors if whole else errors.only(*LIST_COLUMNS)


def attach_raw_where_cut(errors: list[ErrorRecord]) -> None:
    """Celigo's whole object for the (rare) errors with a full bounded column, in one query, so the list
    returns those values whole without reading ``raw`` for every row."""
    cut = [error for error in errors if any(error.is_cut(name) for name in WHOLE_VALUES)]
    if cut:
        raws = dict(ErrorRecord.objects.filter(pk__in=[e.pk for e in cut]).values_list("pk", "raw"))
        for error in cut:
            error.raw = raws.get(error.pk, {})


def attach_tag_names(errors: list[ErrorRecord]) -> None:
    """Each error's tag names in one query (``prefetch_related`` makes a queryset per error: 25 ms a page)."""
    names: dict[int, list[str]] = {error.pk: [] for error in errors}
    pairs = ErrorRecord.tags.through.objects.filter(errorrecord_id__in=list(names))
    for error_id, name in pairs.values_list("errorrecord_id", "tag__name"):
        names[error_id].append(name)
    for error in errors:
        setattr(error, TAG_NAMES, names[error.pk])


class ErrorViewSet(viewsets.ReadOnlyModelViewSet[ErrorRecord]):
    """Errors the caller may see, filtered by the error list's filters (``ErrorFilter``)."""

    queryset = ErrorRecord.objects.none()  # replaced per request by the caller's visible errors
    serializer_class = ErrorSerializer
    filterset_class = ErrorFilter
    pagination_class = KeysetCursorPagination
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[ErrorRecord]:
        return error_queryset(self.request.user, whole=self.action == "retrieve")

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return ErrorDetailSerializer if self.action == "retrieve" else ErrorSerializer

    def get_object(self) -> ErrorRecord:
        return access.get_error_for_user(self.request.user, self.kwargs["pk"], base=self.get_queryset())

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        attach_tag_names(page or [])
        attach_raw_where_cut(page or [])
        return page

    @extend_schema(responses=ActivitySerializer(many=True))
    @action(detail=True, pagination_class=KeysetCursorPagination, filterset_class=None)
    def activity(self, request: Request, pk: str) -> Response:
        error = access.get_error_for_user(request.user, pk)
        entries = Activity.objects.filter(error=error).select_related("actor").order_by("-created_at", "-id")
        return paginated(request, entries, ActivitySerializer)

    @extend_schema(methods=["GET"], responses=RetryDataSerializer)
    @extend_schema(
        methods=["PUT"],
        request=RetryDataSerializer,
        responses=inline_serializer(
            "RetryDataEdited",
            {"diff": serializers.CharField(), "retry_batch": serializers.IntegerField(allow_null=True)},
        ),
    )
    @action(detail=True, methods=["get", "put"], url_path="retry-data", filterset_class=None)
    def retry_data(self, request: Request, pk: str) -> Response:
        write = request.method == "PUT"
        error = access.get_error_for_user(
            request.user, pk, write=write, base=ErrorRecord.objects.select_related("account")
        )
        if not write:
            if not error.retry_data_key:
                raise NotFound("This error has no retry data key: Celigo cannot retry it.")
            try:
                with celigo_client(error) as client:
                    found = client.get_retry_data(
                        error.celigo_flow_id, error.celigo_step_id, error.retry_data_key
                    )
            except celigo_api.CeligoError as exc:
                raise celigo_problem(exc, "retry data") from exc
            return Response({"data": found.data})
        edit = RetryDataSerializer(data=request.data)
        edit.is_valid(raise_exception=True)
        try:
            diff, batch = do_edit_retry_data(
                request.user,
                error,
                edit.validated_data["data"],
                expected_before=edit.validated_data.get("expected_before"),
                then_retry=edit.validated_data["retry"],
            )
        except ActionRejected as exc:
            raise rejected(exc, "data") from exc
        except celigo_api.CeligoError as exc:
            raise celigo_problem(exc, "retry data") from exc
        return Response({"diff": diff, "retry_batch": batch.pk if batch else None})

    @extend_schema(
        responses=inline_serializer(
            "HttpLog", {"request": serializers.JSONField(), "response": serializers.JSONField()}
        )
    )
    @action(detail=True, url_path="http-log", filterset_class=None)
    def http_log(self, request: Request, pk: str) -> Response:
        error = access.get_error_for_user(
            request.user, pk, base=ErrorRecord.objects.select_related("account")
        )
        if not error.req_and_res_key:
            raise NotFound("Celigo logged no HTTP request for this error.")
        try:
            with celigo_client(error) as client:
                exchange = client.get_request_log(
                    error.celigo_flow_id, error.celigo_step_id, error.req_and_res_key
                )
        except celigo_api.CeligoError as exc:
            raise celigo_problem(exc, "HTTP request log") from exc
        return Response({"request": exchange.raw.get("request"), "response": exchange.raw.get("response")})


def celigo_client(error: ErrorRecord) -> celigo_api.CeligoClient:
    return client_for(error.account, max_wait=WEB_MAX_WAIT_SECONDS, timeout=CELIGO_TIMEOUT_SECONDS)
