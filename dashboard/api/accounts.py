"""``/api/v1/accounts/`` (Celigo accounts; the token is write-only) and ``/api/v1/sync-runs/``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.accounts.connect import TokenCheckFailed, add_account
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination
from dashboard.api.permissions import CanActOrReadOnly, CanManagePeopleOrReadOnly
from dashboard.celery import enqueue
from dashboard.models import CeligoAccount, Region, SyncRun

SYNC_TASK = "dashboard.sync_account"
TOKEN_MAX_LENGTH = 500
SETTINGS = [
    "sandbox", "rate_burst", "rate_per_second", "sync_interval_seconds", "full_sync_interval_hours",
    "metadata_interval_minutes", "mirror_assignments", "mirror_tags", "tag_variant", "enabled",
]  # fmt: skip


class AccountSerializer(serializers.ModelSerializer[CeligoAccount]):
    token = serializers.CharField(
        write_only=True,
        required=False,
        max_length=TOKEN_MAX_LENGTH,
        help_text="The Celigo API token: checked with Celigo, stored encrypted, never returned.",
    )
    region = serializers.ChoiceField(choices=Region.choices, required=False, allow_blank=True)

    class Meta:
        model = CeligoAccount
        fields = [
            "id", "name", "region", "base_url", "token", "token_last4", *SETTINGS, "status",
            "status_message", "status_changed_at", "last_full_sync_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "token_last4", "status", "status_message", "status_changed_at", "last_full_sync_at",
            "created_at",
        ]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account = self.instance
        if account is None and not attrs.get("token"):
            raise ValidationError({"token": ["A new account needs its Celigo API token."]})
        moved = account is not None and (
            attrs.get("region", account.region) != account.region
            or attrs.get("base_url", account.base_url) != account.base_url
        )
        if moved and not attrs.get("token"):
            # A token is never sent to a host its owner did not type it for.
            raise ValidationError(
                {"token": ["Moving an account to another region or URL needs its token again."]}
            )
        return attrs


class AccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[CeligoAccount],
):
    """Everyone reads the accounts; admins connect and configure them. Accounts are never deleted here."""

    queryset = CeligoAccount.objects.none()
    serializer_class = AccountSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [*viewsets.GenericViewSet.permission_classes, CanManagePeopleOrReadOnly]
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[CeligoAccount]:
        return CeligoAccount.objects.order_by("name", "id")

    def get_permissions(self) -> list[Any]:
        if self.action == "sync":  # asking for a sync is acting, not managing the account
            return [*super().get_permissions()[:-1], CanActOrReadOnly()]
        return list(super().get_permissions())

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        token = data.pop("token")
        name = data.pop("name")
        region, base_url = data.pop("region", "") or None, data.pop("base_url", "") or None
        try:
            serializer.instance = add_account(name, token, region=region, base_url=base_url, **data)
        except TokenCheckFailed as exc:
            raise ValidationError({"token": [str(exc)]}) from exc
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        account: Any = serializer.instance
        data = dict(serializer.validated_data)
        token = data.pop("token", None)
        for field, value in data.items():
            setattr(account, field, value)
        if token:
            account.token = token
        account.save()

    @extend_schema(
        request=None,
        responses={202: inline_serializer("SyncQueued", {"queued": serializers.BooleanField()})},
    )
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, pk: str) -> Response:
        """Queue a sync of the account now (pending actions are pushed first, then errors pulled)."""
        account = self.get_object()
        enqueue(SYNC_TASK, account.pk)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class SyncRunSerializer(serializers.ModelSerializer[SyncRun]):
    class Meta:
        model = SyncRun
        fields = [
            "id", "account", "kind", "started_at", "finished_at", "outcome", "metadata_refreshed",
            "api_calls", "rate_limited", "steps_pulled", "errors_new", "errors_updated", "errors_closed",
            "errors_purged", "errors_malformed", "notes", "failure_message",
        ]  # fmt: skip
        read_only_fields = fields


class SyncRunViewSet(viewsets.ReadOnlyModelViewSet[SyncRun]):
    """Every sync's record: when, what it cost in Celigo calls, what it found, how it ended."""

    queryset = SyncRun.objects.none()
    serializer_class = SyncRunSerializer
    pagination_class = KeysetCursorPagination
    filterset_fields = ["account", "outcome", "kind"]
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[SyncRun]:
        return SyncRun.objects.order_by("-started_at", "-id")
