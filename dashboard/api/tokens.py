"""``/api/v1/tokens/``: a person's API tokens (admins: everyone's); the secret is in the creation's answer
only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard import access
from dashboard.actions.tokens import (
    MAX_EXPIRY_DAYS,
    TokenRejected,
    do_create_token,
    do_revoke_token,
    expiry_in,
)
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination
from dashboard.models import ApiToken, TokenScope


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    expires_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        help_text="Expire after N days.",
    )
    state = serializers.CharField(read_only=True, help_text="active, expired or revoked")

    class Meta:
        model = ApiToken
        fields = [
            "id", "user", "name", "prefix", "scope", "state", "created_at", "expires_at", "expires_days",
            "last_used_at", "revoked_at",
        ]  # fmt: skip
        read_only_fields = ["id", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
        extra_kwargs = {"scope": {"default": TokenScope.READ}}


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret: shown this once, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """Create a token for yourself (the answer holds its secret, once); DELETE revokes one."""

    queryset = ApiToken.objects.none()
    serializer_class = TokenSerializer
    pagination_class = KeysetCursorPagination
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[ApiToken]:
        return access.visible_api_tokens(self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=TokenSerializer, responses={201: NewTokenSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        asked = TokenSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        data = asked.validated_data
        try:
            token, secret = do_create_token(
                request.user,
                request.user,
                scope=data["scope"],
                name=data.get("name", ""),
                expires_at=expiry_in(data.get("expires_days")),
            )
        except TokenRejected as exc:
            raise ValidationError({exc.field: [exc.reason]}) from exc
        answer = NewTokenSerializer(token).data | {"token": secret}
        return Response(answer, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        do_revoke_token(self.request.user, instance)
